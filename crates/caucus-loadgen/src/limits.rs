//! The bounds every scenario stays within: this is a loopback tool, not a flood generator.

use std::net::SocketAddr;

use crate::error::{Error, Result};

/// At most this many client peers at once.
pub const MAX_PEERS: usize = 2000;
/// At most this long a measured window.
pub const MAX_SECONDS: u64 = 600;
/// At most this many sequential joins or moves.
pub const MAX_REPEATS: usize = 10_000;

/// Refuses a peer count above [`MAX_PEERS`] (or zero).
pub fn peers(n: usize) -> Result<usize> {
    if n == 0 || n > MAX_PEERS {
        return Err(Error::setup(format!(
            "{n} peers: between 1 and {MAX_PEERS} (a loopback load generator, bounded)"
        )));
    }
    Ok(n)
}

/// Refuses a duration above [`MAX_SECONDS`] (or zero).
pub fn seconds(s: u64) -> Result<u64> {
    if s == 0 || s > MAX_SECONDS {
        return Err(Error::setup(format!("{s} s: between 1 and {MAX_SECONDS}")));
    }
    Ok(s)
}

/// Refuses a repeat count above [`MAX_REPEATS`] (or zero).
pub fn repeats(n: usize) -> Result<usize> {
    if n == 0 || n > MAX_REPEATS {
        return Err(Error::setup(format!(
            "{n} repeats: between 1 and {MAX_REPEATS}"
        )));
    }
    Ok(n)
}

/// Refuses any address outside `127.0.0.0/8` (and `::1`).
pub fn loopback(addr: SocketAddr) -> Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        return Err(Error::setup(format!(
            "{addr} is not a loopback address: the load generator only drives servers on this machine"
        )));
    }
    Ok(addr)
}
