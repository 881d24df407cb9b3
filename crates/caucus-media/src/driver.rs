//! Draining the peers' str0m `Rtc`s: what they transmit, when they want waking, and the
//! events they raise, queued for the engine's work loop.

use std::collections::VecDeque;
use std::time::Instant;

use str0m::{Event, Input, Output, Reason};

use crate::counters::Counters;
use crate::demux::Demux;
use crate::ids::PeerKey;
use crate::output::{DisconnectReason, EngineEvent, EngineOutput, Transmit};
use crate::peer::Peer;
use crate::timers::Timers;
use crate::transport::Transport;

/// A str0m event (or a peer's end) not yet acted on.
// Not boxed: almost every item is an RTP packet event, and boxing would allocate per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Work {
    Event(PeerKey, Event),
    Gone(PeerKey, DisconnectReason),
}

/// The engine's side of every `Rtc`. Draining only *queues* (str0m's rule: every mutation
/// is followed by a full drain of `poll_output`); the engine's work loop then takes the
/// queued [`Work`] one item at a time, and acting on it may mutate and drain other peers,
/// so nothing recurses.
#[derive(Debug, Default)]
pub(crate) struct Driver {
    /// Learns addresses from transmits, so it lives beside the drain.
    pub(crate) demux: Demux,
    /// Each peer's next str0m deadline, set by the drain.
    pub(crate) timers: Timers,
    work: VecDeque<Work>,
    outputs: VecDeque<EngineOutput>,
    /// The latest `now` the engine was given.
    clock: Option<Instant>,
}

impl Driver {
    /// Every engine entry point tells the driver what time it is.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.clock = Some(now);
    }

    /// Polls one `Rtc` until it yields its next timeout. Events are only queued, never
    /// acted on here.
    pub(crate) fn drain(&mut self, key: PeerKey, peer: &mut Peer, counters: &mut Counters) {
        loop {
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    if peer.rtc.is_alive() {
                        let at = match (peer.rtc.last_timeout_reason(), self.clock) {
                            (Reason::BweDelayControl, Some(now)) => {
                                at.max(now + peer.bwe_wake_interval())
                            }
                            _ => at,
                        };
                        self.timers.set(key, at);
                    } else {
                        self.timers.remove(key);
                        self.gone(key, DisconnectReason::Closed);
                    }
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let transport = Transport::from_str0m(t.proto);
                    self.demux.learn_addr(transport, t.destination, key);
                    counters.datagrams_out += 1;
                    counters.bytes_out += t.contents.len() as u64;
                    self.outputs.push_back(EngineOutput::Transmit(Transmit {
                        transport,
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.into(),
                    }));
                }
                Ok(Output::Event(e)) => self.work.push_back(Work::Event(key, e)),
                Err(e) => {
                    self.timers.remove(key);
                    self.gone(key, DisconnectReason::Failed(e.to_string()));
                    return;
                }
            }
        }
    }

    /// Hands `input` to a peer's `Rtc` and drains it; an error ends the peer.
    pub(crate) fn input(
        &mut self,
        key: PeerKey,
        peer: &mut Peer,
        input: Input<'_>,
        counters: &mut Counters,
    ) {
        if let Err(e) = peer.rtc.handle_input(input) {
            self.gone(key, DisconnectReason::Failed(e.to_string()));
        }
        self.drain(key, peer, counters);
    }

    /// After a mutation that queues RTP/RTCP (a write, a keyframe request): drain, then
    /// give str0m `now` so it sends at once instead of at its next timer.
    pub(crate) fn flush(
        &mut self,
        now: Instant,
        key: PeerKey,
        peer: &mut Peer,
        counters: &mut Counters,
    ) {
        self.drain(key, peer, counters);
        self.input(key, peer, Input::Timeout(now), counters);
    }

    pub(crate) fn gone(&mut self, key: PeerKey, reason: DisconnectReason) {
        self.work.push_back(Work::Gone(key, reason));
    }

    pub(crate) fn next_work(&mut self) -> Option<Work> {
        self.work.pop_front()
    }

    pub(crate) fn emit(&mut self, event: EngineEvent) {
        self.outputs.push_back(EngineOutput::Event(event));
    }

    pub(crate) fn output(&mut self, output: EngineOutput) {
        self.outputs.push_back(output);
    }

    pub(crate) fn poll_output(&mut self) -> Option<EngineOutput> {
        self.outputs.pop_front()
    }
}
