//! Carrying an [`Allocation`]'s datagrams: over the media peer's UDP socket (the TURN
//! server's answers are told apart by their source address), or over a TCP connection (plain,
//! or TLS for `turns:`) with STUN and ChannelData framed by their own lengths (RFC 8656
//! §12.5).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::{Allocation, TurnError, TurnServer, TurnTransport, wire};

/// An allocation and the way to its server.
pub(crate) struct Relay {
    pub(crate) allocation: Allocation,
    tcp: Option<TcpLink>,
}

struct TcpLink {
    to_server: mpsc::UnboundedSender<Vec<u8>>,
    from_server: mpsc::UnboundedReceiver<Vec<u8>>,
}

/// Bytes from a TCP stream cut into whole frames; `None` for a stream that is not framed
/// STUN/ChannelData.
fn take_frames(buf: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
    let mut frames = Vec::new();
    loop {
        match wire::frame_len(buf) {
            Ok(Some(n)) => frames.push(buf.drain(..n).collect()),
            Ok(None) => return Some(frames),
            Err(_) => return None,
        }
    }
}

/// A TCP connection to `server`, with TLS when `tls` is given (the certificate checked for
/// `host`).
async fn tcp_link(
    server: SocketAddr,
    host: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<TcpLink, TurnError> {
    let io = |message: String| TurnError::Io { server, message };
    let stream = tokio::time::timeout(timeout, TcpStream::connect(server))
        .await
        .map_err(|_| io("TCP connect timed out".into()))?
        .map_err(|e| io(format!("TCP connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(framed(server, stream)),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| io(format!("TLS name {host}: {e}")))?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, stream);
            let stream = tokio::time::timeout(timeout, handshake)
                .await
                .map_err(|_| io("TLS handshake timed out".into()))?
                .map_err(|e| io(format!("TLS: {e}")))?;
            Ok(framed(server, stream))
        }
    }
}

/// Frames in and out of `stream`, each way by its own task.
fn framed<S>(server: SocketAddr, stream: S) -> TcpLink
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(stream);
    let (to_server, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let (frames, from_server) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 4096];
        loop {
            let n = match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let Some(whole) = take_frames(&mut buf) else {
                debug!(%server, "TURN over TCP: unframed bytes, connection dropped");
                return;
            };
            // Nobody listening any more (the peer closed): keep reading until the server
            // closes, so the socket never closes on unread data (an RST that can drop the
            // deallocation still in flight).
            for frame in whole {
                let _ = frames.send(frame);
            }
        }
    });
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if write.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
        // The server closes its side once it has read ours; bounded.
        let abort = reader.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), reader)
            .await
            .is_err()
        {
            abort.abort();
        }
    });
    TcpLink {
        to_server,
        from_server,
    }
}

impl Relay {
    /// Allocates on `server`, waiting at most `timeout`. Over UDP it uses `socket`, which
    /// nothing else reads meanwhile; over TLS it trusts `tls`.
    pub(crate) async fn allocate(
        server: TurnServer,
        socket: &UdpSocket,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Relay, TurnError> {
        let deadline = Instant::now() + timeout;
        let addr = server.addr;
        let tcp = match server.transport {
            TurnTransport::Udp => None,
            TurnTransport::Tcp => Some(tcp_link(addr, &server.host, None, timeout).await?),
            TurnTransport::Tls => Some(tcp_link(addr, &server.host, Some(tls), timeout).await?),
        };
        let mut relay = Relay {
            allocation: Allocation::new(server, Instant::now()),
            tcp,
        };
        let mut buf = vec![0u8; 2048];
        loop {
            relay.flush(socket);
            if let Some(relayed) = relay.allocation.relayed() {
                info!(server = %addr, %relayed, "TURN relay allocated");
                return Ok(relay);
            }
            if let Some(e) = relay.allocation.failure() {
                return Err(e.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TurnError::Timeout {
                    server: addr,
                    what: "Allocate".into(),
                });
            }
            let wake = relay
                .allocation
                .poll_timeout()
                .unwrap_or(deadline)
                .min(deadline);
            tokio::select! {
                received = socket.recv_from(&mut buf), if relay.tcp.is_none() => {
                    if let Ok((n, from)) = received && from == addr {
                        relay.allocation.handle_input(&buf[..n], Instant::now());
                    }
                }
                frame = relay.recv_tcp() => match frame {
                    Some(frame) => {
                        relay.allocation.handle_input(&frame, Instant::now());
                    }
                    None => return Err(TurnError::Io {
                        server: addr,
                        message: "the TCP connection closed".into(),
                    }),
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    relay.allocation.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// The TURN server's address.
    pub(crate) fn server(&self) -> SocketAddr {
        self.allocation.server().addr
    }

    pub(crate) fn over_udp(&self) -> bool {
        self.tcp.is_none()
    }

    /// The next frame from the TURN server over TCP (never, over UDP; `None` when the
    /// connection closed).
    pub(crate) async fn recv_tcp(&mut self) -> Option<Vec<u8>> {
        match &mut self.tcp {
            Some(tcp) => tcp.from_server.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Sends what the allocation has for the server.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) {
        let server = self.allocation.server().addr;
        while let Some(bytes) = self.allocation.poll_transmit() {
            match &self.tcp {
                Some(tcp) => {
                    let _ = tcp.to_server.send(bytes);
                }
                None => {
                    if let Err(e) = socket.try_send_to(&bytes, server) {
                        debug!(%server, error = %e, "datagram to the TURN server not sent");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_frames_are_cut_whole_and_garbage_ends_the_stream() {
        let mut buf = wire::channel_data(0x4000, b"abcde", true);
        buf.extend_from_slice(&wire::channel_data(0x4001, b"xy", true)[..5]);
        let frames = take_frames(&mut buf).expect("framed");
        assert_eq!(frames.len(), 1);
        assert_eq!(buf.len(), 5, "the partial frame waits for more");
        buf.extend_from_slice(&[0, 0, 0]);
        assert_eq!(take_frames(&mut buf).expect("framed").len(), 1);
        assert!(buf.is_empty());
        let mut garbage = vec![0xFF; 8];
        assert!(take_frames(&mut garbage).is_none());
    }
}
