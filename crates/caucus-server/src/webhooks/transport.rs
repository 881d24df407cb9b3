//! One POST to one endpoint, over http or https: hyper's pooled HTTP/1.1 client behind
//! hyper-rustls with the TLS configuration of [`super::tls`]. Redirects are not followed (a
//! receiver that moved must be reconfigured, not guessed at), and the whole request — connect,
//! handshake, answer — has one deadline.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::tls::{self, TlsError};

const USER_AGENT: &str = concat!("caucus/", env!("CARGO_PKG_VERSION"));

/// The client every delivery goes through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Transport {
    /// Trust the built-in roots and `ca_file`; give each request `timeout`.
    pub fn new(ca_file: Option<&std::path::Path>, timeout: Duration) -> Result<Self, TlsError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(ca_file)?)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Transport { client, timeout })
    }

    /// POST `body` with `headers`: `Ok` on a 2xx, otherwise why not.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<(), String> {
        let mut request = hyper::Request::post(url).header("user-agent", USER_AGENT);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(e)) => Err(error_chain(&e)),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("HTTP {}", response.status())),
        }
    }
}

/// An error with its causes ("client error (Connect): invalid peer certificate: UnknownIssuer").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
