//! Synthetic ICE sessions and TURN allocations as captures: the checks, answers and media of
//! a session, and a TURN allocation's whole life (challenge, Allocate, CreatePermission,
//! ChannelBind, ChannelData both ways, the relayed leg between the relayed address and the peer,
//! Refresh with LIFETIME 0), with the client leg over UDP or, through [`super::tcp::over_tcp`],
//! over TCP while the relayed leg stays UDP (as a TURN server relays over UDP).

use super::frame::{udp_frame, Encap};
use super::stun::{
    binding_success, channel_data, error_response, ice_check, turn_request, turn_success, ALLOCATE,
    CHANNEL_BIND, CREATE_PERMISSION, REFRESH,
};
use super::tcp::{over_tcp, Split, TcpFraming, TcpPlan};
use super::{Frame, FrameKind};
use std::net::SocketAddr;

const MS: i64 = 1_000_000;

/// A 20 ms Opus-like RTP packet (PT 111) of `ssrc`.
pub fn rtp_packet(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut b = vec![0x80, 111];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&(u32::from(seq).wrapping_mul(960)).to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&[0x5a; 60]);
    b
}

fn frame(ts_ns: i64, src: SocketAddr, dst: SocketAddr, payload: &[u8], kind: FrameKind) -> Frame {
    Frame {
        ts_ns,
        linktype: Encap::Ethernet.linktype(),
        bytes: udp_frame(Encap::Ethernet.into(), src, dst, payload),
        kind,
    }
}

fn tx(n: u32) -> [u8; 12] {
    let mut t = [0x11u8; 12];
    t[..4].copy_from_slice(&n.to_be_bytes());
    t
}

/// An ICE session between `a` (controlling, ufrag `ua`) and `b` (ufrag `ub`) from `t0`:
/// `checks` checks of `a` (the last nominating) answered by `b` after `rtt_ns` unless
/// `answered` is false, `b`'s own checks unless `lite`, then `packets` RTP packets each way
/// (SSRCs 0xA0 and 0xB0) when the pair was answered.
#[allow(clippy::too_many_arguments)]
pub fn ice_session(
    t0: i64,
    a: SocketAddr,
    b: SocketAddr,
    (ua, ub): (&str, &str),
    checks: u32,
    answered: bool,
    lite: bool,
    packets: u16,
) -> Vec<Frame> {
    let stun = FrameKind::Noise;
    let mut out = Vec::new();
    let mut t = t0;
    for i in 0..checks {
        let id = tx(i);
        let user = format!("{ub}:{ua}");
        out.push(frame(
            t,
            a,
            b,
            &ice_check(&id, &user, true, i + 1 == checks),
            stun,
        ));
        if answered {
            out.push(frame(t + 15 * MS, b, a, &binding_success(&id, a), stun));
        }
        if !lite {
            let id = tx(1000 + i);
            let user = format!("{ua}:{ub}");
            out.push(frame(
                t + 5 * MS,
                b,
                a,
                &ice_check(&id, &user, false, false),
                stun,
            ));
            if answered {
                out.push(frame(t + 20 * MS, a, b, &binding_success(&id, b), stun));
            }
        }
        t += 50 * MS;
    }
    if answered {
        for i in 0..packets {
            let at = t + i64::from(i) * 20 * MS;
            out.push(frame(
                at,
                a,
                b,
                &rtp_packet(0xA0, i),
                FrameKind::Rtp { stream: 0 },
            ));
            out.push(frame(
                at + MS,
                b,
                a,
                &rtp_packet(0xB0, i),
                FrameKind::Rtp { stream: 1 },
            ));
        }
    }
    out.sort_by_key(|f| f.ts_ns);
    out
}

/// Where a relayed call's parties are.
#[derive(Debug, Clone, Copy)]
pub struct TurnParties {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub relayed: SocketAddr,
    pub peer: SocketAddr,
}

/// A TURN allocation's life from `t0` (see the module docs), `packets` RTP packets each way:
/// SSRC 0xC1 client → peer (ChannelData 0x4001, then relayed), SSRC 0xD2 peer → client.
/// When `error` is set the authenticated Allocate gets that error and nothing follows.
/// `tcp` carries the client leg over TURN-TCP cut every 7 bytes.
pub fn turn_allocation(
    t0: i64,
    p: TurnParties,
    error: Option<u16>,
    packets: u16,
    tcp: bool,
) -> Vec<Frame> {
    let (c, s) = (p.client, p.server);
    let n = FrameKind::Noise;
    let mut client = vec![
        frame(
            t0,
            c,
            s,
            &turn_request(ALLOCATE, &tx(1), None, None, None, &[]),
            n,
        ),
        frame(t0 + MS, s, c, &error_response(ALLOCATE, &tx(1), 401), n),
    ];
    let user = Some(("alice", "example.org"));
    client.push(frame(
        t0 + 2 * MS,
        c,
        s,
        &turn_request(ALLOCATE, &tx(2), user, None, None, &[]),
        n,
    ));
    let mut relayed = Vec::new();
    if let Some(code) = error {
        client.push(frame(
            t0 + 3 * MS,
            s,
            c,
            &error_response(ALLOCATE, &tx(2), code),
            n,
        ));
    } else {
        let ok = turn_success(ALLOCATE, &tx(2), Some(p.relayed), Some(c), Some(600));
        client.push(frame(t0 + 3 * MS, s, c, &ok, n));
        let perm = turn_request(CREATE_PERMISSION, &tx(3), user, None, None, &[p.peer]);
        client.push(frame(t0 + 10 * MS, c, s, &perm, n));
        let ok = turn_success(CREATE_PERMISSION, &tx(3), None, None, None);
        client.push(frame(t0 + 11 * MS, s, c, &ok, n));
        let bind = turn_request(CHANNEL_BIND, &tx(4), user, None, Some(0x4001), &[p.peer]);
        client.push(frame(t0 + 12 * MS, c, s, &bind, n));
        client.push(frame(
            t0 + 13 * MS,
            s,
            c,
            &turn_success(CHANNEL_BIND, &tx(4), None, None, None),
            n,
        ));
        let start = t0 + 20 * MS;
        for i in 0..packets {
            let at = start + i64::from(i) * 20 * MS;
            let (up, down) = (rtp_packet(0xC1, i), rtp_packet(0xD2, i));
            client.push(frame(
                at,
                c,
                s,
                &channel_data(0x4001, &up),
                FrameKind::Rtp { stream: 0 },
            ));
            relayed.push(frame(
                at + MS,
                p.relayed,
                p.peer,
                &up,
                FrameKind::Rtp { stream: 1 },
            ));
            relayed.push(frame(
                at + 2 * MS,
                p.peer,
                p.relayed,
                &down,
                FrameKind::Rtp { stream: 2 },
            ));
            client.push(frame(
                at + 3 * MS,
                s,
                c,
                &channel_data(0x4001, &down),
                FrameKind::Rtp { stream: 3 },
            ));
        }
        let end = start + i64::from(packets) * 20 * MS + 100 * MS;
        client.push(frame(
            end,
            c,
            s,
            &turn_request(REFRESH, &tx(5), user, Some(0), None, &[]),
            n,
        ));
        client.push(frame(
            end + MS,
            s,
            c,
            &turn_success(REFRESH, &tx(5), None, None, Some(0)),
            n,
        ));
    }
    if tcp {
        let plan = TcpPlan::clean(TcpFraming::TurnTcp, Split::Every(7));
        client = over_tcp(&client, plan).frames;
    }
    client.extend(relayed);
    client.sort_by_key(|f| f.ts_ns);
    client
}
