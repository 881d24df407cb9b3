//! Simulcast layers of a published track, and which one a subscriber gets.

use std::time::{Duration, Instant};

use str0m::media::Rid;

/// A coarse quality, relative to the layers a publisher actually sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quality {
    /// The lowest layer.
    Low,
    /// The middle layer (of three; the lower of two).
    Medium,
    /// The highest layer.
    High,
}

/// The most a subscriber should receive of one simulcast track
/// ([`Engine::set_max_layer`](crate::Engine::set_max_layer)). Tracks without simulcast
/// ignore it. The default, until a hint is given, is `Quality(High)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaxLayer {
    /// A layer by rank.
    Quality(Quality),
    /// The best layer whose picture fits in this box (for example the subscriber's tile
    /// or its role's `max_width`/`max_height`); the lowest layer if none fits. Layer sizes
    /// come from the keyframes (VP8) or the `a=rid` restrictions; a layer of unknown size
    /// is assumed to be half the size of the next layer up.
    Resolution {
        /// Widest acceptable picture, pixels.
        max_width: u32,
        /// Tallest acceptable picture, pixels.
        max_height: u32,
    },
}

impl Default for MaxLayer {
    fn default() -> Self {
        MaxLayer::Quality(Quality::High)
    }
}

/// One incoming encoding of a track (`rid` is `None` for a track without simulcast).
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) rid: Option<Rid>,
    /// Position in the SDP `a=simulcast` list (or order of appearance).
    order: usize,
    /// Picture size from the last keyframe (or the SDP restriction until then).
    pub(crate) size: Option<(u32, u32)>,
    pub(crate) last_packet: Option<Instant>,
    /// Packets arrived within the engine's `layer_timeout`.
    pub(crate) active: bool,
    window_start: Option<Instant>,
    window_bytes: u64,
    /// Measured payload bitrate, bits per second (over the last full second).
    pub(crate) bitrate: Option<u64>,
    last_keyframe_request: Option<Instant>,
}

impl Layer {
    pub(crate) fn new(rid: Option<Rid>, order: usize, size: Option<(u32, u32)>) -> Self {
        Layer {
            rid,
            order,
            size,
            last_packet: None,
            // Expected until proven otherwise: a layer that has not sent yet counts as
            // active for one `layer_timeout` after the track's first packet, so the
            // first packets of the lowest layer do not win the initial choice.
            active: true,
            window_start: None,
            window_bytes: 0,
            bitrate: None,
            last_keyframe_request: None,
        }
    }

    /// The throttle of keyframe requests for this layer: `true` (and the request is
    /// booked) if none went out within `interval` before `now`.
    pub(crate) fn keyframe_request_due(&mut self, now: Instant, interval: Duration) -> bool {
        if self
            .last_keyframe_request
            .is_some_and(|last| now.saturating_duration_since(last) < interval)
        {
            return false;
        }
        self.last_keyframe_request = Some(now);
        true
    }
}

const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The layers of one track, kept in ascending quality.
#[derive(Debug)]
pub(crate) struct Layers {
    pub(crate) list: Vec<Layer>,
    first_packet: Option<Instant>,
}

impl Layers {
    pub(crate) fn single() -> Self {
        Layers {
            list: vec![Layer::new(None, 0, None)],
            first_packet: None,
        }
    }

    pub(crate) fn simulcast(layers: Vec<(Rid, Option<(u32, u32)>)>) -> Self {
        let mut l = Layers {
            list: layers
                .into_iter()
                .enumerate()
                .map(|(i, (rid, size))| Layer::new(Some(rid), i, size))
                .collect(),
            first_packet: None,
        };
        l.sort();
        l
    }

    pub(crate) fn is_simulcast(&self) -> bool {
        self.list.len() > 1 || self.list.first().is_some_and(|l| l.rid.is_some())
    }

