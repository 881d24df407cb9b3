//! Request/reply correlation and event routing against a scripted WebSocket server: the test
//! plays the server, message by message, so every interleaving is chosen, not hoped for.

use std::time::Duration;

use caucus_client::{Client, ClientError, ClientEvent, ClientOptions};
use caucus_proto::signal::{ClientBody, ClientMessage, PeerCommand, ReplyData, ServerMessage};
use caucus_proto::{ErrorBody, ErrorCode, HelpId, PeerId, ServerEvent};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(5);

/// The server side of one scripted connection.
struct Script {
    ws: WebSocketStream<TcpStream>,
}

impl Script {
    async fn recv(&mut self) -> ClientMessage {
        loop {
            let msg = tokio::time::timeout(T, self.ws.next())
                .await
                .expect("the client sends within the timeout")
                .expect("the connection is open")
                .expect("a readable frame");
            if let Message::Text(text) = msg {
                return serde_json::from_str(text.as_str()).expect("a client message");
            }
        }
    }

    async fn send(&mut self, msg: ServerMessage) {
        let text = serde_json::to_string(&msg).expect("serializable");
        self.ws.send(Message::text(text)).await.expect("send");
    }

    async fn reply(&mut self, id: u64, data: Option<ReplyData>) {
        self.send(ServerMessage::Reply {
            id,
            ok: true,
            data,
            error: None,
        })
        .await;
    }

    async fn refuse(&mut self, id: u64, code: ErrorCode) {
        self.send(ServerMessage::Reply {
            id,
            ok: false,
            data: None,
            error: Some(ErrorBody {
                code,
                message: format!("refused: {code}"),
                field: None,
            }),
        })
        .await;
    }

    /// Expects `join` with id 1 and accepts it as `peer`.
    async fn accept_join(&mut self, peer: u64) {
        let join = self.recv().await;
        assert_eq!(join.id, 1, "join is the first request");
        assert!(
            matches!(&join.body, ClientBody::Join { token, .. } if token == "tok"),
            "{join:?}"
        );
        self.reply(
            1,
            Some(ReplyData::Joined {
                peer_id: PeerId::new(peer),
                resumed: false,
            }),
        )
        .await;
    }
}

/// Starts a listener; the returned future yields the server side of the next connection.
async fn listen() -> (String, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/v1/rtc", listener.local_addr().expect("addr"));
    (url, listener)
}

async fn accept(listener: &TcpListener) -> Script {
    let (tcp, _) = listener.accept().await.expect("accept");
    let ws = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake");
    Script { ws }
}

fn options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(2),
        ..ClientOptions::signaling_only()
    }
}

#[tokio::test]
async fn replies_find_their_requests_in_any_order() {
    let (url, listener) = listen().await;
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        s.accept_join(7).await;
        let a = s.recv().await;
        let b = s.recv().await;
        // An event between the requests and their replies, then the replies in reverse.
        s.send(ServerMessage::Event {
            event: ServerEvent::RoomLocked { locked: true },
        })
        .await;
        let (help, hand) = match (&a.body, &b.body) {
            (
                ClientBody::Command {
                    command: PeerCommand::RequestHelp,
                },
                _,
            ) => (a.id, b.id),
            _ => (b.id, a.id),
        };
        s.reply(
            help,
            Some(ReplyData::HelpRequested {
                help_id: HelpId::new(3),
            }),
        )
        .await;
        s.reply(hand, None).await;
        s
    });

    let (client, mut events) = Client::connect(&url, "tok", options())
        .await
        .expect("joined");
    assert_eq!(client.peer_id(), PeerId::new(7));
    assert!(!client.resumed());
    let (help, hand) = tokio::join!(client.request_help(), client.set_hand(true));
    assert_eq!(help.expect("help reply"), HelpId::new(3));
    hand.expect("hand reply");
    let e = events.next(T).await.expect("the pushed event");
    assert_eq!(
        e,
        ClientEvent::Server(ServerEvent::RoomLocked { locked: true })
    );
    server.await.expect("script");
}

