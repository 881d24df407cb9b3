//! The media task's publishing: starting a source on its send m-line, the synthetic
//! generators, and writing their packets into str0m with the right payload type.

use super::*;

impl Task {
    pub(super) fn start(&mut self, source: Source, track: TrackId, muted: bool) -> Result<()> {
        let mid = *self
            .sends
            .get(&source)
            .ok_or(ClientError::NotPublishing(source))?;
        let now = Instant::now();
        let seeds = Seeds::random();
        let mut generators = match source {
            Source::Audio | Source::ScreenAudio => vec![(
                None,
                Generator::audio(self.me, source, self.options.audio, now, seeds),
            )],
            Source::Video if !self.options.simulcast.is_empty() => self
                .options
                .simulcast
                .iter()
                .enumerate()
                .map(|(i, layer)| {
                    let profile = VideoProfile {
                        width: layer.width,
                        height: layer.height,
                        packets_per_frame: layer
                            .packets_per_frame
                            .unwrap_or(self.options.video.packets_per_frame),
                        ..self.options.video
                    };
                    let generator =
                        Generator::video(self.me, source, profile, now, Seeds::random());
                    (Some(i), generator)
                })
                .collect(),
            Source::Video => vec![(
                None,
                Generator::video(self.me, source, self.options.video, now, seeds),
            )],
            Source::Screen => vec![(
                None,
                Generator::video(self.me, source, self.options.screen, now, seeds),
            )],
        };
        self.generators.retain(|(s, _), _| *s != source);
        for (layer, mut generator) in generators.drain(..) {
            generator.set_paused(muted, now);
            self.generators.insert((source, layer), generator);
        }
        self.report.send_modify(|r| {
            r.published.insert(
                source,
                PublishedTrack {
                    track_id: track,
                    mid: mid.to_string(),
                    muted,
                },
            );
        });
        info!(peer = %self.me, %source, %track, %mid, muted, "sending");
        Ok(())
    }

    pub(super) fn run_generators(&mut self, now: Instant) {
        let unix_us = unix_micros();
        let due: Vec<GenKey> = self
            .generators
            .iter()
            .filter(|(_, g)| g.due().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(g) = self.generators.get_mut(&key) else {
                continue;
            };
            let packets = g.poll(now, unix_us);
            let video = g.is_video();
            self.write(now, key, video, packets);
        }
    }

    /// The generators of `source` (one, or one per simulcast layer).
    pub(super) fn generators_of(
        &mut self,
        source: Source,
    ) -> impl Iterator<Item = (&GenKey, &mut Generator)> {
        self.generators
            .iter_mut()
            .filter(move |((s, _), _)| *s == source)
    }

    pub(super) fn write(&mut self, now: Instant, key: GenKey, video: bool, packets: Vec<Packet>) {
        let (source, layer) = key;
        let Some(&mid) = self.sends.get(&source) else {
            return;
        };
        let rid: Option<Rid> = layer
            .and_then(|i| self.options.simulcast.get(i))
            .map(|l| Rid::from(l.rid.as_str()));
        let codec = if video { Codec::Vp8 } else { Codec::Opus };
        let Some(pt) = self.payload_type(mid, codec) else {
            warn!(peer = %self.me, %mid, ?codec, "no payload type negotiated");
            return;
        };
        let ext = ExtensionValues {
            audio_level: (!video).then_some(-30),
            voice_activity: (!video).then_some(true),
            video_content_type: (source == Source::Screen).then_some(1),
            ..ExtensionValues::default()
        };
        let mut stats = SentStats::default();
        for p in packets {
            let mut api = self.rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(mid, rid) else {
                trace!(peer = %self.me, %mid, "no send stream yet");
                return;
            };
            stats.packets += 1;
            stats.bytes += p.payload.len() as u64;
            if p.marker || !video {
                stats.frames += 1;
                stats.keyframes += u64::from(p.keyframe);
            }
            stream.write_rtp(
                RtpWrite::new(pt, p.rtp_seq.into(), p.rtp_time, now, p.payload)
                    .marker(p.marker)
                    .ext_vals(ext.clone())
                    .nackable(video),
            );
            self.drain(now);
        }
        self.report.send_if_modified(|r| {
            let s = r.sent.entry(source).or_default();
            s.packets += stats.packets;
            s.bytes += stats.bytes;
            s.frames += stats.frames;
            s.keyframes += stats.keyframes;
            false
        });
        self.report_dirty = true;
    }

    pub(super) fn payload_type(&self, mid: Mid, codec: Codec) -> Option<Pt> {
        let config = self.rtc.codec_config();
        let negotiated = self.rtc.media(mid).map(|m| m.remote_pts().to_vec());
        negotiated
            .into_iter()
            .flatten()
            .find_map(|pt| config.find(|p| p.pt() == pt && p.spec().codec == codec))
            .or_else(|| config.find(|p| p.spec().codec == codec))
            .map(|p| p.pt())
    }
}
