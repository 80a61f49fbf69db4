//! What coturn and the clients logged, and the probe's report held against it.
//!
//! coturn (`-v --log-file stdout`) logs per session: its relayed address (`Local relay addr`
//! just before `session S: new`), each request it processed with success or the error code,
//! each lifetime (`new`/`refreshed … lifetime=N`, 0 when deleted) and, when a deleted session
//! closes, its client address (`remote …`) and its traffic with the peers (`peer usage: rp=,
//! sp=`: datagrams received from and sent to peers on the relayed address).
//! `turnutils_uclient -v` prints each allocation's client address (`Connected from`), relayed
//! address and the channel number of each ChannelBind success. baresip prints where each
//! side's RTP comes from: the caller hears the peer, the callee hears the relayed address.

use crate::{PEER_IP, PEER_PORT, RELAY_IP, SERVER_IP};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One coturn session (= one allocation).
#[derive(Debug, Default, Clone)]
pub struct Session {
    pub relayed: Option<String>,
    /// The last non-zero lifetime granted.
    pub lifetime: Option<u64>,
    pub deleted: bool,
    /// From the `closed` line.
    pub client: Option<String>,
    /// Datagrams from and to peers on the relayed address (`peer usage`).
    pub peer_rp: Option<u64>,
    pub peer_sp: Option<u64>,
}

/// coturn's log of one scenario.
#[derive(Debug, Default)]
pub struct Coturn {
    pub sessions: BTreeMap<String, Session>,
    /// `incoming packet <METHOD> processed, success`, by method.
    pub successes: BTreeMap<String, u64>,
    /// `processed, error <code>`, by code.
    pub errors: BTreeMap<u64, u64>,
}

/// The text after `key` up to the next space or comma.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    Some(rest.split([' ', ',']).next().unwrap_or(rest))
}

impl Coturn {
    pub fn parse(log: &str) -> Coturn {
        let mut c = Coturn::default();
        let mut last_relay = None;
        for line in log.lines() {
            if let Some(r) = after(line, "Local relay addr: ") {
                last_relay = Some(r.to_owned());
                continue;
            }
            if let Some(m) = after(line, "incoming packet ") {
                if line.ends_with("processed, success") {
                    *c.successes.entry(m.to_owned()).or_default() += 1;
                } else if let Some(code) = after(line, "processed, error ") {
                    let code = code.trim_end_matches(':').parse().unwrap_or(0);
                    *c.errors.entry(code).or_default() += 1;
                }
                continue;
            }
            let Some(id) = after(line, "session ").map(|s| s.trim_end_matches(':').to_owned())
            else {
                continue;
            };
            let s = c.sessions.entry(id).or_default();
            if line.contains(": new, ") {
                s.relayed = last_relay.take();
            }
            if line.contains(": new, ") || line.contains(": refreshed, ") {
                match after(line, "lifetime=").and_then(|l| l.parse().ok()) {
                    Some(0) => s.deleted = true,
                    Some(l) => s.lifetime = Some(l),
                    None => {}
                }
            }
            if line.contains(": peer usage: ") {
                s.peer_rp = after(line, "rp=").and_then(|n| n.parse().ok());
                s.peer_sp = after(line, "sp=").and_then(|n| n.parse().ok());
            }
            if line.contains(": closed (2nd stage)") {
                s.client = after(line, "remote ").map(str::to_owned);
            }
        }
        // Sessions named only by request lines from before (none expected) are dropped.
        c.sessions.retain(|_, s| s.relayed.is_some());
        c
    }

    /// Every deleted session has logged its usage and client.
    pub fn all_closed(&self) -> bool {
        !self.sessions.is_empty()
            && self
                .sessions
                .values()
                .all(|s| !s.deleted || (s.client.is_some() && s.peer_rp.is_some()))
    }

    fn success(&self, method: &str) -> u64 {
        self.successes.get(method).copied().unwrap_or(0)
    }

    fn by_relayed(&self, relayed: &str) -> Option<&Session> {
        self.sessions
            .values()
            .find(|s| s.relayed.as_deref() == Some(relayed))
    }
}