#[tokio::test]
async fn a_refusal_carries_the_servers_code() {
    let (url, listener) = listen().await;
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        s.accept_join(1).await;
        let publish = s.recv().await;
        s.refuse(publish.id, ErrorCode::NotPermitted).await;
        s
    });
    let (client, _events) = Client::connect(&url, "tok", options())
        .await
        .expect("joined");
    let err = client.set_locked(true).await.expect_err("refused");
    assert_eq!(err.code(), Some(ErrorCode::NotPermitted));
    assert!(matches!(err, ClientError::Refused(ErrorBody { .. })));
    server.await.expect("script");
}

#[tokio::test]
async fn a_refused_join_is_a_typed_error() {
    let (url, listener) = listen().await;
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        let join = s.recv().await;
        s.refuse(join.id, ErrorCode::TokenInvalid).await;
        s
    });
    let err = Client::connect(&url, "tok", options())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(ErrorCode::TokenInvalid), "{err}");
    server.await.expect("script");
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_a_late_reply_is_harmless() {
    let (url, listener) = listen().await;
    let (late_tx, late_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        s.accept_join(1).await;
        let ignored = s.recv().await;
        late_rx.await.expect("the client gave up");
        s.reply(ignored.id, None).await; // nobody waits for it any more
        let ping = s.recv().await;
        assert_eq!(ping.body, ClientBody::Ping);
        s.reply(ping.id, None).await;
        s
    });
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(200),
        ..options()
    };
    let (client, _events) = Client::connect(&url, "tok", opts).await.expect("joined");
    let err = client.set_hand(true).await.expect_err("no reply");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    late_tx.send(()).expect("script waits");
    client.ping().await.expect("the connection still works");
    server.await.expect("script");
}

#[tokio::test]
async fn a_closed_connection_fails_pending_requests_and_is_announced() {
    let (url, listener) = listen().await;
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        s.accept_join(1).await;
        let _pending = s.recv().await;
        s.ws.close(None).await.expect("close");
    });
    let (client, mut events) = Client::connect(&url, "tok", options())
        .await
        .expect("joined");
    let err = client.set_hand(true).await.expect_err("closed");
    assert!(matches!(err, ClientError::Disconnected(_)), "{err}");
    events
        .wait_for(|e| matches!(e, ClientEvent::Disconnected { .. }), T)
        .await
        .expect("announced");
    assert!(matches!(
        client.set_hand(false).await,
        Err(ClientError::Disconnected(_))
    ));
    server.await.expect("script");
}

#[tokio::test]
async fn wait_for_keeps_the_events_it_skips() {
    let (url, listener) = listen().await;
    let server = tokio::spawn(async move {
        let mut s = accept(&listener).await;
        s.accept_join(1).await;
        for locked in [true, false] {
            s.send(ServerMessage::Event {
                event: ServerEvent::RoomLocked { locked },
            })
            .await;
        }
        s.send(ServerMessage::Slot {
            mid: "4".into(),
            track: None,
        })
        .await;
        s
    });
    let (_client, mut events) = Client::connect(&url, "tok", options())
        .await
        .expect("joined");
    // The slot came last; waiting for it keeps the two events before it.
    let slot = events
        .wait_for(|e| matches!(e, ClientEvent::Slot { .. }), T)
        .await
        .expect("slot");
    assert_eq!(
        slot,
        ClientEvent::Slot {
            mid: "4".into(),
            track: None
        }
    );
    let unlocked = events
        .wait_server(
            |e| match e {
                ServerEvent::RoomLocked { locked: false } => Some(false),
                _ => None,
            },
            T,
        )
        .await
        .expect("kept");
    assert!(!unlocked);
    assert_eq!(
        events.drain(),
        vec![ClientEvent::Server(ServerEvent::RoomLocked {
            locked: true
        })]
    );
    let err = events
        .next(Duration::from_millis(50))
        .await
        .expect_err("nothing more");
    assert!(matches!(err, ClientError::Timeout { .. }));
    server.await.expect("script");
}
