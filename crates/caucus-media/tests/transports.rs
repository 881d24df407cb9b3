//! Where clients reach the engine: ICE over TCP, several local addresses, stacks that read
//! candidates per media section, and receive-only clients that offer no media section.

mod common;

use std::net::SocketAddr;

use caucus_media::{LocalCandidate, Transport};
use common::{Net, Spec, server_addr};

/// Alice publishes, bob receives 20 rounds of both kinds, in order.
fn bob_receives_alice(net: &mut Net) {
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    net.run_for(common::TICK * 4);
    for _ in 0..20 {
        net.send_round(&["alice"]);
    }
    net.run_for(common::TICK * 4);
    for kind in ["audio", "video"] {
        let got: Vec<String> = net
            .client("bob")
            .got("alice", kind)
            .iter()
            .map(|r| r.payload.clone())
            .collect();
        let expected: Vec<String> = (0..20).map(|n| format!("alice/{kind}/{n}")).collect();
        assert_eq!(got, expected, "bob's {kind} from alice");
    }
}

#[test]
fn media_flows_over_ice_tcp() {
    let mut net = Net::with_config(|c| c.candidates = vec![LocalCandidate::tcp(server_addr())]);
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());
    bob_receives_alice(&mut net);
    assert!(
        net.sent_from.keys().all(|(t, _)| *t == Transport::Tcp),
        "every transmit goes back on the TCP connections: {:?}",
        net.sent_from
    );
}

#[test]
fn the_engine_answers_on_whichever_of_its_addresses_the_client_reaches() {
    // A 1:1 NAT: the bound address is unreachable from the client, the public one works.
    let private: SocketAddr = "10.0.0.1:7882".parse().unwrap();
    let public: SocketAddr = "203.0.113.7:7882".parse().unwrap();
    let mut net = Net::with_config(|c| {
        c.candidates = vec![LocalCandidate::udp(private), LocalCandidate::udp(public)]
    });
    net.blackholed.push(private);
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());
    bob_receives_alice(&mut net);
    assert!(
        net.sent_from.contains_key(&(Transport::Udp, public)),
        "media leaves from the public address: {:?}",
        net.sent_from
    );
}

/// The `a=` lines of every media section of `sdp` that is not rejected.
fn live_sections(sdp: &str) -> Vec<Vec<&str>> {
    let mut sections: Vec<Vec<&str>> = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            sections.push(vec![line]);
        } else if let Some(s) = sections.last_mut() {
            s.push(line);
        }
    }
    sections.retain(|s| s[0].split(' ').nth(1) != Some("0"));
    sections
}

#[test]
fn every_media_section_names_every_candidate_and_their_end() {
    let v6: SocketAddr = "[2001:db8::1]:7882".parse().unwrap();
    let tcp: SocketAddr = "10.0.0.1:7881".parse().unwrap();
    let mut net = Net::with_config(|c| {
        c.candidates.push(LocalCandidate::udp(v6));
        c.candidates.push(LocalCandidate::tcp(tcp));
    });
    net.join_start(
        "alice",
        Spec {
            recv_video: 2,
            ..Spec::publisher()
        },
    );
    let (_, answer) = net.answers.last().cloned().expect("an answer");
    let sections = live_sections(&answer);
    assert_eq!(sections.len(), 4, "{answer}");
    for s in &sections {
        let candidates: Vec<&&str> = s.iter().filter(|l| l.starts_with("a=candidate:")).collect();
        assert_eq!(candidates.len(), 3, "{s:?}");
        assert!(
            candidates
                .iter()
                .any(|c| c.contains("10.0.0.1 7882 typ host"))
        );
        assert!(
            candidates
                .iter()
                .any(|c| c.contains("2001:db8::1 7882 typ host"))
        );
        assert!(
            candidates
                .iter()
                .any(|c| c.contains("7881 typ host tcptype passive"))
        );
        assert!(s.contains(&"a=end-of-candidates"), "{s:?}");
    }
}

#[test]
fn a_receiver_that_offers_no_media_section_is_answered_and_then_offered_what_it_receives() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    let (_, answer) = net.join_without_media_lines("bob");
    assert!(!answer.contains("m="), "nothing to answer: {answer}");
    assert!(
        !net.client("bob").connected,
        "no transport was negotiated yet"
    );
    let offers = net.offers;
    bob_receives_alice(&mut net);
    assert_eq!(
        net.offers,
        offers + 1,
        "one engine offer brought bob's m-lines"
    );
    assert!(net.client("bob").connected);
}
