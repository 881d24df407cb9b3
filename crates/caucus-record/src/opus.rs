//! Opus over RTP (RFC 7587): one packet is one frame. What the Matroska codec mapping needs.

/// Samples per second of every Opus stream on the wire.
pub const SAMPLE_RATE: u32 = 48_000;

/// The decoder's pre-skip for the `OpusHead`: 3.75 ms of lookahead at 48 kHz, what libopus
/// encoders report.
pub const PRE_SKIP: u16 = 312;

/// The `OpusHead` identification header (RFC 7845 §5.1) the WebM `CodecPrivate` carries:
/// channel mapping family 0 (mono or stereo).
pub fn opus_head(channels: u8) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(channels.clamp(1, 2));
    head.extend_from_slice(&PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // input sample rate (informational)
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    head
}

/// How many channels a packet's TOC byte says it codes (the `s` bit).
pub fn channels(packet: &[u8]) -> Option<u8> {
    packet
        .first()
        .map(|toc| if toc & 0x04 != 0 { 2 } else { 1 })
}

/// How long a packet plays, in 48 kHz samples, from its TOC byte (RFC 6716 §3.1): the frame
/// size of its configuration times its frame count. `None` for an empty or malformed packet.
pub fn packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in units of 2.5 ms (120 samples).
    let units: u32 = match config {
        0..=11 => [4, 8, 16, 24][usize::from(config % 4)],
        12..=15 => [4, 8][usize::from(config % 2)],
        _ => [1, 2, 4, 8][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let samples = units * 120 * frames;
    // A packet plays at most 120 ms.
    (frames > 0 && samples <= 5760).then_some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_is_the_rfc_7845_layout() {
        let head = opus_head(2);
        assert_eq!(head.len(), 19);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head[8], 1);
        assert_eq!(head[9], 2);
        assert_eq!(u16::from_le_bytes([head[10], head[11]]), PRE_SKIP);
        assert_eq!(
            u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            48_000
        );
        assert_eq!(head[18], 0);
        assert_eq!(opus_head(0)[9], 1, "mono at least");
    }

    #[test]
    fn packet_durations_follow_the_toc() {
        assert_eq!(packet_samples(&[15 << 3]), Some(960), "hybrid FB 20 ms");
        assert_eq!(
            packet_samples(&[(31 << 3) | 1]),
            Some(1920),
            "CELT 20 ms, two frames"
        );
        assert_eq!(packet_samples(&[1 << 3]), Some(960), "SILK NB 20 ms");
        assert_eq!(
            packet_samples(&[(3 << 3) | 3, 2]),
            Some(5760),
            "SILK 60 ms × 2"
        );
        assert_eq!(packet_samples(&[(16 << 3) | 3, 0]), None, "zero frames");
        assert_eq!(packet_samples(&[(3 << 3) | 3, 3]), None, "more than 120 ms");
        assert_eq!(packet_samples(&[]), None);
        assert_eq!(channels(&[0x04]), Some(2));
        assert_eq!(channels(&[0x78]), Some(1));
    }
}
