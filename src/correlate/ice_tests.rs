//! ICE sessions fed through the [`CallStage`] as datagrams, with simulated capture time.

use super::*;
use crate::correlate::calls::{CallLimits, CallStage};
use crate::synth::stun::{binding_success, error_response, ice_check};
use crate::wire::Datagram;

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;

pub(crate) fn feed(st: &mut CallStage, now: i64, src: &str, dst: &str, payload: &[u8]) {
    let dg = Datagram {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        payload,
        wire_len: payload.len(),
        vlan: None,
    };
    st.on_datagram(now, &dg, ObservationPointDefault::point());
}

/// The default observation point (the capture's own).
pub(crate) struct ObservationPointDefault;
impl ObservationPointDefault {
    pub(crate) fn point() -> crate::engine::ObservationPoint {
        crate::engine::ObservationPoint::default()
    }
}

pub(crate) fn stage(limits: CallLimits) -> CallStage {
    CallStage::new(&limits, crate::engine::PointNames::shared("test"))
}

/// A 12-byte RTP header (PT 111) with `ssrc` and sequence number `seq`, and some payload.
pub(crate) fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut b = vec![0x80, 111];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&[0xab; 40]);
    b
}

fn tx(n: u32) -> [u8; 12] {
    let mut t = [7u8; 12];
    t[..4].copy_from_slice(&n.to_be_bytes());
    t
}

const A: &str = "10.0.0.1:5000";
const B: &str = "10.0.0.2:6000";
const B2: &str = "192.0.2.2:6001";

/// A's check to `to` (USERNAME `bbbb:aaaa`: remote ufrag first) answered by `to` after
/// `rtt` (none when `rtt` is `None`).
fn a_checks(st: &mut CallStage, now: i64, n: u32, to: &str, nominate: bool, rtt: Option<i64>) {
    feed(
        st,
        now,
        A,
        to,
        &ice_check(&tx(n), "bbbb:aaaa", true, nominate),
    );
    if let Some(r) = rtt {
        feed(
            st,
            now + r,
            to,
            A,
            &binding_success(&tx(n), A.parse().unwrap()),
        );
    }
}

#[test]
fn a_successful_session_with_nomination_media_and_consent() {
    let mut st = stage(CallLimits::default());
    let t0 = 1_000 * SEC;
    // Two pairs checked; only the first answers.
    a_checks(&mut st, t0, 1, B, false, Some(20 * MS));
    a_checks(&mut st, t0 + MS, 2, B2, false, None);
    // B's own check of the same pair, the other way round (its USERNAME reversed).
    feed(
        &mut st,
        t0 + 5 * MS,
        B,
        A,
        &ice_check(&tx(3), "aaaa:bbbb", false, false),
    );
    feed(
        &mut st,
        t0 + 6 * MS,
        A,
        B,
        &binding_success(&tx(3), B.parse().unwrap()),
    );
    // Nomination (regular), answered: the pair is selected.
    a_checks(&mut st, t0 + 50 * MS, 4, B, true, Some(30 * MS));
    for i in 0..100u16 {
        feed(
            &mut st,
            t0 + 100 * MS + i64::from(i) * 20 * MS,
            A,
            B,
            &rtp(0xA1, i),
        );
    }
    // Consent freshness (RFC 7675) after selection.
    a_checks(&mut st, t0 + 5 * SEC, 5, B, false, Some(25 * MS));
    assert_eq!(st.ice.len(), 1);
    st.finish();
    let (ice, turn) = st.drain();
    assert!(turn.is_empty());
    let [s] = &ice[..] else {
        panic!("one session: {ice:?}")
    };
    assert_eq!((s.kind, s.outcome, s.mode), ("ice", "connected", "full"));
    assert_eq!(s.ufrags, ["aaaa".to_string(), "bbbb".to_string()]);
    assert_eq!(s.controlling, Some(0), "aaaa announced ICE-CONTROLLING");
    assert_eq!((s.checks, s.answers), (5, 4));
    assert_eq!(s.selected_pair, Some(0));
    let p = &s.pairs[0];
    assert_eq!((p.a.as_str(), p.b.as_str()), (A, B));
    assert_eq!(
        (p.checks, p.answers, p.nominated, p.selected),
        (4, 4, true, true)
    );
    assert_eq!((p.consent_checks, p.consent_answers), (1, 1));
    assert_eq!(p.media_packets, 100);
    assert_eq!(p.rtt_ms_min, Some(1.0));
    assert_eq!(p.rtt_ms_max, Some(30.0));
    assert_eq!(p.rtt_ms_mean, Some((20.0 + 1.0 + 30.0 + 25.0) / 4.0));
    let q = &s.pairs[1];
    assert_eq!((q.checks, q.answers, q.selected), (1, 0, false));
    assert_eq!(s.streams.len(), 1);
    assert_eq!((s.streams[0].src.as_str(), s.streams[0].ssrc), (A, 0xA1));
    assert_eq!(s.streams[0].observed_at, "test");
    assert_eq!(s.start, crate::engine::record::rfc3339_micros(t0));
    assert_eq!(s.ended_by, "end_of_capture");
}

