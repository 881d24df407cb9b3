//! The simulated UDP network between the clients and the engine: every datagram takes a
//! delay (a per-link base plus jitter, so datagrams overtake each other), may be lost or
//! duplicated, and a client may be cut off for a while (a blackout).
//!
//! Faults touch RTP and RTCP only; STUN and DTLS always arrive. Each media datagram's fate
//! is a hash of the seed, its two addresses and the instant it was sent — not a draw from a
//! shared generator — so the fate of one link's traffic does not depend on the order in
//! which unrelated links, or the streams of one connection, happened to send.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;
use std::time::Duration;

use crate::rng::mix;

/// How bad the network is, for the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Each link's one-way delay is drawn from this range once.
    pub base_delay: (Duration, Duration),
    /// Added to each datagram's delay, uniformly up to this.
    pub jitter: Duration,
}

impl Faults {
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        base_delay: (Duration::from_millis(1), Duration::from_millis(2)),
        jitter: Duration::ZERO,
    };
}

/// A datagram in flight: (arrival, source, destination, [`rank`], number on its pair,
/// copy) orders it.
type Key = (Duration, SocketAddr, SocketAddr, u64, u64, u8);

/// Where a datagram goes among those landing at one instant on one pair: an RTP packet by
/// its SSRC and sequence number (plain text in SRTP), anything else after them in the
/// order sent. Which of two RTP packets str0m emits first at one instant can depend on
/// the order of its randomly seeded hash maps (media and padding of different streams);
/// the receiver then handles them in one order on every run.
fn rank(bytes: &[u8]) -> u64 {
    let rtp = bytes.len() >= 12 && bytes[0] >> 6 == 2 && !(64..96).contains(&(bytes[1] & 0x7f));
    if !rtp {
        return u64::MAX;
    }
    let ssrc = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let seq = u16::from_be_bytes([bytes[2], bytes[3]]);
    (u64::from(ssrc) << 16) | u64::from(seq)
}

#[derive(Debug)]
pub struct Net {
    seed: u64,
    pub faults: Faults,
    in_flight: BinaryHeap<Reverse<(Key, Vec<u8>)>>,
    sent_on_pair: BTreeMap<(SocketAddr, SocketAddr, bool), u64>,
    /// Addresses cut off (both directions) until the given time.
    blackouts: BTreeMap<SocketAddr, Duration>,
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl Net {
    pub fn new(seed: u64, faults: Faults) -> Self {
        Net {
            seed,
            faults,
            in_flight: BinaryHeap::new(),
            sent_on_pair: BTreeMap::new(),
            blackouts: BTreeMap::new(),
            sent: 0,
            lost: 0,
            duplicated: 0,
        }
    }

    /// Cut `addr` off until `until`.
    pub fn blackout(&mut self, addr: SocketAddr, until: Duration) {
        self.blackouts.insert(addr, until);
    }

    pub fn is_blacked_out(&self, addr: SocketAddr, now: Duration) -> bool {
        self.blackouts.get(&addr).is_some_and(|until| now < *until)
    }

    /// The one-way base delay of the link between two addresses (fixed per run).
    fn base_delay(&self, a: SocketAddr, b: SocketAddr) -> Duration {
        let (lo, hi) = self.faults.base_delay;
        let span = hi.saturating_sub(lo).as_micros() as u64;
        let (x, y) = if a <= b { (a, b) } else { (b, a) };
        let h = mix(self.seed ^ addr_word(x) ^ addr_word(y).rotate_left(17));
        lo + Duration::from_micros(if span == 0 { 0 } else { h % span })
    }

    pub fn send(&mut self, now: Duration, src: SocketAddr, dst: SocketAddr, bytes: Vec<u8>) {
        self.sent += 1;
        if self.is_blacked_out(src, now) || self.is_blacked_out(dst, now) {
            self.lost += 1;
            return;
        }
        // Faults hit RTP and RTCP only (first byte 128–191); STUN and DTLS arrive, after the
        // link's base delay. A DTLS handshake's datagrams depend on key material the crypto
        // library draws from the OS, so letting them count towards faults would make one
        // run's losses differ from the next.
        let media = bytes.first().is_some_and(|b| (128..192).contains(b));
        let n = self.sent_on_pair.entry((src, dst, media)).or_insert(0);
        *n += 1;
        let number = *n;
        if !media {
            let at = now + self.base_delay(src, dst);
            self.in_flight
                .push(Reverse(((at, src, dst, u64::MAX, number, 2), bytes)));
            return;
        }
        // One fate for everything a pair sends at one instant: which of two datagrams sent
        // together goes first can depend on hash-map order inside str0m and the engine.
        let instant = now.as_micros() as u64;
        let fate = mix(self.seed ^ addr_word(src) ^ addr_word(dst).rotate_left(29) ^ mix(instant));
        let unit = |h: u64| (h >> 11) as f64 / (1u64 << 53) as f64;
        if unit(fate) < self.faults.loss {
            self.lost += 1;
            return;
        }
        let base = self.base_delay(src, dst);
        let jitter_us = self.faults.jitter.as_micros() as u64;
        let jitter = |h: u64| Duration::from_micros(if jitter_us == 0 { 0 } else { h % jitter_us });
        let copies = if unit(mix(fate ^ 1)) < self.faults.duplicate {
            self.duplicated += 1;
            2
        } else {
            1
        };
        let rank = rank(&bytes);
        for copy in 0..copies {
            let at = now + base + jitter(mix(fate ^ (2 + u64::from(copy))));
            self.in_flight
                .push(Reverse(((at, src, dst, rank, number, copy), bytes.clone())));
        }
    }

    /// When the next datagram arrives.
    pub fn next_arrival(&self) -> Option<Duration> {
        self.in_flight.peek().map(|Reverse(((at, ..), _))| *at)
    }

    /// The next datagram due by `now`, if any (one that lands on a blacked-out address is
    /// lost on arrival).
    pub fn pop_due(&mut self, now: Duration) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        loop {
            let Reverse(((at, ..), _)) = self.in_flight.peek()?;
            if *at > now {
                return None;
            }
            let Reverse(((_, src, dst, ..), bytes)) = self.in_flight.pop()?;
            if self.is_blacked_out(dst, now) || self.is_blacked_out(src, now) {
                self.lost += 1;
                continue;
            }
            return Some((src, dst, bytes));
        }
    }
}

fn addr_word(addr: SocketAddr) -> u64 {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => (u128::from(v6) as u64) ^ ((u128::from(v6) >> 64) as u64),
    };
    mix((ip << 16) | u64::from(addr.port()))
}
