//! Reading the local ICE ufrag out of a STUN binding request, without trusting it.

/// The server-side ufrag of a STUN binding request: the part of `USERNAME` before `:`.
///
/// RFC 8445 §7.2.2: the client sends `USERNAME = <server ufrag>:<client ufrag>`, so the
/// first half names the server-side `Rtc` (the peer) even before we know the client's
/// address. Returns `None` for anything that is not a well-formed binding request with a
/// `USERNAME`. This only routes the datagram; str0m checks `MESSAGE-INTEGRITY` afterwards.
pub(crate) fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    const HEADER_LEN: usize = 20;
    const BINDING_REQUEST: u16 = 0x0001;
    const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    const USERNAME: u16 = 0x0006;

    let header = datagram.get(..HEADER_LEN)?;
    if u16::from_be_bytes([header[0], header[1]]) != BINDING_REQUEST || header[4..8] != MAGIC_COOKIE
    {
        return None;
    }
    let body_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut attrs = datagram.get(HEADER_LEN..HEADER_LEN.checked_add(body_len)?)?;

    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + len)?;
        if kind == USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            let (local, _remote) = username.split_once(':')?;
            return (!local.is_empty()).then_some(local);
        }
        // Attribute values are padded to a multiple of four bytes.
        let padded = (4 + len).checked_next_multiple_of(4)?;
        attrs = attrs.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::local_ufrag;
    use proptest::prelude::*;

    fn binding_request(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_server_half_of_username() {
        let msg = binding_request(&[(0x0024, &[0, 0, 0, 1]), (0x0006, b"srv1:cli2")]);
        assert_eq!(local_ufrag(&msg), Some("srv1"));
    }

    #[test]
    fn padded_attributes_before_username_are_skipped() {
        let msg = binding_request(&[(0x8022, b"abcde"), (0x0006, b"s:c")]);
        assert_eq!(local_ufrag(&msg), Some("s"));
    }

    #[test]
    fn rejects_non_requests_and_missing_parts() {
        let mut response = binding_request(&[(0x0006, b"s:c")]);
        response[0] = 0x01; // 0x0101 = binding success response
        assert_eq!(local_ufrag(&response), None);
        assert_eq!(local_ufrag(&binding_request(&[(0x0006, b"nocolon")])), None);
        assert_eq!(local_ufrag(&binding_request(&[(0x0006, b":c")])), None);
        assert_eq!(local_ufrag(&binding_request(&[])), None);
        let truncated = binding_request(&[(0x0006, b"s:c")]);
        assert_eq!(local_ufrag(&truncated[..truncated.len() - 2]), None);
        assert_eq!(local_ufrag(&[]), None);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = local_ufrag(&bytes);
        }

        #[test]
        fn never_panics_on_mangled_requests(
            ufrag in "[a-zA-Z0-9+/]{1,32}",
            cut in 0usize..80,
            flip in 0usize..80,
        ) {
            let username = format!("{ufrag}:x");
            let mut msg = binding_request(&[(0x0006, username.as_bytes())]);
            prop_assert_eq!(local_ufrag(&msg), Some(ufrag.as_str()));
            if flip < msg.len() { msg[flip] ^= 0xff; }
            msg.truncate(cut.min(msg.len()));
            let _ = local_ufrag(&msg);
        }
    }
}
