//! A recorded track's RTP packets through the recording pieces: `Reorder`, VP8 and Opus
//! depacketizing in `FrameAssembler`, the payload parsers, and the WebM muxer.
//!
//! The input is a packet stream: a header byte (bit 0: VP8 or Opus; the rest: the reorder
//! window of a separate `Reorder`), then packets of `[sequence step: i8, timestamp step:
//! u16 BE, flags (bit 0: marker), length: u8, payload]`.
//!
//! Properties: no panic; `Reorder` delivers every packet once or drops it (never twice), in
//! strictly increasing sequence order; the assembler's timeline never goes backwards and
//! ends no earlier than its last frame; a VP8 recording starts at a keyframe and every frame
//! called a keyframe is one; the frames mux into a WebM file that starts with the EBML
//! magic.

use std::io::Cursor;

use caucus_record::{
    Codec, FrameAssembler, Ordered, Reorder, RtpPacket, TrackSpec, WebmWriter, opus, vp8,
};

pub fn run(data: &[u8]) {
    let Some((&header, mut rest)) = data.split_first() else {
        return;
    };
    let codec = if header & 1 == 0 {
        Codec::Vp8
    } else {
        Codec::Opus
    };
    let window = usize::from(header >> 1);
    let mut packets = Vec::new();
    let (mut seq, mut timestamp) = (1u64 << 20, 0u32);
    while rest.len() >= 5 {
        let step = i64::from(rest[0] as i8);
        let ts_step = u16::from_be_bytes([rest[1], rest[2]]);
        let marker = rest[3] & 1 != 0;
        let len = usize::from(rest[4]).min(rest.len() - 5);
        let payload = rest[5..5 + len].to_vec();
        rest = &rest[5 + len..];
        seq = seq.saturating_add_signed(step);
        timestamp = timestamp.wrapping_add(u32::from(ts_step));
        parsers(&payload);
        packets.push(RtpPacket {
            seq,
            timestamp,
            marker,
            payload,
        });
    }
    reorder(window, &packets);
    record(codec, packets);
}

fn parsers(payload: &[u8]) {
    if let Some(d) = vp8::parse_descriptor(payload) {
        assert!(d.len >= 1 && d.len <= payload.len() && d.len <= 6, "{d:?}");
        let frame = &payload[d.len..];
        assert_eq!(vp8::keyframe_size(frame).is_some(), vp8::is_keyframe(frame));
    }
    if let Some(samples) = opus::packet_samples(payload) {
        assert!(samples > 0 && samples <= 5760);
    }
    assert_eq!(opus::channels(payload).is_some(), !payload.is_empty());
}

fn reorder(window: usize, packets: &[RtpPacket]) {
    let mut reorder = Reorder::new(window);
    let mut out = Vec::new();
    for p in packets {
        reorder.push(p.clone(), &mut out);
    }
    reorder.flush(&mut out);
    let delivered: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Ordered::Packet(p) => Some(p.seq),
            Ordered::Gap => None,
        })
        .collect();
    assert!(
        delivered.windows(2).all(|w| w[0] < w[1]),
        "out of order: {delivered:?}"
    );
    assert_eq!(
        delivered.len() as u64 + reorder.dropped(),
        packets.len() as u64,
        "a packet was lost or delivered twice"
    );
}

fn record(codec: Codec, packets: Vec<RtpPacket>) {
    let mut assembler = FrameAssembler::new(codec);
    let mut frames = Vec::new();
    for p in packets {
        assembler.push(p, &mut frames);
    }
    assembler.finish(&mut frames);
    assert!(
        frames.windows(2).all(|w| w[0].time_ms <= w[1].time_ms),
        "the timeline went backwards"
    );
    if let Some(last) = frames.last() {
        assert!(assembler.end_ms() >= last.time_ms);
    }
    if codec == Codec::Vp8 {
        if let Some(first) = frames.first() {
            assert!(first.keyframe, "a VP8 recording starts at a keyframe");
        }
        for f in &frames {
            assert_eq!(f.keyframe, vp8::is_keyframe(&f.data));
        }
    }
    let Some(spec) = frames
        .first()
        .and_then(|f| TrackSpec::for_first_frame(codec, f))
    else {
        return;
    };
    let mut writer = WebmWriter::new(Cursor::new(Vec::new()), spec, 1).expect("a WebM header");
    for f in &frames {
        writer
            .write_frame(f.time_ms, f.keyframe, &f.data)
            .expect("frames in time order mux");
    }
    let (file, summary) = writer.finish(assembler.end_ms()).expect("a WebM file");
    assert_eq!(summary.frames, frames.len() as u64);
    assert!(file.into_inner().starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
}