    pub(crate) fn get_mut(&mut self, rid: Option<Rid>) -> Option<&mut Layer> {
        self.list.iter_mut().find(|l| l.rid == rid)
    }

    pub(crate) fn index(&self, rid: Option<Rid>) -> Option<usize> {
        self.list.iter().position(|l| l.rid == rid)
    }

    /// Books one packet. Returns whether the layer set, an order, an activity or a
    /// measured rate changed (the subscribers' choices must be redone).
    pub(crate) fn observe(
        &mut self,
        rid: Option<Rid>,
        now: Instant,
        bytes: usize,
        size: Option<(u16, u16)>,
        timeout: Duration,
    ) -> bool {
        let mut changed = false;
        let first = *self.first_packet.get_or_insert(now);
        if self.index(rid).is_none() {
            // A rid the SDP did not announce (or a plain track that turned out to be
            // simulcast): learn it.
            if self.list.len() == 1
                && self.list[0].rid.is_none()
                && self.list[0].last_packet.is_none()
            {
                self.list.clear();
            }
            let order = self.list.len();
            self.list.push(Layer::new(rid, order, None));
            changed = true;
        }
        for layer in &mut self.list {
            let seen = layer.last_packet.unwrap_or(first);
            if layer.active && layer.rid != rid && now.saturating_duration_since(seen) > timeout {
                layer.active = false;
                changed = true;
            }
        }
        let mut resort = false;
        if let Some(layer) = self.get_mut(rid) {
            if !layer.active {
                layer.active = true;
                changed = true;
            }
            layer.last_packet = Some(now);
            let start = *layer.window_start.get_or_insert(now);
            layer.window_bytes += bytes as u64;
            let elapsed = now.saturating_duration_since(start);
            if elapsed >= RATE_WINDOW {
                let bps = layer.window_bytes * 8 * 1_000_000 / (elapsed.as_micros() as u64).max(1);
                // A new rate matters to choices made within a bandwidth budget.
                changed |= layer.bitrate != Some(bps);
                layer.bitrate = Some(bps);
                layer.window_start = Some(now);
                layer.window_bytes = 0;
            }
            if let Some((w, h)) = size {
                let size = Some((u32::from(w), u32::from(h)));
                if layer.size != size {
                    layer.size = size;
                    resort = true;
                    changed = true; // size hints resolve differently now
                }
            }
        }
        if resort {
            changed |= self.sort();
        }
        changed
    }

    /// Orders the layers: by picture size when every layer's is known, else by the
    /// conventional rid names (`q`<`h`<`f`, `l`<`m`<`h`, trailing digits), else by SDP
    /// order. Returns whether the order changed.
    fn sort(&mut self) -> bool {
        let before: Vec<Option<Rid>> = self.list.iter().map(|l| l.rid).collect();
        if self.list.iter().all(|l| l.size.is_some()) {
            self.list
                .sort_by_key(|l| (l.size.map(|(w, h)| w * h).unwrap_or(0), l.order));
        } else {
            let rids: Vec<Option<Rid>> = before.clone();
            match name_ranks(&rids) {
                Some(ranks) => {
                    let mut ranked: Vec<(u32, Layer)> =
                        ranks.into_iter().zip(self.list.drain(..)).collect();
                    ranked.sort_by_key(|(r, l)| (*r, l.order));
                    self.list = ranked.into_iter().map(|(_, l)| l).collect();
                }
                None => self.list.sort_by_key(|l| l.order),
            }
        }
        self.list.iter().map(|l| l.rid).ne(before)
    }

