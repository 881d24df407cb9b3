//! The table of published tracks: who names them, and each one's fan-out list.

use std::collections::HashMap;

use str0m::media::{Mid, Rid, Simulcast};

use crate::ids::{MediaKind, PeerKey, TrackKey};
use crate::layer::Layers;
use crate::track::Track;

/// Every published track, by key. Keys are never reused within one engine.
#[derive(Debug)]
pub(crate) struct Tracks {
    map: HashMap<TrackKey, Track>,
    next: u64,
}

impl Default for Tracks {
    fn default() -> Self {
        Tracks {
            map: HashMap::new(),
            next: 1,
        }
    }
}

impl Tracks {
    /// A publisher's m-line started receiving: a new track, with its simulcast layers as
    /// the offer announced them.
    pub(crate) fn publish(
        &mut self,
        publisher: PeerKey,
        mid: Mid,
        kind: MediaKind,
        simulcast: Option<Simulcast>,
    ) -> TrackKey {
        let key = TrackKey(self.next);
        self.next += 1;
        let layers = match simulcast {
            Some(sim) if kind == MediaKind::Video => simulcast_layers(&sim),
            _ => Layers::single(),
        };
        self.map
            .insert(key, Track::new(publisher, mid, kind, layers));
        key
    }

    pub(crate) fn get(&self, key: &TrackKey) -> Option<&Track> {
        self.map.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &TrackKey) -> Option<&mut Track> {
        self.map.get_mut(key)
    }

    pub(crate) fn contains(&self, key: &TrackKey) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn remove(&mut self, key: &TrackKey) -> Option<Track> {
        self.map.remove(key)
    }

    /// Takes `sub` off the fan-out list of `track` (if both still exist).
    pub(crate) fn drop_subscriber(&mut self, track: &TrackKey, sub: PeerKey) {
        if let Some(t) = self.map.get_mut(track) {
            t.subscribers.retain(|s| *s != sub);
        }
    }
}

/// The layers of a simulcast offer, each rid once, in SDP order; a simulcast attribute
/// without rids is a plain track.
fn simulcast_layers(sim: &Simulcast) -> Layers {
    let mut rids: Vec<(Rid, Option<(u32, u32)>)> = Vec::new();
    for layer in sim.recv.iter().chain(sim.send.iter()) {
        if rids.iter().all(|(r, _)| *r != layer.rid) {
            rids.push((layer.rid, restriction_size(&layer.attributes)));
        }
    }
    if rids.is_empty() {
        Layers::single()
    } else {
        Layers::simulcast(rids)
    }
}

/// `max-width`/`max-height` from an `a=rid` line, if both are given.
fn restriction_size(attributes: &Option<Vec<(String, String)>>) -> Option<(u32, u32)> {
    let attrs = attributes.as_ref()?;
    let get = |key: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<u32>().ok())
    };
    Some((get("max-width")?, get("max-height")?))
}
