//! TURN allocations fed through the [`crate::correlate::calls::CallStage`] as datagrams.

use super::*;
use crate::correlate::calls::CallLimits;
use crate::correlate::ice::tests::{feed, rtp, stage};
use crate::synth::stun::{
    channel_data, error_response, indication, turn_request, turn_success, ALLOCATE, CHANNEL_BIND,
    CREATE_PERMISSION, DATA_INDICATION, REFRESH, SEND_INDICATION,
};

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const C: &str = "192.168.1.10:50000";
const S: &str = "203.0.113.1:3478";
const R: &str = "203.0.113.1:49152";
const P: &str = "198.51.100.7:7000";

fn tx(n: u32) -> [u8; 12] {
    let mut t = [3u8; 12];
    t[..4].copy_from_slice(&n.to_be_bytes());
    t
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Allocate → 401 → Allocate with credentials → success (relayed `R`, lifetime 600).
fn allocate(st: &mut crate::correlate::calls::CallStage, t: i64, client: &str) {
    feed(
        st,
        t,
        client,
        S,
        &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
    );
    feed(
        st,
        t + MS,
        S,
        client,
        &error_response(ALLOCATE, &tx(1), 401),
    );
    let user = Some(("alice@example.com", "example.com"));
    feed(
        st,
        t + 2 * MS,
        client,
        S,
        &turn_request(ALLOCATE, &tx(2), user, None, None, &[]),
    );
    let ok = turn_success(ALLOCATE, &tx(2), Some(sa(R)), Some(sa(client)), Some(600));
    feed(st, t + 3 * MS, S, client, &ok);
}

#[test]
fn an_allocation_with_permission_channel_and_relayed_rtp_ties_both_legs() {
    let mut st = stage(CallLimits::default());
    let t0 = 100 * SEC;
    allocate(&mut st, t0, C);
    feed(
        &mut st,
        t0 + 10 * MS,
        C,
        S,
        &turn_request(CREATE_PERMISSION, &tx(3), None, None, None, &[sa(P)]),
    );
    feed(
        &mut st,
        t0 + 11 * MS,
        S,
        C,
        &turn_success(CREATE_PERMISSION, &tx(3), None, None, None),
    );
    feed(
        &mut st,
        t0 + 12 * MS,
        C,
        S,
        &turn_request(CHANNEL_BIND, &tx(4), None, None, Some(0x4001), &[sa(P)]),
    );
    feed(
        &mut st,
        t0 + 13 * MS,
        S,
        C,
        &turn_success(CHANNEL_BIND, &tx(4), None, None, None),
    );
    for i in 0..50u16 {
        let t = t0 + 20 * MS + i64::from(i) * 20 * MS;
        // Client → server in ChannelData, then server (relayed address) → peer, plain.
        feed(&mut st, t, C, S, &channel_data(0x4001, &rtp(0xC1, i)));
        feed(&mut st, t + MS, R, P, &rtp(0xC1, i));
        // Peer → relayed address, then server → client in ChannelData.
        feed(&mut st, t + 2 * MS, P, R, &rtp(0xD2, i));
        feed(
            &mut st,
            t + 3 * MS,
            S,
            C,
            &channel_data(0x4001, &rtp(0xD2, i)),
        );
    }
    // A Send indication to the peer, and a Data indication back.
    feed(
        &mut st,
        t0 + 2 * SEC,
        C,
        S,
        &indication(SEND_INDICATION, &tx(5), sa(P), &rtp(0xC1, 60)),
    );
    feed(
        &mut st,
        t0 + 2 * SEC,
        S,
        C,
        &indication(DATA_INDICATION, &tx(6), sa(P), &rtp(0xD2, 60)),
    );
    // Refresh with LIFETIME 0 deletes it.
    feed(
        &mut st,
        t0 + 3 * SEC,
        C,
        S,
        &turn_request(REFRESH, &tx(7), None, Some(0), None, &[]),
    );
    assert_eq!(st.turn.len(), 1);
    feed(
        &mut st,
        t0 + 3 * SEC + MS,
        S,
        C,
        &turn_success(REFRESH, &tx(7), None, None, Some(0)),
    );
    assert_eq!(st.turn.len(), 0, "deleted at once");
    let (ice, turn) = st.drain();
    assert!(ice.is_empty());
    let [a] = &turn[..] else { panic!("{turn:?}") };
    assert_eq!(
        (a.kind, a.outcome, a.ended_by),
        ("turn", "relayed", "deleted")
    );
    assert_eq!((a.client.as_str(), a.server.as_str()), (C, S));
    assert_eq!(a.relayed_address.as_deref(), Some(R));
    assert_eq!(a.lifetime_secs, Some(600));
    assert_eq!(a.requested_transport.as_deref(), Some("udp"));
    assert_eq!(a.errors, BTreeMap::from([(401, 1)]));
    assert_eq!(a.permissions, ["198.51.100.7"]);
    assert_eq!(
        a.channels,
        [ChannelRecord {
            channel: 0x4001,
            peer: P.into()
        }]
    );
    assert_eq!((a.client_packets, a.relayed_packets), (102, 100));
    // The user name and realm are hashed, never shown.
    let user = a.username.as_deref().unwrap();
    assert!(user.starts_with("h:") && !user.contains("alice"), "{user}");
    assert!(a.realm.as_deref().is_some_and(|r| r.starts_with("h:")));
    // Each stream on both legs, tied by the peer (and the SSRC TURN leaves alone).
    let leg = |ssrc: u32, leg: &str| {
        a.streams
            .iter()
            .filter(|r| r.ssrc == ssrc && r.leg == Some(leg))
            .map(|r| (r.src.as_str(), r.dst.as_str(), r.peer.as_deref()))
            .collect::<Vec<_>>()
    };
    assert_eq!(leg(0xC1, "client"), [(C, S, Some(P))]);
    assert_eq!(leg(0xC1, "relayed"), [(R, P, Some(P))]);
    assert_eq!(leg(0xD2, "relayed"), [(P, R, Some(P))]);
    assert_eq!(leg(0xD2, "client"), [(S, C, Some(P))]);
    let c = st.turn.counters();
    assert_eq!((c.challenges, c.errors, c.deletes), (1, 0, 1));
    assert_eq!(
        (c.channel_data, c.send_indications, c.data_indications),
        (100, 1, 1)
    );
}

/// coturn binds channels in RFC 5766's range (up to 0x7FFF; RFC 8656 stops at 0x4FFF): the
/// bind and the ChannelData on it are the allocation's, and a QUIC-like datagram in the same
/// first-byte range whose length field does not fit is not ChannelData.
#[test]
fn a_channel_in_rfc5766_range_is_bound_and_carries_data() {
    let mut st = stage(CallLimits::default());
    let t0 = 100 * SEC;
    allocate(&mut st, t0, C);
    let bind = turn_request(CHANNEL_BIND, &tx(4), None, None, Some(0x7d37), &[sa(P)]);
    feed(&mut st, t0 + 10 * MS, C, S, &bind);
    let ok = turn_success(CHANNEL_BIND, &tx(4), None, None, None);
    feed(&mut st, t0 + 11 * MS, S, C, &ok);
    for i in 0..5u16 {
        let t = t0 + 20 * MS + i64::from(i) * 20 * MS;
        feed(&mut st, t, C, S, &channel_data(0x7d37, &rtp(0xC1, i)));
    }
    // A QUIC short header (first byte 0x40..=0x7F) whose bytes 2..4 are no length of its own.
    let mut quic = vec![0x5a, 0x11, 0x7e, 0x01];
    quic.extend_from_slice(&[0xab; 40]);
    feed(&mut st, t0 + SEC, C, S, &quic);
    st.finish();
    let (_, turn) = st.drain();
    let [a] = &turn[..] else { panic!("{turn:?}") };
    assert_eq!(
        a.channels,
        [ChannelRecord {
            channel: 0x7d37,
            peer: P.into()
        }]
    );
    assert_eq!(a.permissions, ["198.51.100.7"]);
    assert_eq!(a.client_packets, 5);
    let c = st.turn.counters();
    assert_eq!((c.channel_binds, c.channel_data), (1, 5));
    let client: Vec<_> = a
        .streams
        .iter()
        .map(|r| (r.ssrc, r.peer.as_deref()))
        .collect();
    assert_eq!(client, [(0xC1, Some(P))]);
}

#[test]
fn usernames_are_kept_only_when_configured() {
    let mut limits = CallLimits::default();
    limits.turn.keep_usernames = true;
    let mut st = stage(limits);
    allocate(&mut st, 0, C);
    st.finish();
    let (_, turn) = st.drain();
    assert_eq!(turn[0].username.as_deref(), Some("alice@example.com"));
    assert_eq!(turn[0].outcome, "allocated");
}

#[test]
fn an_allocation_failure_is_counted_by_code_and_a_lone_challenge_is_not_a_failure() {
    let mut st = stage(CallLimits::default());
    feed(
        &mut st,
        0,
        C,
        S,
        &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
    );
    feed(&mut st, MS, S, C, &error_response(ALLOCATE, &tx(1), 401));
    feed(
        &mut st,
        2 * MS,
        C,
        S,
        &turn_request(ALLOCATE, &tx(2), Some(("u", "r")), None, None, &[]),
    );
    feed(
        &mut st,
        3 * MS,
        S,
        C,
        &error_response(ALLOCATE, &tx(2), 486),
    );
    // Another client gets only the challenge and gives up; a third never gets an answer.
    let c2 = "192.168.1.11:50000";
    feed(
        &mut st,
        0,
        c2,
        S,
        &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
    );
    feed(&mut st, MS, S, c2, &error_response(ALLOCATE, &tx(1), 401));
    let c3 = "192.168.1.12:50000";
    feed(
        &mut st,
        0,
        c3,
        S,
        &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
    );
    st.finish();
    let (_, mut turn) = st.drain();
    turn.sort_by(|a, b| a.client.cmp(&b.client));
    let got: Vec<_> = turn
        .iter()
        .map(|a| (a.client.as_str(), a.outcome))
        .collect();
    assert_eq!(
        got,
        [(C, "failed"), (c2, "unauthenticated"), (c3, "no_response")]
    );
    assert_eq!(turn[0].errors, BTreeMap::from([(401, 1), (486, 1)]));
    assert_eq!(st.turn.error_codes(), &BTreeMap::from([(401, 2), (486, 1)]));
    let c = st.turn.counters();
    assert_eq!((c.allocate_requests, c.challenges, c.errors), (4, 2, 1));
}

#[test]
fn lifetimes_and_idleness_end_allocations() {
    let limits = CallLimits::default();
    let mut st = stage(limits.clone());
    allocate(&mut st, 0, C);
    // Refreshed to 60 s, then silence: the lifetime runs out before the idle timeout.
    feed(
        &mut st,
        SEC,
        C,
        S,
        &turn_request(REFRESH, &tx(9), None, Some(60), None, &[]),
    );
    feed(
        &mut st,
        SEC + MS,
        S,
        C,
        &turn_success(REFRESH, &tx(9), None, None, Some(60)),
    );
    st.expire(60 * SEC);
    assert_eq!(st.turn.len(), 1);
    st.expire(62 * SEC);
    assert_eq!(st.turn.len(), 0);
    // A request never answered: idle.
    feed(
        &mut st,
        100 * SEC,
        C,
        S,
        &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
    );
    st.expire(100 * SEC + limits.turn.idle_timeout_ns);
    let (_, turn) = st.drain();
    let got: Vec<_> = turn.iter().map(|a| (a.ended_by, a.outcome)).collect();
    assert_eq!(got, [("lifetime", "allocated"), ("idle", "no_response")]);
    let c = st.turn.counters();
    assert_eq!((c.expired_lifetime, c.expired_idle), (1, 1));
}

#[test]
fn a_flood_of_allocations_stays_under_the_cap_with_evictions_counted() {
    let mut limits = CallLimits::default();
    limits.turn.max_allocations = 50;
    let mut st = stage(limits);
    for i in 0..10_000u32 {
        let c = format!("10.2.{}.{}:{}", i / 250 % 250, i % 250, 2000 + i % 50_000);
        feed(
            &mut st,
            i64::from(i) * MS,
            &c,
            S,
            &turn_request(ALLOCATE, &tx(i), None, None, None, &[]),
        );
        // A flood of bogus ChannelBinds for each (out-of-range channels are refused).
        let bad = turn_request(CHANNEL_BIND, &tx(i + 1), None, None, Some(0x3fff), &[sa(P)]);
        feed(&mut st, i64::from(i) * MS, &c, S, &bad);
        assert!(st.turn.len() <= 50);
    }
    let c = st.turn.counters();
    assert_eq!((c.allocations, c.evicted_table_full), (10_000, 9_950));
    assert_eq!(st.drain().1.len(), 9_950);
}

#[test]
fn a_kept_user_name_is_cut() {
    let mut limits = CallLimits::default();
    limits.turn.keep_usernames = true;
    let mut st = stage(limits);
    let long = "u".repeat(400);
    let req = turn_request(ALLOCATE, &tx(1), Some((&long, "r")), None, None, &[]);
    feed(&mut st, 0, C, S, &req);
    st.finish();
    let (_, turn) = st.drain();
    assert_eq!(turn[0].username.as_deref().map(str::len), Some(MAX_NAME));
}
