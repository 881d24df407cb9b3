//! EBML encoding: element ids, sizes and the few value types Matroska uses.

/// Element ids of the Matroska/WebM elements written here (ids keep their marker bits).
pub(crate) mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
    pub const VOID: u32 = 0xEC;
}

/// The size that means "unknown" in 8 bytes: what a Segment says until it is finished.
pub(crate) const UNKNOWN_SIZE_8: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// An element id, as its big-endian bytes without leading zero bytes.
pub(crate) fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

/// A data size as the shortest EBML variable-length integer (all-ones values are reserved).
pub(crate) fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    put_size_fixed(out, size, len);
}

/// A data size in exactly `len` bytes (1..=8), for sizes patched later.
pub(crate) fn put_size_fixed(out: &mut Vec<u8>, size: u64, len: usize) {
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

pub(crate) fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|b| **b == 0).count();
    put_id(out, id);
    put_size(out, (8 - skip) as u64);
    out.extend_from_slice(&bytes[skip..]);
}

/// An unsigned integer always 8 bytes long, so it can be overwritten in place.
pub(crate) fn put_uint_fixed(out: &mut Vec<u8>, id: u32, value: u64) {
    put_id(out, id);
    put_size(out, 8);
    out.extend_from_slice(&value.to_be_bytes());
}

pub(crate) fn put_float(out: &mut Vec<u8>, id: u32, value: f64) {
    put_id(out, id);
    put_size(out, 8);
    out.extend_from_slice(&value.to_be_bytes());
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, id: u32, value: &[u8]) {
    put_id(out, id);
    put_size(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A master element around an already encoded body.
pub(crate) fn put_master(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_bytes(out, id, body);
}

/// A Void element taking exactly `total` bytes (at least 2).
pub(crate) fn put_void(out: &mut Vec<u8>, total: usize) {
    let total = total.max(2);
    // One size byte holds up to 126; beyond that, use 8.
    let size_len = if total - 2 <= 126 { 1 } else { 8 };
    let body = total - 1 - size_len;
    put_id(out, id::VOID);
    put_size_fixed(out, body as u64, size_len);
    out.resize(out.len() + body, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_form_and_avoid_the_reserved_values() {
        let enc = |n| {
            let mut v = Vec::new();
            put_size(&mut v, n);
            v
        };
        assert_eq!(enc(0), [0x80]);
        assert_eq!(enc(126), [0xFE]);
        assert_eq!(enc(127), [0x40, 0x7F], "0xFF would mean unknown");
        assert_eq!(enc(300), [0x41, 0x2C]);
        assert_eq!(enc(16_382), [0x7F, 0xFE]);
        assert_eq!(enc(16_383), [0x20, 0x3F, 0xFF]);
    }

    #[test]
    fn ids_uints_and_voids() {
        let mut v = Vec::new();
        put_uint(&mut v, id::TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(v, [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]);
        let mut v = Vec::new();
        put_uint(&mut v, id::TRACK_NUMBER, 0);
        assert_eq!(v, [0xD7, 0x81, 0x00]);
        for total in [2, 3, 80, 128, 129, 200] {
            let mut v = Vec::new();
            put_void(&mut v, total);
            assert_eq!(v.len(), total, "void of {total}");
            assert_eq!(v[0], 0xEC);
        }
    }
}
