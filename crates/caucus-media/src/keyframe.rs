//! Recognising keyframes (and the picture size they carry) in RTP payloads, without
//! depacketizing: a look at the first bytes of one packet.

use str0m::format::Codec;

/// What the first bytes of a video payload say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FrameInfo {
    /// `Some(true)`: the packet starts a keyframe; `Some(false)`: it does not;
    /// `None`: the codec is not one the engine can read.
    pub(crate) keyframe: Option<bool>,
    /// The picture size, when the packet is a keyframe start that states it (VP8).
    pub(crate) size: Option<(u16, u16)>,
}

pub(crate) fn inspect(codec: Codec, payload: &[u8]) -> FrameInfo {
    match codec {
        Codec::Vp8 => vp8(payload),
        Codec::Vp9 => FrameInfo {
            keyframe: Some(vp9_keyframe_start(payload)),
            size: None,
        },
        Codec::H264 => FrameInfo {
            keyframe: Some(h264_keyframe_start(payload)),
            size: None,
        },
        _ => FrameInfo::default(),
    }
}

/// VP8 (RFC 7741): payload descriptor, then on the first packet of a frame (S=1, PID=0)
/// the frame tag whose lowest bit P is 0 on a keyframe, followed by the start code
/// `9d 01 2a` and the 14-bit width and height.
fn vp8(payload: &[u8]) -> FrameInfo {
    let not_key = FrameInfo {
        keyframe: Some(false),
        size: None,
    };
    let Some(&descriptor) = payload.first() else {
        return not_key;
    };
    let start = descriptor & 0x10 != 0;
    let pid = descriptor & 0x07;
    if !start || pid != 0 {
        return not_key;
    }
    let mut at = 1;
    if descriptor & 0x80 != 0 {
        let Some(&ext) = payload.get(at) else {
            return not_key;
        };
        at += 1;
        if ext & 0x80 != 0 {
            // PictureID: 7 or 15 bits (M bit).
            let long = payload.get(at).is_some_and(|b| b & 0x80 != 0);
            at += if long { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // TID / Y / KEYIDX
        }
    }
    let Some(header) = payload.get(at..) else {
        return not_key;
    };
    let Some(&tag) = header.first() else {
        return not_key;
    };
    if tag & 0x01 != 0 {
        return not_key;
    }
    let size = match header.get(3..10) {
        Some([0x9d, 0x01, 0x2a, w0, w1, h0, h1]) => Some((
            u16::from_le_bytes([*w0, *w1]) & 0x3fff,
            u16::from_le_bytes([*h0, *h1]) & 0x3fff,
        )),
        _ => None,
    };
    FrameInfo {
        keyframe: Some(true),
        size,
    }
}

/// VP9 (RFC 9628): B=1 (start of frame) and P=0 (not inter-predicted).
fn vp9_keyframe_start(payload: &[u8]) -> bool {
    payload
        .first()
        .is_some_and(|d| d & 0x08 != 0 && d & 0x40 == 0)
}

/// H.264 (RFC 6184): an IDR slice or SPS as a single NAL unit, inside a STAP-A, or
/// starting a FU-A.
fn h264_keyframe_start(payload: &[u8]) -> bool {
    const IDR: u8 = 5;
    const SPS: u8 = 7;
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        IDR | SPS => true,
        24 => {
            let mut at = 1;
            while let Some(len) = payload.get(at..at + 2) {
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let Some(&nal) = payload.get(at + 2) else {
                    return false;
                };
                if matches!(nal & 0x1f, IDR | SPS) {
                    return true;
                }
                at += 2 + len;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && fu & 0x1f == IDR),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframe_with_size_and_delta_frames() {
        // Descriptor S=1, tag P=0, start code, 640x360.
        let key = [
            0x10, 0x00, 0x08, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01, 0xaa,
        ];
        assert_eq!(
            inspect(Codec::Vp8, &key),
            FrameInfo {
                keyframe: Some(true),
                size: Some((640, 360))
            }
        );
        let delta = [0x10, 0x01, 0x08, 0x00, 0xaa];
        assert_eq!(inspect(Codec::Vp8, &delta).keyframe, Some(false));
        let middle = [0x00, 0xaa, 0xbb];
        assert_eq!(inspect(Codec::Vp8, &middle).keyframe, Some(false));
        // Extended descriptor with a 15-bit picture id.
        let ext = [
            0x90, 0x80, 0x81, 0x23, 0x00, 0x08, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00,
        ];
        assert_eq!(inspect(Codec::Vp8, &ext).size, Some((320, 180)));
        assert_eq!(inspect(Codec::Opus, &key).keyframe, None);
    }

    #[test]
    fn h264_idr_in_every_packetization() {
        assert!(h264_keyframe_start(&[0x65, 0x88]));
        assert!(!h264_keyframe_start(&[0x41, 0x9a]));
        assert!(h264_keyframe_start(&[
            0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68
        ]));
        assert!(h264_keyframe_start(&[0x7c, 0x85, 0x88]));
        assert!(!h264_keyframe_start(&[0x7c, 0x05, 0x88]));
    }
}
