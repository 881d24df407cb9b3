//! The checks run while the world runs: the allowed intervals of every desired set, the
//! isolation of packets, the liveness of what should flow, and the findings at the end.

use super::*;

impl World {
    /// Record the desired sets of rooms that had input, as allowed intervals.
    pub(super) fn update_allowed(&mut self) {
        let now = self.now;
        let dirty = std::mem::take(&mut self.dirty);
        for r in dirty {
            let session = self.rooms[r].session();
            let mut allowed: BTreeSet<(usize, usize, Kind)> = BTreeSet::new();
            for (&peer, &s) in &self.peer_clients[r] {
                if self.clients[s].peer != Some(peer) {
                    continue;
                }
                for key in session.desired(peer) {
                    let Some(&p) = self.peer_clients[r].get(&key.peer) else {
                        continue;
                    };
                    let Some(source) = session
                        .peer(key.peer)
                        .and_then(|pp| pp.tracks().find(|(t, ..)| *t == key.track))
                        .map(|(_, source, _)| source)
                    else {
                        continue;
                    };
                    if let Some(kind) = Kind::of(source) {
                        allowed.insert((s, p, kind));
                    }
                }
            }
            let members: BTreeSet<usize> = (0..self.clients.len())
                .filter(|&i| self.clients[i].room == r)
                .collect();
            for (pair, record) in self.oracle.allowed.iter_mut() {
                if members.contains(&pair.0) && !allowed.contains(pair) {
                    record.close(now);
                }
            }
            for pair in allowed {
                self.oracle.allowed.entry(pair).or_default().open(now);
            }
        }
    }

    /// Every packet received since the last check: from an allowed sender?
    pub(super) fn check_packets(&mut self) {
        for s in 0..self.clients.len() {
            let from = self.oracle.checked[s];
            let received = &self.clients[s].received;
            if received.len() == from {
                continue;
            }
            let mut lines = Vec::new();
            for packet in &received[from..] {
                self.stats.packets_received += 1;
                let p = self.clients.iter().position(|c| c.name == packet.from);
                let ok = p.is_some_and(|p| {
                    self.oracle
                        .allowed
                        .get(&(s, p, packet.kind))
                        .is_some_and(|a| a.covers(packet.at))
                });
                // A packet sent while the pair was allowed but received after the grace:
                // a retransmission of a packet forwarded legitimately, kept apart.
                let sent_ok = !ok
                    && p.is_some_and(|p| {
                        let sent = self.clients[p].sent_at[packet.kind as usize]
                            .get(packet.n as usize)
                            .copied();
                        sent.is_some_and(|t| {
                            self.oracle
                                .allowed
                                .get(&(s, p, packet.kind))
                                .is_some_and(|a| a.touches(t))
                        })
                    });
                if sent_ok {
                    self.oracle.findings.late_resends.push(format!(
                        "{:?}: {} received {}/{}/{} long after it left its desired set",
                        packet.at,
                        self.clients[s].name,
                        packet.from,
                        packet.kind.label(),
                        packet.n
                    ));
                } else if !ok {
                    self.oracle.findings.isolation.push(format!(
                        "{:?}: {} received {}/{}/{} outside its desired set",
                        packet.at,
                        self.clients[s].name,
                        packet.from,
                        packet.kind.label(),
                        packet.n
                    ));
                }
                if let Some(p) = p {
                    let flow = self.oracle.flows.entry((s, p, packet.kind)).or_default();
                    flow.last_frame = Some(packet.at);
                }
                lines.push(format!(
                    "{:?} {} < {}/{}",
                    packet.at,
                    self.clients[s].name,
                    packet.from,
                    packet.kind.label(),
                ));
            }
            // Packets landing at one instant are one batch: their order inside it can depend
            // on hash-map order, what arrived does not.
            lines.sort();
            for line in lines {
                self.digest.write(line.as_bytes());
            }
            self.oracle.checked[s] = received.len();
        }
    }

    /// Frames must flow on every pair whose conditions have held since the warm-up.
    pub(super) fn check_liveness(&mut self) {
        let now = self.now;
        let keys: Vec<_> = self.oracle.allowed.keys().copied().collect();
        for pair in keys {
            let (s, p, kind) = pair;
            let open = self.oracle.allowed.get(&pair).is_some_and(|a| a.is_open());
            let (sub, publ) = (&self.clients[s], &self.clients[p]);
            let source = kind.source();
            let live = open
                && sub.media_up
                && publ.media_up
                && matches!(publ.published.get(&source), Some(Some(_)))
                && !publ.muted.contains(&source)
                && self.disturbed_until[s] <= now
                && self.disturbed_until[p] <= now
                && self.track_unmuted(p, source);
            let flow = self.oracle.flows.entry(pair).or_default();
            if !live {
                flow.eligible_since = None;
                continue;
            }
            let since = *flow.eligible_since.get_or_insert(now);
            let start = since + WARMUP;
            if now < start {
                continue;
            }
            let last = flow.last_frame.map_or(start, |l| l.max(start));
            let gap = now.saturating_sub(last);
            if gap > self.oracle.findings.longest_gap {
                self.oracle.findings.longest_gap = gap;
            }
            if gap > MAX_GAP {
                let line = format!(
                    "{now:?}: {} got no {} from {} for {gap:?}",
                    self.clients[s].name,
                    kind.label(),
                    self.clients[p].name
                );
                self.oracle.findings.liveness.push(line);
                // One report per stall.
                flow.eligible_since = None;
            }
        }
    }

    pub(super) fn track_unmuted(&self, p: usize, source: Source) -> bool {
        let c = &self.clients[p];
        let Some(peer) = c.peer else {
            return false;
        };
        self.rooms[c.room]
            .session()
            .peer(peer)
            .is_some_and(|pp| pp.tracks().any(|(_, s, muted)| s == source && !muted))
    }

    pub(super) fn finish(&mut self) {
        let stats = self.stats;
        self.digest.write(
            format!(
                "end {} {} {}",
                stats.packets_received, stats.commands_refused, stats.commands_accepted
            )
            .as_bytes(),
        );
    }
}