/// One allocation as turnutils_uclient printed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UclientAlloc {
    pub client: String,
    pub relayed: String,
    pub channels: BTreeSet<u64>,
}

/// turnutils_uclient's allocations and its totals (messages sent, received).
pub fn parse_uclient(out: &str) -> (Vec<UclientAlloc>, Option<(u64, u64)>) {
    let mut allocs: Vec<UclientAlloc> = Vec::new();
    let mut client = None;
    let mut totals = None;
    for line in out.lines() {
        if let Some(a) = after(line, "Connected from: ") {
            client = Some(a.to_owned());
        } else if let Some(r) = after(line, "Received relay addr: ") {
            if let Some(c) = client.take() {
                allocs.push(UclientAlloc {
                    client: c,
                    relayed: r.to_owned(),
                    channels: BTreeSet::new(),
                });
            }
        } else if let Some(ch) = after(line, ": success: 0x") {
            if let (Some(a), Ok(n)) = (allocs.last_mut(), u64::from_str_radix(ch, 16)) {
                a.channels.insert(n);
            }
        } else if line.contains("start_mclient: tot_send_msgs=") {
            let n = |k| after(line, k).and_then(|n| n.parse().ok());
            if let (Some(s), Some(r)) = (n("tot_send_msgs="), n("tot_recv_msgs=")) {
                totals = Some((s, r));
            }
        }
    }
    (allocs, totals)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Problems collected by [`eq`].
struct Checks(Vec<String>);

impl Checks {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, probe: T, truth: T) {
        if probe != truth {
            self.0
                .push(format!("{what}: probe {probe:?}, truth {truth:?}"));
        }
    }
    fn ok(&mut self, what: &str, cond: bool) {
        if !cond {
            self.0.push(what.to_owned());
        }
    }
}

/// The counters every scenario shares: each request coturn answered is one the probe paired.
fn counters(c: &mut Checks, turn: &Value, coturn: &Coturn) {
    let deleted = coturn.sessions.values().filter(|s| s.deleted).count() as u64;
    let other_errors: u64 = coturn
        .errors
        .iter()
        .filter(|(code, _)| !matches!(code, 401 | 438))
        .map(|(_, n)| n)
        .sum();
    let challenges = coturn.errors.get(&401).copied().unwrap_or(0)
        + coturn.errors.get(&438).copied().unwrap_or(0);
    for (key, truth) in [
        ("allocations", coturn.sessions.len() as u64),
        ("allocate_successes", coturn.success("ALLOCATE")),
        ("challenges", challenges),
        ("errors", other_errors),
        ("refreshes", coturn.success("REFRESH")),
        ("deletes", deleted),
        ("permissions", coturn.success("CREATE_PERMISSION")),
        ("channel_binds", coturn.success("CHANNEL_BIND")),
    ] {
        c.eq(&format!("ice_turn.turn.{key}"), u(&turn[key]), truth);
    }
    c.eq(
        "send/data indications",
        u(&turn["send_indications"]) + u(&turn["data_indications"]),
        0,
    );
    c.eq(
        "evicted, dropped entries",
        u(&turn["evicted_table_full"]) + u(&turn["dropped_entries"]),
        0,
    );
}

