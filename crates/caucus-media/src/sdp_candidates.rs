//! The server's candidates in every media section of the SDP it sends.
//!
//! str0m writes the candidates only in the first section of the BUNDLE group, which is all
//! a bundling client needs. Other stacks read them per section (aiortc looks at the section
//! of the transport it is gathering for) and wait for candidates that never come. An
//! ICE-lite server knows all its candidates up front, so every section that carries a
//! transport gets the same list and `a=end-of-candidates` (RFC 8840): nothing is left to
//! trickle, and no stack waits.

/// `sdp` with the candidate lines of any section copied into every section that has none,
/// and `a=end-of-candidates` closing each. Rejected sections (port 0) are left alone.
pub(crate) fn spread_candidates(sdp: &str) -> String {
    let lines: Vec<&str> = sdp.lines().collect();
    let mut candidates: Vec<&str> = Vec::new();
    for line in &lines {
        if line.starts_with("a=candidate:") && !candidates.contains(line) {
            candidates.push(line);
        }
    }
    let mut out = String::with_capacity(sdp.len() + 256);
    let mut section: Vec<&str> = Vec::new();
    for line in lines {
        if line.starts_with("m=") {
            write_section(&mut out, &section, &candidates);
            section.clear();
        }
        section.push(line);
    }
    write_section(&mut out, &section, &candidates);
    out
}

fn write_section(out: &mut String, section: &[&str], candidates: &[&str]) {
    let mut push = |line: &str| {
        out.push_str(line);
        out.push_str("\r\n");
    };
    for line in section {
        push(line);
    }
    let Some(m_line) = section.first().filter(|l| l.starts_with("m=")) else {
        return; // the session part
    };
    if m_line.split(' ').nth(1) == Some("0") || candidates.is_empty() {
        return;
    }
    if !section.iter().any(|l| l.starts_with("a=candidate:")) {
        for c in candidates {
            push(c);
        }
    }
    if !section.contains(&"a=end-of-candidates") {
        push("a=end-of-candidates");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLED: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
        a=candidate:1 1 udp 2130706175 192.0.2.1 7882 typ host\r\n\
        a=candidate:2 1 tcp 1518280447 192.0.2.1 7881 typ host tcptype passive\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n";

    fn sections(sdp: &str) -> Vec<String> {
        sdp.split("m=").skip(1).map(str::to_owned).collect()
    }

    #[test]
    fn every_live_section_gets_the_candidates_and_their_end() {
        let out = spread_candidates(BUNDLED);
        let s = sections(&out);
        for live in &s[..2] {
            assert!(live.contains("192.0.2.1 7882 typ host"), "{live}");
            assert!(live.contains("tcptype passive"), "{live}");
            assert_eq!(live.matches("a=candidate:").count(), 2, "{live}");
            assert!(live.ends_with("a=end-of-candidates\r\n"), "{live}");
        }
        assert!(!s[2].contains("a=candidate"), "rejected sections stay bare");
        assert!(out.starts_with("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"));
    }

    #[test]
    fn applying_it_twice_changes_nothing() {
        let once = spread_candidates(BUNDLED);
        assert_eq!(spread_candidates(&once), once);
    }
}
