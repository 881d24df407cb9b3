//! What a client may be shown: a refusal's text never carries the parser's internals.
//!
//! A message that reaches a client (a signaling `error`, a REST envelope, a token refusal)
//! may quote the client's own input, but never a parser's private state: combine's
//! `PointerOffset(0x…)` positions, a `Debug` dump, or a memory address.

/// Panics when `message` is empty or shows something that did not come from `input`.
pub fn assert_clean(message: &str, input: &[u8]) {
    assert!(!message.is_empty(), "an empty refusal message");
    assert_no_internals(message, input);
}

/// Panics when `message` (a message, a field path) shows something that did not come from
/// `input`.
pub fn assert_no_internals(message: &str, input: &[u8]) {
    for internal in ["PointerOffset", "panicked at", "RUST_BACKTRACE"] {
        if message.contains(internal) && !contains(input, internal.as_bytes()) {
            panic!("internal text {internal:?} in a client-visible message: {message:?}");
        }
    }
    for (at, _) in message.match_indices("0x") {
        let digits = message[at + 2..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        let number = &message[at..at + 2 + digits];
        // Eight hex digits or more is an address unless the client sent that number itself.
        if digits >= 8 && !contains(input, number.as_bytes()) {
            panic!("an address {number} in a client-visible message: {message:?}");
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