/// Each probe allocation against coturn's session with the same relayed address.
fn allocation(c: &mut Checks, a: &Value, coturn: &Coturn) -> Option<Session> {
    let relayed = s(&a["relayed_address"]);
    let Some(sess) = coturn.by_relayed(relayed) else {
        c.0.push(format!("allocation {relayed}: no coturn session has it"));
        return None;
    };
    let what = |k: &str| format!("allocation {relayed}: {k}");
    c.eq(
        &what("server"),
        s(&a["server"]),
        &format!("{SERVER_IP}:3478"),
    );
    c.eq(
        &what("requested_transport"),
        s(&a["requested_transport"]),
        "udp",
    );
    c.eq(
        &what("lifetime_secs"),
        a["lifetime_secs"].as_u64(),
        sess.lifetime,
    );
    c.eq(
        &what("errors"),
        a["errors"].to_string(),
        r#"{"401":1}"#.to_owned(),
    );
    c.eq(
        &what("ended_by"),
        s(&a["ended_by"]),
        if sess.deleted {
            "deleted"
        } else {
            "end_of_capture"
        },
    );
    if sess.deleted {
        c.eq(
            &what("client (coturn's remote)"),
            Some(s(&a["client"])),
            sess.client.as_deref(),
        );
    }
    // A ChannelBind installs a permission for its peer (RFC 8656 §12.2), as coturn does.
    let channels = a["channels"].as_array().cloned().unwrap_or_default();
    let perms: Vec<&str> = a["permissions"]
        .as_array()
        .map_or(Vec::new(), |p| p.iter().map(s).collect());
    c.eq(
        &what("permissions"),
        perms,
        if channels.is_empty() {
            vec![]
        } else {
            vec![PEER_IP]
        },
    );
    for ch in &channels {
        let peer = s(&ch["peer"]);
        c.ok(
            &format!(
                "allocation {relayed}: channel {} to {peer}, not the peer",
                ch["channel"]
            ),
            peer.starts_with(&format!("{PEER_IP}:")),
        );
    }
    Some(sess.clone())
}