#[test]
fn checks_without_answers_fail_and_answers_without_media_are_no_media() {
    let mut st = stage(CallLimits::default());
    for i in 0..5 {
        a_checks(&mut st, i64::from(i) * 100 * MS, i, B, false, None);
    }
    // Another session whose checks are answered but never followed by media.
    feed(
        &mut st,
        0,
        "10.9.9.9:1",
        "10.9.9.8:2",
        &ice_check(&tx(90), "xx:yy", true, true),
    );
    feed(
        &mut st,
        MS,
        "10.9.9.8:2",
        "10.9.9.9:1",
        &binding_success(&tx(90), A.parse().unwrap()),
    );
    // An error answer (487 Role Conflict) is not an answer.
    feed(
        &mut st,
        2 * MS,
        A,
        B,
        &ice_check(&tx(91), "bbbb:aaaa", true, false),
    );
    feed(&mut st, 3 * MS, B, A, &error_response(0x001, &tx(91), 487));
    st.finish();
    let (mut ice, _) = st.drain();
    ice.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ice.len(), 2);
    assert_eq!(
        (ice[0].outcome, ice[0].mode, ice[0].answers),
        ("failed", "unknown", 0)
    );
    assert_eq!(ice[0].pairs[0].error_answers, 1);
    assert_eq!(ice[1].outcome, "no_media");
    assert_eq!(st.ice.counters().error_answers, 1);
}

#[test]
fn an_ice_lite_agent_answers_but_never_checks() {
    let mut st = stage(CallLimits::default());
    a_checks(&mut st, 0, 1, B, true, Some(2 * MS));
    feed(&mut st, 10 * MS, B, A, &rtp(0xB2, 1));
    st.finish();
    let (ice, _) = st.drain();
    assert_eq!((ice[0].outcome, ice[0].mode), ("connected", "lite"));
    assert_eq!(ice[0].streams[0].src, B);
}

#[test]
fn idle_sessions_expire_and_plain_stun_is_not_a_session() {
    let limits = CallLimits::default();
    let mut st = stage(limits.clone());
    // A server-reflexive lookup (no USERNAME) makes no session.
    feed(
        &mut st,
        0,
        A,
        "198.51.100.1:3478",
        &crate::synth::stun::binding_request(&tx(1), "", 0, 0)[..],
    );
    a_checks(&mut st, 0, 2, B, false, Some(MS));
    st.expire(limits.ice.idle_timeout_ns - 1);
    assert_eq!(st.ice.len(), 1);
    st.expire(limits.ice.idle_timeout_ns + MS);
    assert_eq!(st.ice.len(), 0);
    let (ice, _) = st.drain();
    assert_eq!(ice.len(), 1);
    assert_eq!((ice[0].ended_by, ice[0].outcome), ("idle", "no_media"));
    assert_eq!(st.ice.counters().expired_idle, 1);
    // RTP on the old pair is now nobody's.
    feed(&mut st, 40 * SEC, A, B, &rtp(1, 1));
    assert!(st.ice.is_empty());
}

#[test]
fn a_flood_of_sessions_stays_under_the_cap_with_evictions_counted() {
    let mut limits = CallLimits::default();
    limits.ice.max_sessions = 100;
    let mut st = stage(limits);
    let n = 20_000u32;
    for i in 0..n {
        let user = format!("r{i}:l{i}");
        let src = format!("10.1.{}.{}:{}", i / 250 % 250, i % 250, 1024 + i % 60_000);
        feed(
            &mut st,
            i64::from(i) * MS,
            &src,
            B,
            &ice_check(&tx(i), &user, true, false),
        );
        assert!(st.ice.len() <= 100);
    }
    let c = *st.ice.counters();
    assert_eq!(
        (c.sessions, c.evicted_table_full),
        (u64::from(n), u64::from(n) - 100)
    );
    // Unanswered checks are bounded too.
    assert!(st.ice.pending_len() <= MAX_PENDING);
    let (ice, _) = st.drain();
    assert_eq!(ice.len(), n as usize - 100);
    assert!(ice
        .iter()
        .all(|s| s.ended_by == "evicted" && s.outcome == "failed"));
}

#[test]
fn hostile_usernames_are_cut_and_never_panic() {
    let mut st = stage(CallLimits::default());
    let long = format!("{}:{}", "x".repeat(500), "y".repeat(500));
    for u in [":", "a:", ":b", "nocolon", &long, "a:b:c"] {
        feed(&mut st, 0, A, B, &ice_check(&tx(1), u, true, false));
    }
    st.finish();
    let (ice, _) = st.drain();
    // "a:" ":b" ":" "nocolon" make nothing; the long one is cut; "a:b:c" is (a, b:c).
    assert_eq!(ice.len(), 2);
    assert!(ice
        .iter()
        .all(|s| s.ufrags.iter().all(|u| u.len() <= MAX_UFRAG)));
}
