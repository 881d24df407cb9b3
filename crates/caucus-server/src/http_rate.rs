//! Per-client HTTP rate limits: a token bucket per client address, shared by every request
//! that address makes (REST, pages, WebSocket upgrades); the excess is answered 429
//! `rate_limited` with `Retry-After`.
//!
//! The client address is the connection's, or — when the connection comes from a trusted
//! reverse proxy — the nearest untrusted address of its `X-Forwarded-For`. A request from a
//! trusted proxy without that header is the proxy host's own (a local tool, a health probe)
//! and is not limited. Probes (`/healthz`, `/readyz`, `/metrics`) are never limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use caucus_proto::ErrorCode;
use tokio::time::Instant;

use crate::admission::ClientAddr;
use crate::proxies::TrustedProxies;
use crate::rate_limit::RateLimit;
use crate::refusal::ApiError;

/// Buckets kept at most; past this, full (idle) buckets are forgotten first, which loses
/// nothing (a full bucket is what a new one starts as).
const MAX_BUCKETS: usize = 65_536;
/// Paths never limited: probes must answer under any load.
const EXEMPT: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The limits and the buckets.
#[derive(Debug)]
pub struct HttpRate {
    rate_per_s: u32,
    burst: u32,
    trusted: Arc<TrustedProxies>,
    buckets: Mutex<HashMap<IpAddr, RateLimit>>,
    refused: AtomicU64,
}

impl HttpRate {
    pub fn new(rate_per_s: u32, burst: u32, trusted: Arc<TrustedProxies>) -> Arc<Self> {
        Arc::new(Self {
            rate_per_s,
            burst,
            trusted,
            buckets: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        })
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Take a token for `client`, or say how long until the next one.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), std::time::Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| !bucket.is_full(now));
            if buckets.len() >= MAX_BUCKETS {
                // Every bucket in use: an address flood. Start over rather than grow.
                buckets.clear();
            }
        }
        let bucket = buckets
            .entry(client)
            .or_insert_with(|| RateLimit::new(self.rate_per_s, self.burst, now));
        if bucket.allow(now) {
            Ok(())
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Err(bucket.retry_after())
        }
    }
}

/// The middleware.
pub async fn limit(State(rate): State<Arc<HttpRate>>, request: Request, next: Next) -> Response {
    if rate.rate_per_s == 0 || EXEMPT.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|ConnectInfo(ClientAddr(addr))| addr.ip());
    let Some(client) = peer.and_then(|peer| rate.trusted.client_of(peer, request.headers())) else {
        return next.run(request).await;
    };
    match rate.take(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests from your address; retry in {secs} s"),
            )
            .into_response();
            if let Ok(value) = secs.max(1).to_string().parse() {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_bucket_refuses_past_the_burst_per_address() {
        let rate = HttpRate::new(1, 3, TrustedProxies::new(&[]));
        let t0 = Instant::now();
        let a = v4("198.51.100.7");
        assert!((0..3).all(|_| rate.take(a, t0).is_ok()));
        let wait = rate.take(a, t0).expect_err("past the burst");
        assert!(wait <= Duration::from_secs(1));
        assert!(rate.take(v4("198.51.100.8"), t0).is_ok(), "another address");
        assert!(rate.take(a, t0 + Duration::from_secs(1)).is_ok());
    }
}
