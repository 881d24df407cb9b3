//! Hostile or broken clients over real sockets: whatever a client does or fails to do, the
//! server frees its connection within the configured deadlines.

mod common;

use caucus_server::Config;
use common::{Client, start_with};

/// A client that opens the socket and then does nothing at all — not even read — is closed
/// by the join deadline.
#[tokio::test]
async fn a_client_that_never_joins_is_closed_by_the_join_deadline() {
    let config = Config {
        join_timeout_s: 1,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let mut client = Client::connect(&server).await;
    let error = client.error().await;
    assert_eq!(error["error"]["code"], "unauthorized", "{error}");
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(frame.reason.as_str(), "no join");
    server.shutdown().await;
}