    /// The layer a subscriber should get: the best active one not above `max` whose
    /// bitrate fits `budget` (if any), else the lowest active one. `current` gets a little
    /// hysteresis: moving up needs 15 % headroom.
    pub(crate) fn choose(
        &self,
        max: MaxLayer,
        budget: Option<u64>,
        current: Option<Option<Rid>>,
    ) -> Option<Rid> {
        let n = self.list.len();
        if n <= 1 {
            return self.list.first().and_then(|l| l.rid);
        }
        let cap = match max {
            MaxLayer::Quality(Quality::Low) => 0,
            MaxLayer::Quality(Quality::Medium) => (n - 1) / 2,
            MaxLayer::Quality(Quality::High) => n - 1,
            MaxLayer::Resolution {
                max_width,
                max_height,
            } => {
                let sizes = self.estimated_sizes();
                (0..n)
                    .rev()
                    .find(|i| sizes[*i].is_none_or(|(w, h)| w <= max_width && h <= max_height))
                    .unwrap_or(0)
            }
        };
        let current_index = current.and_then(|c| self.index(c));
        let any_active = self.list.iter().any(|l| l.active);
        let usable = |i: usize| !any_active || self.list[i].active;
        let fits = |i: usize| match (budget, self.list[i].bitrate) {
            (Some(budget), Some(rate)) => {
                let needed = if current_index.is_some_and(|c| i > c) {
                    with_headroom(rate)
                } else {
                    rate
                };
                needed <= budget
            }
            // Under a budget a layer of unknown cost waits until its rate is measured.
            (Some(_), None) => false,
            (None, _) => true,
        };
        let best = (0..=cap).rev().find(|i| usable(*i) && fits(*i));
        let chosen = best.or_else(|| (0..n).find(|i| usable(*i))).unwrap_or(cap);
        self.list[chosen].rid
    }

    /// The next active layer above `from`, up to and including `to` (by index).
    pub(crate) fn step_up(&self, from: Option<Rid>, to: Option<Rid>) -> Option<Option<Rid>> {
        let (from, to) = (self.index(from)?, self.index(to)?);
        (from + 1..=to)
            .find(|i| self.list[*i].active)
            .map(|i| self.list[i].rid)
    }

    /// The bitrate `rid` costs (0 if unknown).
    pub(crate) fn cost(&self, rid: Option<Rid>) -> u64 {
        self.list
            .iter()
            .find(|l| l.rid == rid)
            .and_then(|l| l.bitrate)
            .unwrap_or(0)
    }

    /// Known sizes, and halves/doubles of the nearest known one for the rest.
    fn estimated_sizes(&self) -> Vec<Option<(u32, u32)>> {
        let n = self.list.len();
        (0..n)
            .map(|i| {
                if let Some(s) = self.list[i].size {
                    return Some(s);
                }
                let nearest = (0..n)
                    .filter(|j| self.list[*j].size.is_some())
                    .min_by_key(|j| j.abs_diff(i))?;
                let (w, h) = self.list[nearest].size?;
                let steps = u32::try_from(nearest.abs_diff(i))
                    .unwrap_or(u32::MAX)
                    .min(16);
                Some(if nearest > i {
                    (w >> steps, h >> steps)
                } else {
                    (w << steps, h << steps)
                })
            })
            .collect()
    }
}

/// What moving up to a layer of `rate` needs: 15 % more, so a choice does not flap.
pub(crate) fn with_headroom(rate: u64) -> u64 {
    rate + rate * 15 / 100
}

