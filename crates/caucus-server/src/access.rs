//! The HTTP access log and the request-latency histogram: one line per request (method,
//! path without its query — join tokens travel there —, status, milliseconds, client
//! address, the forwarded one behind a trusted proxy) at target `caucus::access`, and one observation per request labelled by route
//! pattern, so that `/rooms/{room}` is one series however many rooms there are.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::info;

use crate::admission::ClientAddr;
use crate::proxies::TrustedProxies;
use crate::telemetry::Telemetry;

/// What the middleware needs.
#[derive(Debug, Clone)]
pub struct Access {
    pub telemetry: Arc<Telemetry>,
    /// Whether to write the log line (the histogram is always kept).
    pub log: bool,
    /// Proxies whose `X-Forwarded-For` names the client logged (as for rate limits).
    pub trusted: Arc<TrustedProxies>,
}

pub async fn observe(State(access): State<Access>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    // The client as rate limits see it: through a trusted proxy, the address it forwards.
    let client = request.extensions().get::<ConnectInfo<ClientAddr>>().map(
        |ConnectInfo(ClientAddr(addr))| {
            access
                .trusted
                .client_of(addr.ip(), request.headers())
                .unwrap_or(addr.ip())
        },
    );
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    if access.log {
        let client = client.map(|ip| ip.to_string()).unwrap_or_default();
        info!(
            target: "caucus::access",
            method = %method,
            path = %path,
            status,
            ms = took.as_secs_f64() * 1e3,
            client = %client,
            "request"
        );
    }
    access.telemetry.http(method.as_str(), &route, status, took);
    response
}
