//! HTTPS and WSS served by Caucus itself, when `tls_cert` and `tls_key` are set: the rustls
//! configuration of the HTTP listener, the TLS handshake of each admitted connection, and the
//! task that reloads the certificate pair.
//!
//! The pair is read at start; a file that is missing, unreadable or not a matching pair stops
//! the start, naming the setting. Then the files are read every [`RELOAD_POLL`] and whenever
//! [`TlsHandle::reload_now`] asks (the binary does on SIGHUP): a changed pair that loads is
//! swapped in for new handshakes (connections already open keep theirs); one that does not is
//! refused with an error in the log, and the pair in use keeps serving. Writing the two files
//! is not atomic: a look between the writes sees a certificate with the old key, refuses it,
//! and takes the pair at the next look.
//!
//! The handshake runs in a task of its own per connection (a slow one never holds up the
//! accept loop), admitted first and bounded by the same handshake deadline as a plain
//! request head ([`crate::admission`]). A plain HTTP request to the TLS port is answered 400
//! in plain text, saying to use `https://`. ALPN offers `http/1.1` only: the server speaks
//! HTTP/1.1 (the WebSocket upgrade is an HTTP/1.1 request).

pub mod certs;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use caucus_proto::{ErrorBody, ErrorCode, ErrorEnvelope};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{error, info, warn};

pub use certs::{CertResolver, CertWatch, Check, TlsError, TlsFiles};

/// How often the certificate files are read for a change.
pub const RELOAD_POLL: Duration = Duration::from_secs(5);
/// A TLS record carrying a handshake message starts with this byte; a ClientHello is one.
const HANDSHAKE_RECORD: u8 = 0x16;

/// The outcomes of reloads since the start (a new pair swapped in, or refused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloads {
    pub loaded: u64,
    pub refused: u64,
}

/// The pair, loaded at start, before the listener serves.
#[derive(Debug)]
pub struct ServerTls {
    watch: CertWatch,
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// Read and check the pair; the error names the setting and its file.
    pub async fn load(files: TlsFiles) -> Result<ServerTls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let loading = Arc::clone(&provider);
        let cert = files.cert.clone();
        let watch = tokio::task::spawn_blocking(move || CertWatch::load(files, loading))
            .await
            .map_err(|e| TlsError::File {
                setting: "tls_cert",
                path: cert,
                reason: format!("loading panicked: {e}"),
            })??;
        let config = server_config(watch.resolver(), provider).map_err(|e| TlsError::File {
            setting: "tls_cert",
            path: watch.files().cert.clone(),
            reason: e.to_string(),
        })?;
        info!(cert = %watch.files().cert.display(), "HTTPS on the HTTP listener");
        Ok(ServerTls {
            watch,
            config: Arc::new(config),
        })
    }

    /// The acceptor for the listener, and the reload task (it ends when `stop` turns true).
    pub fn start(self, stop: watch::Receiver<bool>) -> (TlsAcceptor, TlsHandle) {
        let notify = Arc::new(Notify::new());
        let (reloads, reloads_rx) = watch::channel(Reloads::default());
        let task = tokio::spawn(reload(self.watch, Arc::clone(&notify), reloads, stop));
        (
            TlsAcceptor::from(self.config),
            TlsHandle {
                notify,
                reloads: reloads_rx,
                task,
            },
        )
    }
}

/// The running reload task.
#[derive(Debug)]
pub struct TlsHandle {
    notify: Arc<Notify>,
    reloads: watch::Receiver<Reloads>,
    task: JoinHandle<()>,
}

impl TlsHandle {
    /// Look at the files now rather than at the next poll.
    pub fn reload_now(&self) {
        self.notify.notify_one();
    }

    /// The reloads so far, updated after each one.
    pub fn reloads(&self) -> watch::Receiver<Reloads> {
        self.reloads.clone()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

/// The listener's rustls configuration: the pair from `resolver`, HTTP/1.1.
fn server_config(
    resolver: Arc<CertResolver>,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

async fn reload(
    mut watch: CertWatch,
    notify: Arc<Notify>,
    reloads: watch::Sender<Reloads>,
    mut stop: watch::Receiver<bool>,
) {
    let mut poll = tokio::time::interval(RELOAD_POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is at once; the pair was just loaded.
    poll.tick().await;
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            () = notify.notified() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let checked = tokio::task::spawn_blocking(move || {
            let check = watch.check();
            (watch, check)
        })
        .await;
        let Ok((back, check)) = checked else {
            warn!("the TLS certificate check panicked; the pair in use stays for good");
            return;
        };
        watch = back;
        match check {
            Check::Unchanged => {}
            Check::Loaded => {
                info!(cert = %watch.files().cert.display(), "TLS certificate reloaded; new connections get it");
                reloads.send_modify(|r| r.loaded += 1);
            }
            Check::Refused(e) => {
                error!(error = %e, "the changed TLS certificate pair is refused; the one in use keeps serving");
                reloads.send_modify(|r| r.refused += 1);
            }
        }
    }
}

/// The handshake of one admitted connection (the caller bounds it by the deadline). A
/// connection that speaks plain HTTP gets a 400 saying so, and an error.
pub async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if tcp.peek(&mut first).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before its ClientHello",
        ));
    }
    if first[0] != HANDSHAKE_RECORD {
        answer_plain_http(tcp).await;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "plain HTTP on the TLS port",
        ));
    }
    acceptor.accept(tcp).await
}

/// The 400 a plain HTTP request to the TLS port gets.
fn plain_http_response() -> Vec<u8> {
    let body = serde_json::to_string(&ErrorEnvelope {
        error: ErrorBody::new(
            ErrorCode::MalformedRequest,
            "this port speaks HTTPS: use https:// (wss:// for signaling)",
        ),
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answer and close; what the client sent is read first and after, since closing with unread
/// bytes resets the connection and the client may lose the answer.
async fn answer_plain_http(mut tcp: TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tcp.read(&mut sink).await;
    let _ = tcp.write_all(&plain_http_response()).await;
    let _ = tcp.shutdown().await;
    while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// A connection under HTTP: plain TCP, or TLS over it.
#[derive(Debug)]
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(tcp) => tcp.is_write_vectored(),
            Transport::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_is_a_complete_response_with_the_code() {
        let text = String::from_utf8(plain_http_response()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let envelope: ErrorEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(envelope.error.code, ErrorCode::MalformedRequest);
        assert!(envelope.error.message.contains("https://"));
    }
}