/// Ranks for well-known rid naming schemes, or `None`.
fn name_ranks(rids: &[Option<Rid>]) -> Option<Vec<u32>> {
    let names: Vec<String> = rids
        .iter()
        .map(|r| {
            r.map(|r| r.to_string().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect();
    for scheme in [
        &["q", "h", "f"][..],
        &["l", "m", "h"][..],
        &["low", "mid", "high"][..],
    ] {
        let ranks: Option<Vec<u32>> = names
            .iter()
            .map(|n| scheme.iter().position(|s| s == n).map(|p| p as u32))
            .collect();
        if ranks.is_some() {
            return ranks;
        }
    }
    // "0", "1", "r0", "r1", …: trailing digits, lowest first.
    names
        .iter()
        .map(|n| {
            let digits: String = n
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            digits.parse::<u32>().ok()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a test may read the clock once for a base instant
mod tests {
    use super::*;

    fn rids(names: &[&str]) -> Vec<Option<Rid>> {
        names.iter().map(|n| Some(Rid::from(*n))).collect()
    }

    #[test]
    fn naming_schemes_rank_layers() {
        assert_eq!(name_ranks(&rids(&["f", "h", "q"])), Some(vec![2, 1, 0]));
        assert_eq!(name_ranks(&rids(&["h", "m", "l"])), Some(vec![2, 1, 0]));
        assert_eq!(name_ranks(&rids(&["r2", "r0"])), Some(vec![2, 0]));
        assert_eq!(name_ranks(&rids(&["x", "y"])), None);
        let layers = Layers::simulcast(vec![
            ("h".into(), None),
            ("l".into(), None),
            ("m".into(), None),
        ]);
        let order: Vec<String> = layers
            .list
            .iter()
            .map(|l| l.rid.unwrap().to_string())
            .collect();
        assert_eq!(order, ["l", "m", "h"]);
    }

    #[test]
    fn choice_respects_hint_size_budget_and_activity() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(1);
        let mut layers = Layers::simulcast(vec![
            ("q".into(), None),
            ("h".into(), None),
            ("f".into(), None),
        ]);
        for (rid, size) in [("q", (320, 180)), ("h", (640, 360)), ("f", (1280, 720))] {
            layers.observe(Some(rid.into()), t0, 100, Some(size), timeout);
        }
        let q = Some(Rid::from("q"));
        let h = Some(Rid::from("h"));
        let f = Some(Rid::from("f"));
        assert_eq!(layers.choose(MaxLayer::default(), None, None), f);
        assert_eq!(
            layers.choose(MaxLayer::Quality(Quality::Medium), None, None),
            h
        );
        let tile = MaxLayer::Resolution {
            max_width: 700,
            max_height: 400,
        };
        assert_eq!(layers.choose(tile, None, None), h);
        let tiny = MaxLayer::Resolution {
            max_width: 10,
            max_height: 10,
        };
        assert_eq!(layers.choose(tiny, None, None), q);
        // Under a budget, layers of unknown cost wait for a measurement: the lowest serves.
        assert_eq!(
            layers.choose(MaxLayer::default(), Some(10_000_000), None),
            q
        );

        // Bitrates after one second: q 100 kbit/s, h 400, f 1500.
        let t1 = t0 + Duration::from_secs(1);
        for (rid, bytes) in [("q", 12_500), ("h", 50_000), ("f", 187_500)] {
            layers.observe(Some(rid.into()), t1, bytes, None, timeout);
        }
        assert_eq!(layers.choose(MaxLayer::default(), Some(1_000_000), None), h);
        assert_eq!(layers.choose(MaxLayer::default(), Some(50_000), None), q);
        // Moving up from h needs 15 % headroom on f's rate; staying on f does not.
        assert_eq!(
            layers.choose(MaxLayer::default(), Some(1_600_000), Some(h)),
            h
        );
        assert_eq!(
            layers.choose(MaxLayer::default(), Some(1_600_000), Some(f)),
            f
        );
        assert_eq!(
            layers.choose(MaxLayer::default(), Some(1_800_000), Some(h)),
            f
        );
        // The next step up from q towards f is h; from f there is none.
        assert_eq!(layers.step_up(q, f), Some(h));
        assert_eq!(layers.step_up(f, f), None);
        // f stops: after the timeout the best active layer is h.
        let t2 = t1 + Duration::from_secs(2);
        assert!(
            layers.observe(q, t2, 100, None, timeout),
            "h and f went stale"
        );
        layers.observe(h, t2, 100, None, timeout);
        assert!(!layers.list[2].active);
        assert_eq!(layers.choose(MaxLayer::default(), None, None), h);
    }
}