/// `uclient_udp`, `uclient_tcp`: allocations, relayed addresses and channels as uclient printed
/// them; the counters as coturn logged; each ChannelData datagram one the relay exchanged with
/// the peer.
pub fn check_uclient(report: &Value, coturn: &Coturn, out: &str, tcp: bool) -> Vec<String> {
    let mut c = Checks(Vec::new());
    let (uclient, totals) = parse_uclient(out);
    let turn = &report["summary"]["ice_turn"]["turn"];
    let allocs = report["turn_allocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Two clients, each an allocation that only allocates and one that relays.
    c.eq("uclient allocations", uclient.len(), 4);
    c.eq("coturn sessions", coturn.sessions.len(), 4);
    counters(&mut c, turn, coturn);
    let mut probe: Vec<UclientAlloc> = allocs
        .iter()
        .map(|a| UclientAlloc {
            client: s(&a["client"]).to_owned(),
            relayed: s(&a["relayed_address"]).to_owned(),
            channels: a["channels"].as_array().map_or(BTreeSet::new(), |v| {
                v.iter().map(|c| u(&c["channel"])).collect()
            }),
        })
        .collect();
    probe.sort();
    let mut truth = uclient.clone();
    truth.sort();
    c.eq("allocations (client, relayed, channels)", &probe, &truth);
    let relays: BTreeSet<String> = coturn
        .sessions
        .values()
        .filter_map(|s| s.relayed.clone())
        .collect();
    let probe_relays: BTreeSet<String> = probe.iter().map(|a| a.relayed.clone()).collect();
    c.eq("relayed addresses (coturn)", probe_relays, relays);
    let mut client_packets = 0;
    let mut carried = 0;
    for a in &allocs {
        let Some(sess) = allocation(&mut c, a, coturn) else {
            continue;
        };
        let relayed = s(&a["relayed_address"]);
        c.ok(
            &format!("{relayed}: not on the relay address"),
            relayed.starts_with(RELAY_IP),
        );
        let data = sess.peer_rp.unwrap_or(0) + sess.peer_sp.unwrap_or(0);
        let outcome = if data > 0 { "relayed" } else { "allocated" };
        c.eq(
            &format!("allocation {relayed}: outcome"),
            s(&a["outcome"]),
            outcome,
        );
        // uclient sends on the channel to the echo peer, which answers: each datagram the
        // relay exchanged with the peer is one ChannelData on the client leg.
        c.eq(
            &format!("allocation {relayed}: client_packets"),
            u(&a["client_packets"]),
            data,
        );
        if data > 0 {
            carried += 1;
            let to_echo = a["channels"].as_array().is_some_and(|v| {
                v.iter()
                    .any(|ch| s(&ch["peer"]) == format!("{PEER_IP}:{PEER_PORT}"))
            });
            c.ok(
                &format!("allocation {relayed}: no channel to the echo peer"),
                to_echo,
            );
        }
        // Its payload is not RTP: the relayed leg, followed for RTP only, is not counted.
        c.eq(
            &format!("allocation {relayed}: relayed_packets"),
            u(&a["relayed_packets"]),
            0,
        );
        client_packets += u(&a["client_packets"]);
    }
    c.eq("allocations that carried data", carried, 2);
    let (sent, received) = totals.unwrap_or((u64::MAX, u64::MAX));
    c.eq("uclient messages sent", sent, 2 * crate::UCLIENT_MESSAGES);
    c.eq(
        "client_packets, all allocations (uclient sent + received)",
        client_packets,
        sent + received,
    );
    c.eq(
        "ice_turn.turn.channel_data",
        u(&turn["channel_data"]),
        sent + received,
    );
    if tcp {
        let t = &report["summary"]["tcp"];
        // One connection per allocation, each direction counted.
        c.eq("tcp.turn_connections", u(&t["turn_connections"]), 2 * 4);
        // Every request coturn answered, and its answer, framed out of the byte streams.
        let answered: u64 =
            coturn.successes.values().sum::<u64>() + coturn.errors.values().sum::<u64>();
        c.eq(
            "tcp.turn_stun (coturn's requests and answers)",
            u(&t["turn_stun"]),
            2 * answered,
        );
        c.eq(
            "tcp.turn_channel_data",
            u(&t["turn_channel_data"]),
            sent + received,
        );
        c.eq("tcp gaps, resyncs", u(&t["gaps"]) + u(&t["resyncs"]), 0);
    }
    eprintln!(
        "  {} allocations, {} channels, {} ChannelData; coturn: {:?}",
        allocs.len(),
        probe.iter().map(|a| a.channels.len()).sum::<usize>(),
        client_packets,
        coturn.successes
    );
    c.0
}

/// The address after `receiving from ` in a baresip log.
fn heard_from(log: &str) -> Option<&str> {
    log.lines()
        .find_map(|l| after(l, "incoming rtp for 'audio' established, receiving from "))
}

/// `baresip_udp`: the caller's two allocations (RTP, RTCP) as coturn logged them; the RTP
/// allocation's channel to the peer the caller heard; each RTP stream seen on both legs, tied by
/// its SSRC and peer, its relayed-leg packets those coturn exchanged with the peer.
pub fn check_baresip(report: &Value, coturn: &Coturn, logs: &[String]) -> Vec<String> {
    let mut c = Checks(Vec::new());
    let (caller, callee) = (&logs[0], &logs[1]);
    c.ok(
        "caller: no established call",
        caller.contains("Call established"),
    );
    c.ok(
        "callee: no established call",
        callee.contains("Call established"),
    );
    // The caller hears the peer (its turn module unwraps), the callee the relayed address.
    let peer = heard_from(caller).unwrap_or("?").to_owned();
    let relayed = heard_from(callee).unwrap_or("?").to_owned();
    c.ok(
        &format!("caller hears {peer}, not the peer"),
        peer.starts_with(&format!("{PEER_IP}:")),
    );
    let turn = &report["summary"]["ice_turn"]["turn"];
    c.eq("coturn sessions", coturn.sessions.len(), 2);
    counters(&mut c, turn, coturn);
    let allocs = report["turn_allocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq("allocations", allocs.len(), 2);
    let Some(a) = allocs.iter().find(|a| s(&a["relayed_address"]) == relayed) else {
        c.0.push(format!(
            "no allocation relays {relayed} (the callee's source)"
        ));
        return c.0;
    };
    for a in &allocs {
        allocation(&mut c, a, coturn);
    }
    // The RTP allocation relayed; the RTCP one's outcome depends on timing and is not checked:
    // coturn counts the peer's first RTCP, which can reach the relay before the ChannelBind
    // makes a permission (coturn drops it), and the peer's BYE, relayed before or after the
    // caller's delete (after it, the probe no longer attributes it).
    c.eq("RTP allocation: outcome", s(&a["outcome"]), "relayed");
    let Some(sess) = coturn.by_relayed(&relayed).cloned() else {
        return c.0;
    };
    let channels = a["channels"].as_array().cloned().unwrap_or_default();
    c.eq(
        "RTP allocation: channel peers",
        channels
            .iter()
            .map(|ch| s(&ch["peer"]).to_owned())
            .collect::<Vec<_>>(),
        vec![peer.clone()],
    );
    let client = s(&a["client"]).to_owned();
    let server = format!("{SERVER_IP}:3478");
    let refs = a["streams"].as_array().cloned().unwrap_or_default();
    c.eq("RTP allocation: stream references", refs.len(), 4);
    let ssrcs: BTreeSet<u64> = refs.iter().map(|r| u(&r["ssrc"])).collect();
    c.eq("RTP allocation: SSRCs", ssrcs.len(), 2);
    let streams = report["streams"].as_array().cloned().unwrap_or_default();
    let packets = |src: &str, dst: &str, ssrc: u64| -> Option<u64> {
        streams
            .iter()
            .find(|x| s(&x["src"]) == src && s(&x["dst"]) == dst && u(&x["ssrc"]) == ssrc)
            .map(|x| u(&x["packets"]))
    };
    for ssrc in ssrcs {
        let leg = |l: &str| {
            refs.iter()
                .filter(|r| u(&r["ssrc"]) == ssrc && s(&r["leg"]) == l)
                .map(|r| {
                    (
                        s(&r["src"]).to_owned(),
                        s(&r["dst"]).to_owned(),
                        s(&r["peer"]).to_owned(),
                        s(&r["observed_at"]).to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let (cl, rl) = (leg("client"), leg("relayed"));
        let from_peer = rl.first().is_some_and(|r| r.0 == peer);
        // The same SSRC on both legs, the same peer: the callee's stream comes from the peer to
        // the relayed address and goes on from the server to the client; the caller's the
        // other way round. The client leg is seen on v1, the relayed leg on v2.
        let (want_client, want_relayed) = if from_peer {
            (
                (server.clone(), client.clone()),
                (peer.clone(), relayed.clone()),
            )
        } else {
            (
                (client.clone(), server.clone()),
                (relayed.clone(), peer.clone()),
            )
        };
        let p = peer.clone();
        c.eq(
            &format!("SSRC {ssrc:#x}: client leg"),
            cl.clone(),
            vec![(
                want_client.0.clone(),
                want_client.1.clone(),
                p.clone(),
                "v1".into(),
            )],
        );
        c.eq(
            &format!("SSRC {ssrc:#x}: relayed leg"),
            rl.clone(),
            vec![(
                want_relayed.0.clone(),
                want_relayed.1.clone(),
                p,
                "v2".into(),
            )],
        );
        // coturn's count of the datagrams it received from the peer (rp) or sent to it (sp)
        // on this allocation, against the probe's relayed-leg stream.
        let relayed_n = packets(&want_relayed.0, &want_relayed.1, ssrc);
        let client_n = packets(&want_client.0, &want_client.1, ssrc);
        let coturn_n = if from_peer {
            sess.peer_rp
        } else {
            sess.peer_sp
        };
        c.eq(
            &format!("SSRC {ssrc:#x}: relayed-leg packets (coturn)"),
            relayed_n,
            coturn_n,
        );
        c.eq(
            &format!("SSRC {ssrc:#x}: client-leg packets = relayed-leg"),
            client_n,
            relayed_n,
        );
        eprintln!(
            "  SSRC {ssrc:#010x} {}: client leg {client_n:?}, relayed leg {relayed_n:?}, coturn {coturn_n:?}",
            if from_peer { "peer → client" } else { "client → peer" }
        );
    }
    c.eq(
        "RTP allocation: relayed_packets (coturn rp + sp)",
        a["relayed_packets"].as_u64(),
        Some(sess.peer_rp.unwrap_or(0) + sess.peer_sp.unwrap_or(0)),
    );
    c.0
}
