//! Which characters a name people read may hold: display names, breakout room names, room and
//! template names. One rule, here, so that the session, the templates and the REST API refuse
//! the same things.
//!
//! Refused: control characters (NUL, escape — terminal escape sequences start with it —, C1
//! controls, line breaks), the line and paragraph separators, and the bidirectional formatting
//! characters — embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the
//! left-to-right and right-to-left marks (U+200E, U+200F) and the Arabic letter mark (U+061C).
//! Those make a name display as something else than it is (`Ana\u{202e}nimda` shows as
//! "Anaadmin") in every other peer's list, a log line or a terminal. Right-to-left scripts
//! themselves are fine: their direction comes from the letters, not from these marks.

/// Whether `c` may appear in a name.
pub fn allowed_in_name(c: char) -> bool {
    !(c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// Whether every character of `name` may appear in a name.
pub fn is_printable_name(name: &str) -> bool {
    name.chars().all(allowed_in_name)
}

/// The explicit directional formatting characters of Unicode's bidirectional algorithm.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_script_are_printable() {
        for name in [
            "Ana",
            "Zoë Ōtsuka",
            "محمد",
            "שרה",
            "王芳",
            "Ana 🎉",
            "O'Brien-Smith",
        ] {
            assert!(is_printable_name(name), "{name}");
        }
    }

    #[test]
    fn controls_separators_and_bidi_formatting_are_refused() {
        let refused = [
            "a\0b",
            "\u{1b}[31mred",
            "tab\there",
            "line\nbreak",
            "c1\u{85}",
            "del\u{7f}",
            "sep\u{2028}",
            "para\u{2029}",
            "Ana\u{202e}nimda",
            "\u{202a}x",
            "\u{202b}x",
            "\u{202c}x",
            "\u{202d}x",
            "\u{2066}x",
            "\u{2067}x",
            "\u{2068}x",
            "\u{2069}x",
            "\u{200e}x",
            "\u{200f}x",
            "\u{061c}x",
        ];
        for name in refused {
            assert!(!is_printable_name(name), "{name:?}");
        }
    }
}
