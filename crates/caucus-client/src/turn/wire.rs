//! The STUN messages a TURN client sends and reads (RFC 8489, RFC 8656), and ChannelData.
//!
//! Only what the client needs: requests and indications are built here; answers are parsed
//! into their attributes with every length checked, so a short, long or garbled datagram is an
//! error value, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

pub(crate) const MAGIC: u32 = 0x2112_A442;
const HEADER: usize = 20;

// Methods.
pub(crate) const ALLOCATE: u16 = 0x003;
pub(crate) const REFRESH: u16 = 0x004;
pub(crate) const SEND: u16 = 0x006;
pub(crate) const DATA: u16 = 0x007;
pub(crate) const CREATE_PERMISSION: u16 = 0x008;
pub(crate) const CHANNEL_BIND: u16 = 0x009;

// Classes (the C1 C0 bits in place).
pub(crate) const REQUEST: u16 = 0x000;
pub(crate) const INDICATION: u16 = 0x010;
pub(crate) const SUCCESS: u16 = 0x100;
pub(crate) const ERROR: u16 = 0x110;

// Attributes.
pub(crate) const USERNAME: u16 = 0x0006;
pub(crate) const MESSAGE_INTEGRITY: u16 = 0x0008;
pub(crate) const ERROR_CODE: u16 = 0x0009;
pub(crate) const CHANNEL_NUMBER: u16 = 0x000C;
pub(crate) const LIFETIME: u16 = 0x000D;
pub(crate) const XOR_PEER_ADDRESS: u16 = 0x0012;
pub(crate) const DATA_ATTR: u16 = 0x0013;
pub(crate) const REALM: u16 = 0x0014;
pub(crate) const NONCE: u16 = 0x0015;
pub(crate) const XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub(crate) const REQUESTED_TRANSPORT: u16 = 0x0019;
pub(crate) const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// REQUESTED-TRANSPORT's protocol number for UDP.
pub(crate) const UDP: u8 = 17;

/// The long-term credential key: MD5(username ":" realm ":" password) (RFC 8489 §9.2.2).
pub(crate) fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(format!("{username}:{realm}:{password}").as_bytes());
    md5.finalize().into()
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
        return [0; 20];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A STUN message under construction.
pub(crate) struct Builder {
    buf: Vec<u8>,
    transaction: [u8; 12],
}

impl Builder {
    pub(crate) fn new(method: u16, class: u16, transaction: [u8; 12]) -> Builder {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&(method | class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.extend_from_slice(&transaction);
        Builder { buf, transaction }
    }

    /// Appends an attribute, padded to 4 bytes. Values longer than 64 KiB cannot be encoded
    /// and are the caller's bug; they are cut (a datagram never carries one).
    pub(crate) fn attr(mut self, kind: u16, value: &[u8]) -> Builder {
        let value = &value[..value.len().min(usize::from(u16::MAX) - 4)];
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        self.buf
            .resize(self.buf.len() + (4 - value.len() % 4) % 4, 0);
        self
    }

    pub(crate) fn u32(self, kind: u16, value: u32) -> Builder {
        self.attr(kind, &value.to_be_bytes())
    }

    pub(crate) fn xor_address(self, kind: u16, addr: SocketAddr) -> Builder {
        let value = xor_address(addr, &self.transaction);
        self.attr(kind, &value)
    }

    /// The message, with MESSAGE-INTEGRITY when `key` is given.
    pub(crate) fn finish(mut self, key: Option<&[u8]>) -> Vec<u8> {
        if let Some(key) = key {
            // The length counts the integrity attribute (24 bytes) it is computed without.
            let len = self.buf.len() - HEADER + 24;
            set_length(&mut self.buf, len);
            let mac = hmac_sha1(key, &[&self.buf]);
            self.buf.extend_from_slice(&MESSAGE_INTEGRITY.to_be_bytes());
            self.buf.extend_from_slice(&20u16.to_be_bytes());
            self.buf.extend_from_slice(&mac);
        }
        let len = self.buf.len() - HEADER;
        set_length(&mut self.buf, len);
        self.buf
    }
}

fn set_length(buf: &mut [u8], len: usize) {
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    buf[2] = len[0];
    buf[3] = len[1];
}

fn xor_address(addr: SocketAddr, transaction: &[u8; 12]) -> Vec<u8> {
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    let mut out = Vec::with_capacity(20);
    out.push(0);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(1);
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(&(u32::from(ip) ^ MAGIC).to_be_bytes());
        }
        IpAddr::V6(ip) => {
            out.push(2);
            out.extend_from_slice(&port.to_be_bytes());
            let mut mask = [0u8; 16];
            mask[..4].copy_from_slice(&MAGIC.to_be_bytes());
            mask[4..].copy_from_slice(transaction);
            out.extend(ip.octets().iter().zip(mask).map(|(a, m)| a ^ m));
        }
    }
    out
}

