//! The file-descriptor budget at start, in a test binary of its own (it changes the process's
//! limits): the server raises the soft limit as far as the hard one allows, and under a low
//! hard limit it admits only what the descriptors can hold, refusing the rest with a 503
//! instead of failing to accept (or to open its database).

mod common;

use caucus_server::Config;
use common::{raw, start_with};
use rlimit::Resource;

#[tokio::test]
async fn a_low_descriptor_limit_is_raised_then_connections_are_held_to_what_it_allows() {
    // 256 are kept for the server's own files: 400 leaves 144 for connections.
    Resource::NOFILE
        .set(300, 400)
        .expect("lower the limits (root may)");
    let config = Config {
        max_connections_per_ip: 0,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    assert_eq!(
        Resource::NOFILE.get().expect("limits"),
        (400, 400),
        "the soft limit is raised to the hard one"
    );
    let addr = server.http_addr();
    let mut held = Vec::new();
    for _ in 0..144 {
        held.push(raw::connect_from(raw::loopback(2), addr).await);
    }
    let mut excess = raw::connect_from(raw::loopback(2), addr).await;
    let answer = raw::read_answer(&mut excess).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code(), "too_many_connections");
    let probe = raw::get_from(raw::loopback(1), addr, "/healthz", &[]).await;
    assert_eq!(probe.status, 200, "{probe:?}");
    drop(held);
    server.shutdown().await;
}
