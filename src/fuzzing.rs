//! Fuzz harnesses: each `cargo fuzz` target in `fuzz/fuzz_targets/` is one line calling one of
//! these, so the harnesses are compiled, linted and unit-tested with the crate and the crash
//! reproducers in `fuzz/regressions/` run as ordinary tests (`tests/fuzz_regressions.rs`).
//!
//! Every harness walks every accessor and iterator of what it parsed: a parser that checks
//! lengths lazily must not panic later either.

use crate::config::Resolved;
use crate::replay::Run;
use crate::wire::{self, demux, rtcp, rtp, stun, LinkType};

/// Time steps that [`packet_path`] reads as a jump to an extreme capture time (ns) rather than
/// a step in milliseconds.
pub const WILD_TIMES: [(i16, i64); 4] = [
    (i16::MIN, i64::MIN),
    (i16::MIN + 1, i64::MAX),
    (i16::MIN + 2, 0),
    (i16::MIN + 3, -1),
];

/// The selector byte that makes [`frame`] and [`packet_path`] decode with `link`.
pub fn link_selector(link: LinkType) -> u8 {
    // LinkType::ALL has 8 entries, so the position always fits a byte.
    LinkType::ALL.iter().position(|l| *l == link).unwrap_or(0) as u8
}

/// Encode a [`packet_path`] input: the selector for `link`, then one record per
/// `(ms since the previous frame, frame)` (steps above 32,767 ms are clamped to it). Frames longer than 65,535 bytes are cut, as the
/// harness would cut them. For seed corpora (`examples/fuzz_seeds.rs`).
pub fn packet_path_input<'a>(
    link: LinkType,
    frames: impl IntoIterator<Item = (u16, &'a [u8])>,
) -> Vec<u8> {
    let mut out = vec![link_selector(link)];
    for (step_ms, f) in frames {
        let step = i16::try_from(step_ms).unwrap_or(i16::MAX);
        let f = f.get(..usize::from(u16::MAX)).unwrap_or(f);
        // `f` is at most u16::MAX long after the cut above.
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(&step.to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// RTP header view and every accessor, strict and lenient.
pub fn rtp(data: &[u8]) {
    if let Ok(p) = rtp::Packet::new_checked(data) {
        walk_rtp(&p);
        // Strict: header, payload and padding tile the buffer exactly.
        assert_eq!(
            p.header_len() + p.payload().len() + p.padding_len(),
            data.len()
        );
    }
    if let Ok(p) = rtp::Packet::new_header_only(data) {
        walk_rtp(&p);
        assert_eq!(p.header_len() + p.payload().len(), data.len());
    }
}

fn walk_rtp(p: &rtp::Packet<'_>) {
    let _ = (
        p.version(),
        p.padding(),
        p.extension(),
        p.marker(),
        p.payload_type(),
    );
    let _ = (p.sequence_number(), p.timestamp(), p.ssrc(), p.csrc_count());
    assert_eq!(p.csrcs().count(), usize::from(p.csrc_count()));
    if let Some(ext) = p.header_extension() {
        let _ = ext.profile();
        let mut total = 0;
        for (_id, d) in ext.elements() {
            total += d.len();
        }
        assert!(total <= ext.data().len());
    }
    assert!(p.header_len() >= 12);
}

/// RTCP compound walk, every packet type and field, and SRTCP detection.
pub fn rtcp(data: &[u8]) {
    let _ = (
        rtcp::is_srtcp(data),
        rtcp::first_ssrc(data),
        rtcp::packet_type(data),
    );
    if let Ok(h) = rtcp::Header::new_checked(data) {
        let _ = (
            h.version(),
            h.padding(),
            h.count(),
            h.packet_type(),
            h.length(),
        );
        assert!(h.packet_len() >= 4);
    }
    if let Ok(p) = rtcp::Packet::parse(data) {
        walk_rtcp(&p);
    }
    let mut compound = rtcp::Compound::new(data);
    for p in compound.by_ref().flatten() {
        walk_rtcp(&p);
    }
    assert!(compound.remaining().len() <= data.len());
}

fn walk_rtcp(p: &rtcp::Packet<'_>) {
    use rtcp::Packet;
    let _ = p.packet_type();
    match p {
        Packet::SenderReport(sr) => {
            let _ = (sr.ssrc(), sr.ntp_timestamp(), sr.rtp_timestamp());
            let _ = (sr.packet_count(), sr.octet_count(), sr.count_overflows());
            let _ = sr.profile_extension().len();
            let n = sr.report_blocks().inspect(walk_block).count();
            assert!(n <= usize::from(sr.report_count()));
        }
        Packet::ReceiverReport(rr) => {
            let _ = (
                rr.ssrc(),
                rr.profile_extension().len(),
                rr.count_overflows(),
            );
            let n = rr.report_blocks().inspect(walk_block).count();
            assert!(n <= usize::from(rr.report_count()));
        }
        Packet::Sdes(s) => {
            let _ = s.source_count();
            for c in s.chunks() {
                let _ = c.ssrc();
                for (kind, text) in c.items() {
                    let _ = (kind, text.len());
                }
            }
            for (ssrc, cname) in s.cnames() {
                let _ = (ssrc, cname.len());
            }
        }
        Packet::Bye(b) => {
            let _ = (b.source_count(), b.count_overflows(), b.reason());
            assert!(b.ssrcs().count() <= usize::from(b.source_count()));
        }
        Packet::App(a) => {
            let _ = (a.subtype(), a.ssrc(), a.name(), a.data().len());
        }
        Packet::Xr(x) => {
            let _ = x.ssrc();
            for b in x.blocks() {
                walk_xr_block(&b);
            }
        }
        Packet::RtpFeedback(f) => {
            let _ = (f.fmt(), f.sender_ssrc(), f.media_ssrc(), f.fci().len());
            match f.kind() {
                rtcp::RtpFeedbackKind::GenericNack(n) => {
                    let entries = n.entries().count();
                    let lost = n.lost_packets().count();
                    assert!(lost >= entries && lost <= 17 * entries);
                }
                rtcp::RtpFeedbackKind::TransportCc(t) => {
                    let _ = (t.base_sequence(), t.packet_status_count());
                    let _ = (
                        t.reference_time(),
                        t.fb_pkt_count(),
                        t.packet_chunks().len(),
                    );
                }
                rtcp::RtpFeedbackKind::Other(fci) => {
                    let _ = fci.len();
                }
            }
        }
        Packet::PsFeedback(f) => {
            let _ = (f.fmt(), f.sender_ssrc(), f.media_ssrc(), f.fci().len());
            match f.kind() {
                rtcp::PsFeedbackKind::Fir(fir) => {
                    let _ = fir.entries().count();
                }
                rtcp::PsFeedbackKind::Remb(r) => {
                    let _ = (
                        r.num_ssrc(),
                        r.exponent(),
                        r.mantissa(),
                        r.count_overflows(),
                    );
                    let _ = r.bitrate_bps();
                    assert!(r.ssrcs().count() <= usize::from(r.num_ssrc()));
                }
                rtcp::PsFeedbackKind::Pli
                | rtcp::PsFeedbackKind::Afb(_)
                | rtcp::PsFeedbackKind::Other(_) => {}
            }
        }
        Packet::Unknown { .. } => {}
    }
}

fn walk_xr_block(b: &rtcp::XrBlock<'_>) {
    match b {
        rtcp::XrBlock::ReceiverReferenceTime { ntp } => {
            let _ = ntp;
        }
        rtcp::XrBlock::Dlrr(items) => {
            for i in *items {
                let _ = (i.ssrc, i.last_rr, i.delay_since_last_rr);
            }
        }
        rtcp::XrBlock::VoipMetrics(v) => {
            let _ = (v.ssrc(), v.loss_rate(), v.discard_rate(), v.burst_density());
            let _ = (v.gap_density(), v.burst_duration(), v.gap_duration());
            let _ = (v.round_trip_delay(), v.end_system_delay(), v.signal_level());
            let _ = (
                v.noise_level(),
                v.rerl(),
                v.gmin(),
                v.r_factor(),
                v.ext_r_factor(),
            );
            let _ = (v.mos_lq(), v.mos_cq(), v.rx_config(), v.jb_nominal());
            let _ = (v.jb_max(), v.jb_abs_max());
        }
        rtcp::XrBlock::Other { block_type, body } => {
            let _ = (block_type, body.len());
        }
    }
}

fn walk_block(b: &rtcp::ReportBlock<'_>) {
    let _ = (
        b.ssrc(),
        b.fraction_lost(),
        b.cumulative_lost(),
        b.ext_highest_seq(),
    );
    let _ = (b.jitter(), b.lsr(), b.dlsr());
}

/// STUN message view and attributes.
pub fn stun(data: &[u8]) {
    if let Ok(m) = stun::Message::new_checked(data) {
        walk_stun(&m);
    }
}

fn walk_stun(m: &stun::Message<'_>) {
    let _ = (m.message_type(), m.class(), m.method(), m.length());
    let _ = (m.transaction_id(), m.is_ice_check());
    for (ty, value) in m.attributes() {
        assert!(m.attribute(ty).is_some());
        let _ = value.len();
    }
    let _ = (m.data(), m.xor_peer_address(), m.xor_mapped_address());
    let _ = (m.xor_relayed_address(), m.xor_peer_addresses().count());
    let _ = (m.username(), m.realm(), m.priority(), m.use_candidate());
    let _ = (m.ice_role(), m.error_code(), m.lifetime());
    let _ = (m.channel_number(), m.requested_transport());
}

/// RFC 7983 demultiplexing, TURN unwrapping, then the matching parser.
pub fn demux(data: &[u8]) {
    let _ = demux::demux(data);
    let c = demux::classify(data);
    let _ = c.turn;
    match c.inner {
        demux::Demuxed::Rtp(b) => rtp(b),
        demux::Demuxed::Rtcp(b) => rtcp(b),
        demux::Demuxed::Stun(m) => walk_stun(&m),
        demux::Demuxed::Dtls | demux::Demuxed::Zrtp | demux::Demuxed::Unknown => {}
    }
}

/// Link, IP and UDP decoding; the first byte picks the link type.
pub fn frame(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let link = LinkType::ALL[usize::from(sel) % LinkType::ALL.len()];
    if let Ok(dg) = wire::decode_udp(link, rest) {
        let _ = (dg.src, dg.dst, dg.wire_len, dg.vlan);
        assert!(dg.payload.len() <= rest.len());
        demux(dg.payload);
    }
}

/// The whole decode-and-track path over a sequence of frames. Input: a link selector byte, then
/// records of [2-byte big-endian length][2-byte time step][frame bytes]. The time step is a
/// signed (two's complement) number of milliseconds, so capture time may also go backwards, as
/// it does in real files; the steps in [`WILD_TIMES`] instead jump to an extreme capture time
/// (libpcap timestamps are attacker-controlled and saturate to `i64::MIN..=i64::MAX`).
pub fn packet_path(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let link = LinkType::ALL[usize::from(sel) % LinkType::ALL.len()];
    let cfg = Resolved {
        max_streams: 8,
        max_candidates: 8,
        ..Resolved::default()
    };
    let mut run = Run::new(cfg);
    let mut now: i64 = 1_700_000_000_000_000_000;
    while let [a, b, c, d, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let step = i16::from_be_bytes([*c, *d]);
        now = match WILD_TIMES.iter().find(|(code, _)| *code == step) {
            Some((_, t)) => *t,
            None => now.saturating_add(i64::from(step) * 1_000_000),
        };
        let (f, next) = tail.split_at(len);
        run.frame(link, now, f);
        rest = next;
    }
    let report = run.finish(String::new(), 0, None);
    for s in &report.streams {
        assert!(s.packets > 0);
        assert!(s.expected < 1 << 48);
    }
}

/// A capture file (`FileSource`: the block reader, then libpcap) read exactly as libpcap
/// alone reads it: the same frames, then the same end or the same error. The first byte picks
/// a classic pcap file header ([`pcap_file_header`]) put before the rest, or (with its top bit
/// set) none, so that the rest is the whole file.
pub fn pcap_file(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut file = if sel & 0x80 == 0 {
        pcap_file_header(sel)
    } else {
        Vec::new()
    };
    file.extend_from_slice(rest);
    let path = std::env::temp_dir().join(format!(
        "rtcprobe-fuzz-pcap-{}-{:?}.pcap",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, &file).is_err() {
        return;
    }
    let frames = same_as_libpcap(&path);
    let _ = std::fs::remove_file(&path);
    if let Err(e) = frames {
        panic!("{e}");
    }
}

/// A classic pcap file header (Ethernet) picked by `sel`: bit 0 nanosecond magic, bit 1
/// big-endian, bits 2-3 the snapshot length (0, 64, 65,535 or 4 GiB - 1), bit 4 version 2.3.
pub fn pcap_file_header(sel: u8) -> Vec<u8> {
    let magic: u32 = if sel & 1 == 0 {
        0xa1b2_c3d4
    } else {
        0xa1b2_3c4d
    };
    let snaplen: u32 = [0, 64, 65_535, u32::MAX][usize::from(sel >> 2 & 3)];
    let minor: u16 = if sel & 0x10 == 0 { 4 } else { 3 };
    let mut h = Vec::with_capacity(24);
    let big = sel & 2 != 0;
    let mut put = |b: &[u8]| h.extend_from_slice(b);
    if big {
        put(&magic.to_be_bytes());
        put(&2u16.to_be_bytes());
        put(&minor.to_be_bytes());
        put(&[0; 8]);
        put(&snaplen.to_be_bytes());
        put(&1u32.to_be_bytes());
    } else {
        put(&magic.to_le_bytes());
        put(&2u16.to_le_bytes());
        put(&minor.to_le_bytes());
        put(&[0; 8]);
        put(&snaplen.to_le_bytes());
        put(&1u32.to_le_bytes());
    }
    h
}

/// Read `path` with [`crate::capture::FileSource::open`] and
/// [`crate::capture::FileSource::open_libpcap`] side by side (at most 100,000 frames); the
/// frames read, or what differed.
pub fn same_as_libpcap(path: &std::path::Path) -> Result<u64, String> {
    use crate::capture::{FileSource, PacketSource};
    let (mut ours, mut theirs) = match (FileSource::open(path), FileSource::open_libpcap(path)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) if a.to_string() == b.to_string() => return Ok(0),
        (a, b) => return Err(format!("open: {:?} vs {:?}", a.err(), b.err())),
    };
    if ours.linktype() != theirs.linktype() {
        return Err(format!(
            "linktype {} vs {}",
            ours.linktype(),
            theirs.linktype()
        ));
    }
    for n in 0..100_000u64 {
        let a = ours.next_frame().map_err(|e| e.to_string());
        let b = theirs.next_frame().map_err(|e| e.to_string());
        let same = match (&a, &b) {
            (Ok(Some(x)), Ok(Some(y))) => {
                (x.ts_ns, x.orig_len, x.data) == (y.ts_ns, y.orig_len, y.data)
            }
            _ => format!("{a:?}") == format!("{b:?}"),
        };
        if !same {
            return Err(format!("frame {}: {a:?} vs {b:?}", n + 1));
        }
        if !matches!(a, Ok(Some(_))) {
            return Ok(n);
        }
    }
    Ok(100_000)
}

/// One disk-buffer segment of a sink (src/forward/buffer.rs): NDJSON record lines and tapped
/// RTCP lines, read back after a restart, so as hostile as any file. Every line goes through
/// what a sender does with it: a tapped RTCP line is parsed and encoded as a HEP packet (and
/// must survive a round trip through its own line format); a record is parsed, encoded as a
/// HEP report and as remote-write series.
pub fn buffer_line(data: &[u8]) {
    use crate::forward::{hep, prompb, record::Record, remote_write, tap};
    for line in data.split(|&c| c == b'\n') {
        if let Some(t) = tap::parse(line) {
            let _ = hep::rtcp(&t, 2001, Some("key"));
            let again = tap::line(t.time_ns, t.src, t.dst, &t.rtcp);
            assert_eq!(tap::parse(&again), Some(t));
        } else if let Ok(r) = serde_json::from_slice::<Record>(line) {
            let _ = hep::report(&r, line, 2001, None);
            let _ = r.interval_end_ns();
            let series = remote_write::to_series(std::slice::from_ref(&r), None, true);
            let _ = prompb::write_request(&series);
            let now = remote_write::to_series(std::slice::from_ref(&r), Some(i64::MAX), false);
            let _ = prompb::write_request(&now);
        }
    }
}

/// The HTTP endpoint's hostile inputs: request bytes through the guard's scanner
/// ([`crate::export::guard::Scanner`]), cut into chunks as reads would (the first byte sets
/// the chunk size), and the bytes as a web configuration file.
pub fn http_head(data: &[u8]) {
    use crate::export::guard::{Found, Scanner};
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let mut s = Scanner::default();
    for chunk in rest.chunks(usize::from(k % 64) + 1) {
        match s.scan(chunk) {
            Found::BadVersion { started } | Found::Pass { started } => {
                assert!(started.map_or(true, |o| o < chunk.len()));
            }
        }
    }
    let _ = serde_norway::from_slice::<crate::export::web_config::WebConfig>(data);
}

/// The hop matcher (`crate::correlate::hop`) on arbitrary packet summaries: 13-byte records
/// (stream selector: 8 ports × 2 observation points; SSRC selector; seq; RTP timestamp;
/// PT + marker; payload size; time step in µs, negative = jump back, or a [`WILD_TIMES`] jump)
/// into a matcher capped at 8 streams and 4 hops; bit 6 of the selector adds an expiry tick.
/// No panic, the caps hold, hops end in order and every ended hop's books balance:
/// `packets_in = packets_out + lost_inside + evicted`.
pub fn hops(data: &[u8]) {
    use crate::correlate::hop::{HopMatcher, Limits, RtpSummary};
    use crate::engine::{PointNames, StreamKey};
    let names = PointNames::new("capture");
    let points = [names.intern("in"), names.intern("out")];
    let mut m = HopMatcher::new(Limits {
        max_streams: 8,
        max_hops: 4,
    });
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut seq = 0u64;
    for r in data.chunks_exact(13) {
        let b = |i: usize| r.get(i).copied().unwrap_or(0);
        let be16 = |i: usize| u16::from_be_bytes([b(i), b(i + 1)]);
        let sel = b(0);
        let key = StreamKey {
            src: std::net::SocketAddr::from(([10, 0, 0, 1], 5000 + u16::from(sel & 7))),
            dst: std::net::SocketAddr::from(([10, 0, 0, 2], 6000)),
            ssrc: u32::from(b(1) & 3),
            point: points[usize::from(sel >> 7)],
        };
        let p = RtpSummary {
            ssrc: key.ssrc,
            seq: be16(2),
            ts: u32::from_be_bytes([b(4), b(5), b(6), b(7)]),
            pt: b(8) & 0x7f,
            marker: b(8) & 0x80 != 0,
            payload_len: u32::from(be16(9)),
        };
        let step = be16(11) as i16;
        now = match WILD_TIMES.iter().find(|w| w.0 == step) {
            Some(w) => w.1,
            None => now.saturating_add(i64::from(step) * 1000),
        };
        m.on_rtp(now, &key, &p);
        if sel & 0x40 != 0 {
            // An expiry tick, with an idle timeout from the record (0.1-25.5 s).
            m.expire(now, i64::from(b(12).max(1)) * 100_000_000);
        }
        assert!(m.stream_count() <= 8 && m.slot_capacity() <= 8);
        assert!(m.open_hop_count() <= 4 && m.report().len() <= 4);
        check_ended(&mut m, &mut seq);
    }
    m.finish(now);
    check_ended(&mut m, &mut seq);
    assert_eq!(m.open_hop_count(), 0);
}

/// Every ended hop's books balance (`packets_in = packets_out + lost_inside + evicted`), hops
/// are numbered in the order they end, and splits are what hops lost.
fn check_ended(m: &mut crate::correlate::hop::HopMatcher, seq: &mut u64) {
    use crate::correlate::hop::Done;
    for d in m.drain() {
        match d {
            Done::Hop { seq: s, hop: h, .. } => {
                assert_eq!(s, *seq);
                *seq += 1;
                assert_eq!(
                    h.packets_in,
                    h.packets_out + h.lost_inside + h.evicted,
                    "{h:?}"
                );
                assert!(h.confidence > 0.0 && h.confidence <= 1.0);
            }
            Done::Split {
                upstream, inside, ..
            } => {
                assert!(upstream < 1 << 40 && inside < 1 << 40);
            }
        }
    }
}

/// The TCP reassembler (`crate::tcp`) on arbitrary segments. Records: a selector (bits 0-1:
/// one of two connections and direction; bit 2 SYN, bit 3 FIN, bit 4 RST; bit 5 an expiry
/// tick; bit 6 a snap-length cut of half the payload), a signed 16-bit sequence step from the
/// direction's last sequence number, a time step in ms, a payload length, then the payload.
/// Small caps (3 directions, 4 KiB each, 8 KiB in all): no panic, the caps hold after every
/// segment, every frame handed on fits a TCP frame, and time never runs backwards within a
/// direction's deliveries beyond what the segments' own times allow.
/// The ICE/TURN stage ([`crate::correlate::calls`]) fed datagrams between four hosts:
/// `[selector, time step (ms), length, payload …]` repeated. The selector picks the 5-tuple
/// (bits 0-3) and, with bit 7, an expiry tick. The tables must stay within their caps and
/// every record must render.
pub fn ice_turn(data: &[u8]) {
    use crate::correlate::calls::{CallLimits, CallStage};
    let mut limits = CallLimits::default();
    limits.ice.max_sessions = 4;
    limits.ice.idle_timeout_ns = 2_000_000_000;
    limits.turn.max_allocations = 4;
    limits.turn.idle_timeout_ns = 3_000_000_000;
    let names = crate::engine::PointNames::shared("fuzz");
    let mut st = CallStage::new(&limits, names);
    let hosts: [std::net::SocketAddr; 4] = [
        ([10, 0, 0, 1], 40000).into(),
        ([10, 0, 0, 2], 3478).into(),
        ([10, 0, 0, 2], 49152).into(),
        ([192, 0, 2, 1], 7000).into(),
    ];
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut rest = data;
    while let [sel, dt, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let src = hosts[usize::from(sel & 3)];
        let dst = hosts[usize::from((sel >> 2) & 3)];
        now = now.saturating_add(i64::from(*dt) * 1_000_000);
        let dg = wire::Datagram {
            src,
            dst,
            payload,
            wire_len: payload.len(),
            vlan: None,
        };
        st.on_datagram(now, &dg, crate::engine::ObservationPoint::default());
        if sel & 0x80 != 0 {
            st.expire(now);
        }
        assert!(st.ice.len() <= 4 && st.turn.len() <= 4);
        assert!(st.ice.pending_len() <= crate::correlate::ice::MAX_PENDING);
    }
    st.finish();
    let (ice, turn) = st.drain();
    for s in &ice {
        assert!(serde_json::to_string(s).is_ok());
    }
    for a in &turn {
        assert!(serde_json::to_string(a).is_ok());
    }
}

pub fn tcp_reassembly(data: &[u8]) {
    use crate::tcp::{TcpLimits, TcpStage};
    use crate::wire::tcp::TcpSegment;
    use crate::wire::Segment;
    let limits = TcpLimits {
        max_connections: 3,
        max_buffer_bytes_per_connection: 4096,
        max_buffer_bytes_total: 8192,
        idle_timeout_ns: 5_000_000_000,
        gap_timeout_ns: 50_000_000,
    };
    let mut st = TcpStage::new(limits);
    let hosts: [std::net::SocketAddr; 3] = [
        ([10, 0, 0, 1], 40000).into(),
        ([10, 0, 0, 2], 3478).into(),
        ([10, 0, 0, 3], 443).into(),
    ];
    let mut seqs = [0u32; 4];
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut rest = data;
    let mut buf = Vec::with_capacity(20 + 255);
    let mut check = |_: i64, dg: &crate::wire::Datagram<'_>| {
        assert!(dg.payload.len() <= 65_535 + 20);
        assert_eq!(dg.payload.len(), dg.wire_len);
    };
    while let [sel, s0, s1, dt, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let d = usize::from(sel & 3);
        let (src, dst) = match d {
            0 => (hosts[0], hosts[1]),
            1 => (hosts[1], hosts[0]),
            2 => (hosts[0], hosts[2]),
            _ => (hosts[2], hosts[0]),
        };
        seqs[d] = seqs[d].wrapping_add(i32::from(i16::from_be_bytes([*s0, *s1])) as u32);
        now = now.saturating_add(i64::from(*dt) * 1_000_000);
        let flags = 0x10 | ((sel >> 1) & 0x02) | ((sel >> 3) & 0x01) | ((sel >> 2) & 0x04);
        buf.clear();
        buf.extend_from_slice(&src.port().to_be_bytes());
        buf.extend_from_slice(&dst.port().to_be_bytes());
        buf.extend_from_slice(&seqs[d].to_be_bytes());
        buf.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        buf.extend_from_slice(payload);
        let wire = buf.len();
        let captured = if sel & 0x40 != 0 { 20 + n / 2 } else { wire };
        let Some(bytes) = buf.get(..captured) else {
            continue;
        };
        let Ok(tcp) = TcpSegment::new_checked(bytes, wire) else {
            continue;
        };
        let seg = Segment {
            src,
            dst,
            tcp,
            vlan: None,
        };
        st.on_segment(now, &seg, &mut check);
        if sel & 0x20 != 0 {
            st.expire(now, &mut check);
        }
        assert!(st.connections() <= 3);
        assert!(st.buffered_bytes() <= 8192, "{}", st.buffered_bytes());
    }
    st.finish(&mut check);
    assert_eq!((st.connections(), st.buffered_bytes()), (0, 0));
}

/// A pcapng file from memory, read with a small buffer (so that refills and growth run), every
/// packet decoded with its interface's link type: no panic, bounded memory.
pub fn pcapng(data: &[u8]) {
    use crate::capture::pcapng::PcapngSource;
    let Ok(mut src) = PcapngSource::from_reader(std::io::Cursor::new(data), "fuzz".into(), 256)
    else {
        return;
    };
    for _ in 0..10_000 {
        match src.next_frame() {
            Ok(Some(f)) => {
                if let Some(link) = LinkType::from_dlt(f.linktype) {
                    let _ = wire::decode_udp(link, f.data);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = src.interface_names();
}

/// Video payload parsers (src/engine/video/payload): the first byte picks the codec (VP8, VP9,
/// H.264, AV1), the rest is an RTP payload. A resolution is never 0 wide or high; the H.264
/// SPS and AV1 sequence header parsers also run on the bytes directly, and the frame tracker
/// takes the hint.
pub fn video_payload(data: &[u8]) {
    use crate::engine::video::{payload, Codec, Video};
    let Some((&sel, p)) = data.split_first() else {
        return;
    };
    let codec = [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1][usize::from(sel % 4)];
    let h = payload::parse(codec, p);
    assert!(h.parsed());
    if let Some((w, ht)) = h.resolution() {
        assert!(w > 0 && ht > 0);
    }
    let _ = payload::sps_resolution(p);
    let _ = payload::av1_max_frame_size(p);
    let mut v = Video::default();
    v.on_packet(0, u32::from(sel), h);
    let r = v.record(p.len() as u64, 1, 0);
    assert_eq!(r.frames, 1);
    assert_eq!(r.keyframes, Some(u64::from(h.keyframe())));
}

/// A SIP message, then a sequence of them through a small dialog table ([`crate::sip`]).
pub fn sip(data: &[u8]) {
    crate::sip::fuzz::sip(data);
}

/// A session description ([`crate::sip::sdp`]).
pub fn sdp(data: &[u8]) {
    crate::sip::fuzz::sdp_session(data);
}

#[cfg(test)]
mod tests {
    #[test]
    fn whole_path_harness_tracks_a_stream() {
        // Raw IPv4 link; three RTP packets 20 ms apart on one flow.
        let mut input = vec![5u8]; // LinkType::ALL[5] = Raw
        for seq in 0u16..3 {
            let mut f = vec![
                0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            f.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 20, 0, 0]);
            f.extend_from_slice(&[0x80, 0, 0, seq as u8, 0, 0, 0, 0, 0, 0, 0, 7]);
            input.extend_from_slice(&(f.len() as u16).to_be_bytes());
            input.extend_from_slice(&20u16.to_be_bytes());
            input.extend_from_slice(&f);
        }
        super::packet_path(&input);
        for cut in 0..input.len() {
            super::packet_path(&input[..cut]);
        }
    }

    #[test]
    fn hop_harness_runs_a_forwarded_stream_and_its_cuts() {
        // Stream 0 seen "in", then the same packets "out" (selector bit 7) 1 ms later.
        let mut input = Vec::new();
        for seq in 0u16..40 {
            for (sel, step) in [(0u8, 9_000u16), (0x80, 1_000)] {
                input.extend_from_slice(&[sel, 1]);
                input.extend_from_slice(&seq.to_be_bytes());
                input.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
                input.push(96);
                input.extend_from_slice(&(200 + seq * 31).to_be_bytes());
                input.extend_from_slice(&step.to_be_bytes());
            }
        }
        super::hops(&input);
        for cut in (0..input.len()).step_by(7) {
            super::hops(&input[..cut]);
        }
    }
}