/// A STUN message read from the wire.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub(crate) method: u16,
    pub(crate) class: u16,
    pub(crate) transaction: [u8; 12],
    /// Attributes in order, up to MESSAGE-INTEGRITY (what follows it, but FINGERPRINT, is not
    /// covered by it and is ignored).
    attrs: Vec<(u16, &'a [u8])>,
    /// Where MESSAGE-INTEGRITY starts, and its value.
    integrity: Option<(usize, &'a [u8])>,
    raw: &'a [u8],
}

/// Whether `bytes` starts like a STUN message (RFC 7983 demultiplexing: first byte 0..3 and
/// the magic cookie).
pub(crate) fn is_stun(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER && bytes[0] < 4 && bytes[4..8] == MAGIC.to_be_bytes()
}

/// Whether `bytes` starts like ChannelData (first byte 0x40..0x4F, RFC 8656 §12).
pub(crate) fn is_channel_data(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && (0x40..=0x4F).contains(&bytes[0])
}

/// The length of the next whole STUN or ChannelData frame at the start of a TCP stream's
/// buffer (ChannelData padded to 4 bytes, RFC 8656 §12.5), `None` while incomplete, or an
/// error for bytes that are neither.
pub(crate) fn frame_len(bytes: &[u8]) -> Result<Option<usize>, String> {
    if bytes.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    let total = match bytes[0] {
        0..=3 => HEADER + len,
        0x40..=0x4F => 4 + len.div_ceil(4) * 4,
        other => {
            return Err(format!(
                "neither STUN nor ChannelData (first byte {other:#04x})"
            ));
        }
    };
    Ok((bytes.len() >= total).then_some(total))
}

impl<'a> Message<'a> {
    pub(crate) fn parse(raw: &'a [u8]) -> Result<Message<'a>, String> {
        if !is_stun(raw) {
            return Err("not a STUN message".into());
        }
        let kind = u16::from_be_bytes([raw[0], raw[1]]);
        let len = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
        if len % 4 != 0 || HEADER + len > raw.len() {
            return Err(format!(
                "STUN length {len} does not fit {} bytes",
                raw.len()
            ));
        }
        let raw = &raw[..HEADER + len];
        let mut transaction = [0u8; 12];
        transaction.copy_from_slice(&raw[8..20]);
        let mut attrs = Vec::new();
        let mut integrity = None;
        let mut at = HEADER;
        while at < raw.len() {
            if at + 4 > raw.len() {
                return Err("truncated attribute header".into());
            }
            let t = u16::from_be_bytes([raw[at], raw[at + 1]]);
            let l = usize::from(u16::from_be_bytes([raw[at + 2], raw[at + 3]]));
            let end = at + 4 + l;
            if end > raw.len() {
                return Err(format!("attribute {t:#06x} overruns the message"));
            }
            let value = &raw[at + 4..end];
            if integrity.is_none() {
                if t == MESSAGE_INTEGRITY {
                    if l != 20 {
                        return Err("MESSAGE-INTEGRITY of the wrong size".into());
                    }
                    integrity = Some((at, value));
                } else {
                    attrs.push((t, value));
                }
            }
            at = end + (4 - l % 4) % 4;
        }
        Ok(Message {
            method: kind & 0x3EEF,
            class: kind & 0x0110,
            transaction,
            attrs,
            integrity,
            raw,
        })
    }

    pub(crate) fn attr(&self, kind: u16) -> Option<&'a [u8]> {
        self.attrs.iter().find(|(t, _)| *t == kind).map(|(_, v)| *v)
    }

    pub(crate) fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Whether MESSAGE-INTEGRITY is present and right for `key`.
    pub(crate) fn integrity_ok(&self, key: &[u8]) -> bool {
        let Some((at, mac)) = self.integrity else {
            return false;
        };
        let mut header = [0u8; 4];
        header.copy_from_slice(&self.raw[..4]);
        let len = u16::try_from(at - HEADER + 24).unwrap_or(u16::MAX);
        header[2..4].copy_from_slice(&len.to_be_bytes());
        let expected = hmac_sha1(key, &[&header, &self.raw[4..at]]);
        // Not secret-dependent timing worth guarding: the answer is only accepted or dropped.
        expected.as_slice() == mac
    }

    pub(crate) fn text(&self, kind: u16) -> Option<String> {
        self.attr(kind)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub(crate) fn u32(&self, kind: u16) -> Option<u32> {
        let v = self.attr(kind)?;
        Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// ERROR-CODE as (code, reason).
    pub(crate) fn error(&self) -> Option<(u16, String)> {
        let v = self.attr(ERROR_CODE)?;
        if v.len() < 4 {
            return None;
        }
        let code = u16::from(v[2] & 0x07) * 100 + u16::from(v[3]);
        Some((code, String::from_utf8_lossy(&v[4..]).into_owned()))
    }

    pub(crate) fn xor_address(&self, kind: u16) -> Option<SocketAddr> {
        let v = self.attr(kind)?;
        if v.len() < 8 {
            return None;
        }
        let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC >> 16) as u16;
        match v[1] {
            1 => {
                let ip = u32::from_be_bytes([v[4], v[5], v[6], v[7]]) ^ MAGIC;
                Some(SocketAddr::new(Ipv4Addr::from(ip).into(), port))
            }
            2 if v.len() >= 20 => {
                let mut mask = [0u8; 16];
                mask[..4].copy_from_slice(&MAGIC.to_be_bytes());
                mask[4..].copy_from_slice(&self.transaction);
                let mut ip = [0u8; 16];
                for (i, b) in ip.iter_mut().enumerate() {
                    *b = v[4 + i] ^ mask[i];
                }
                Some(SocketAddr::new(Ipv6Addr::from(ip).into(), port))
            }
            _ => None,
        }
    }
}

/// A ChannelData message (padded to 4 bytes when `pad`, as over TCP).
pub(crate) fn channel_data(channel: u16, data: &[u8], pad: bool) -> Vec<u8> {
    let len = data.len().min(usize::from(u16::MAX));
    let mut out = Vec::with_capacity(4 + len + 3);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&data[..len]);
    if pad {
        out.resize(out.len() + (4 - len % 4) % 4, 0);
    }
    out
}

/// The channel number and data of a ChannelData message.
pub(crate) fn parse_channel_data(bytes: &[u8]) -> Result<(u16, &[u8]), String> {
    if !is_channel_data(bytes) {
        return Err("not ChannelData".into());
    }
    let channel = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    bytes
        .get(4..4 + len)
        .map(|data| (channel, data))
        .ok_or_else(|| format!("ChannelData of {len} bytes in a {}-byte frame", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_term_key_is_md5_of_user_realm_password() {
        // md5("1733612400:ana:turn.example.org:c2VjcmV0"), computed independently.
        let key = long_term_key("1733612400:ana", "turn.example.org", "c2VjcmV0");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "caabb69273964c96c1db2d6c82d57836");
    }

    #[test]
    fn rfc_5769_ipv4_response_parses_and_its_integrity_checks() {
        // RFC 5769 §2.2: a success response with XOR-MAPPED-ADDRESS 192.0.2.1:32853 and
        // short-term integrity keyed by "VOkJxbRl1RmTxUk/WvJxBt".
        let hex = "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220\
                   002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
                   80280004c07d4c96";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
            .collect();
        let m = Message::parse(&bytes).expect("parses");
        assert_eq!((m.method, m.class), (0x001, SUCCESS));
        assert_eq!(
            m.xor_address(XOR_MAPPED_ADDRESS),
            Some("192.0.2.1:32853".parse().expect("addr"))
        );
        assert!(m.integrity_ok(b"VOkJxbRl1RmTxUk/WvJxBt"));
        assert!(!m.integrity_ok(b"another password"));
    }

    #[test]
    fn built_messages_carry_integrity_a_reader_verifies() {
        let peer: SocketAddr = "[2001:db8::1]:4000".parse().expect("addr");
        let bytes = Builder::new(CREATE_PERMISSION, REQUEST, [7; 12])
            .attr(USERNAME, b"user")
            .xor_address(XOR_PEER_ADDRESS, peer)
            .finish(Some(b"key"));
        let m = Message::parse(&bytes).expect("parses");
        assert_eq!((m.method, m.class), (CREATE_PERMISSION, REQUEST));
        assert_eq!(m.text(USERNAME).as_deref(), Some("user"));
        assert_eq!(m.xor_address(XOR_PEER_ADDRESS), Some(peer));
        assert!(m.integrity_ok(b"key"));
        let mut tampered = bytes.clone();
        tampered[25] ^= 1;
        assert!(
            !Message::parse(&tampered)
                .expect("parses")
                .integrity_ok(b"key")
        );
    }

    #[test]
    fn every_truncation_of_a_message_is_an_error_not_a_panic() {
        let bytes = Builder::new(ALLOCATE, SUCCESS, [1; 12])
            .xor_address(XOR_RELAYED_ADDRESS, "10.0.0.1:5000".parse().expect("addr"))
            .u32(LIFETIME, 600)
            .finish(Some(b"k"));
        for n in 0..bytes.len() {
            let _ = Message::parse(&bytes[..n]);
            let _ = frame_len(&bytes[..n]);
            let _ = parse_channel_data(&bytes[..n]);
        }
        // A length that claims more than is there.
        let mut long = bytes.clone();
        long[3] = 0xFC;
        assert!(Message::parse(&long).is_err());
        // An attribute that overruns the message.
        let mut overrun = bytes.clone();
        overrun[23] = 0xFF;
        assert!(Message::parse(&overrun).is_err());
    }

    #[test]
    fn channel_data_round_trips_and_frames_are_delimited() {
        let framed = channel_data(0x4001, b"hello", true);
        assert_eq!(framed.len(), 12);
        assert_eq!(frame_len(&framed), Ok(Some(12)));
        assert_eq!(frame_len(&framed[..11]), Ok(None));
        assert_eq!(parse_channel_data(&framed), Ok((0x4001, &b"hello"[..])));
        assert!(frame_len(&[0x80, 0, 0, 0]).is_err());
    }
}
