//! `/metrics`: the Prometheus text format (version 0.0.4) or OpenMetrics 1.0 text, built at
//! scrape time from the published snapshots ([`crate::pipeline::snapshot::Board`]).
//!
//! Nothing is registered or kept between scrapes: the encoder loads each worker's and capture
//! thread's latest snapshot (a few atomic operations, never waiting for the pipeline) and
//! writes every family straight into one `String`. A stream that ended is in no snapshot, so
//! its per-stream series are simply gone from the next scrape. Written by hand rather than
//! with `prometheus-client`: the whole scrape is one buffer (measured in benches/export.rs and
//! docs/benchmarks.md), and histograms already accumulated by the workers need no
//! re-observation.
//!
//! The two formats differ only where OpenMetrics requires it: a counter family is named
//! without `_total` in `# TYPE`/`# HELP` while its sample keeps it, and the body ends with
//! `# EOF`.

use super::aggregate::{Aggregates, Histogram, RTT_METHODS};
use super::labels::{AggKey, Labeller};
use super::names::{self, Metric, Type};
use crate::engine::record::StreamRecord;
use crate::forward::SinkView;
use crate::pipeline::snapshot::Board;
use std::fmt::Write;

/// What the encoder needs besides the board.
pub struct Scrape<'a> {
    pub board: &'a Board,
    pub labeller: &'a Labeller,
    pub per_stream: bool,
    pub max_stream_series: usize,
    /// OpenMetrics instead of the Prometheus text format.
    pub openmetrics: bool,
    /// The previous scrape's encoding time, and scrapes and omitted streams so far.
    pub last_duration_secs: f64,
    pub scrapes: u64,
    pub omitted_total: u64,
    /// What `/healthz` answers now.
    pub healthy: bool,
    /// The HTTP server's connections.
    pub http: Http,
}

/// The endpoint's own connection counts.
#[derive(Debug, Clone, Default)]
pub struct Http {
    pub open: usize,
    /// Connections closed by the server, by reason.
    pub closed: [(&'static str, u64); 4],
}

/// Result of one encoding.
pub struct Encoded {
    pub body: String,
    /// Streams left out of the per-stream series.
    pub omitted: u64,
}

pub(super) struct Out<'a> {
    s: String,
    om: bool,
    _p: std::marker::PhantomData<&'a ()>,
}

impl Out<'_> {
    pub(super) fn family(&mut self, m: &Metric) {
        let name = if self.om && m.kind == Type::Counter {
            m.name.trim_end_matches("_total")
        } else {
            m.name
        };
        let _ = writeln!(self.s, "# HELP {name} {}", m.help);
        let _ = writeln!(self.s, "# TYPE {name} {}", m.kind.as_str());
    }

    /// `name{labels} value`; `labels` is already `k="v",…` (escaped) or empty.
    pub(super) fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &str,
        value: impl std::fmt::Display,
    ) {
        self.s.push_str(name);
        self.s.push_str(suffix);
        if !labels.is_empty() {
            self.s.push('{');
            self.s.push_str(labels);
            self.s.push('}');
        }
        let _ = writeln!(self.s, " {value}");
    }

    pub(super) fn histogram(&mut self, m: &Metric, labels: &str, h: &Histogram) {
        let mut cumulative = 0u64;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, c) in h.counts.iter().enumerate() {
            cumulative += c;
            let le = match h.bounds.get(i) {
                Some(b) => format!("{b}"),
                None => "+Inf".into(),
            };
            let l = format!("{labels}{sep}le=\"{le}\"");
            self.sample(m.name, "_bucket", &l, cumulative);
        }
        self.sample(m.name, "_sum", labels, h.sum);
        self.sample(m.name, "_count", labels, h.count);
    }
}

/// Append `v` escaped for a label value (backslash, double quote, line feed).
pub fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn agg_labels(l: &Labeller, k: &AggKey) -> String {
    let pt = if k.pt < 128 {
        k.pt.to_string()
    } else {
        "none".into()
    };
    let mut s = format!(
        "kind=\"{}\",payload_type=\"{pt}\",direction=\"{}\",peer_group=\"",
        k.kind.as_str(),
        k.direction.as_str()
    );
    escape_into(&mut s, l.group_name(k.group));
    s.push('"');
    s
}

fn group_labels(l: &Labeller, k: &super::aggregate::GroupKey) -> String {
    let mut s = format!(
        "kind=\"{}\",direction=\"{}\",peer_group=\"",
        k.kind.as_str(),
        k.direction.as_str()
    );
    escape_into(&mut s, l.group_name(k.group));
    s.push('"');
    s
}

fn stream_labels(l: &Labeller, r: &StreamRecord) -> String {
    let mut s = format!("ssrc=\"{}\",src=\"", r.ssrc);
    escape_into(&mut s, &l.address(&r.src));
    s.push_str("\",dst=\"");
    escape_into(&mut s, &l.address(&r.dst));
    s.push_str("\",payload_type=\"");
    match r.payload_types.first() {
        Some(pt) => {
            let _ = write!(s, "{pt}");
        }
        None => s.push_str("none"),
    }
    s.push_str("\",observed_at=\"");
    escape_into(&mut s, &r.observed_at);
    s.push('"');
    if l.cname_label {
        s.push_str(",cname=\"");
        escape_into(&mut s, r.cname.as_deref().unwrap_or(""));
        s.push('"');
    }
    s
}

/// Encode every metric.
/// The TCP reassemblers' counters (`crate::tcp`), summed over the capture threads.
fn tcp(o: &mut Out, c: &crate::tcp::TcpCounters) {
    let plain = [
        (&names::TCP_SEGMENTS, c.segments),
        (&names::TCP_RETRANSMITTED, c.retransmitted_bytes),
        (&names::TCP_OUT_OF_ORDER, c.out_of_order_segments),
        (&names::TCP_DROPPED, c.dropped_segments),
        (&names::TCP_GAPS, c.gaps),
        (&names::TCP_GAP_BYTES, c.gap_bytes),
        (&names::TCP_RESYNC_SKIPPED, c.resync_skipped_bytes),
    ];
    for (m, v) in plain {
        o.family(m);
        o.sample(m.name, "", "", v);
    }
    /// A family, its label name, and (label value, count) pairs.
    type Labelled<'a> = (&'a Metric, &'a str, &'a [(&'a str, u64)]);
    let labelled: [Labelled<'_>; 4] = [
        (
            &names::TCP_CONNECTIONS,
            "framing",
            &[
                ("rfc4571", c.rfc4571_connections),
                ("turn", c.turn_connections),
                ("sip", c.sip_connections),
                ("tls", c.tls_connections),
                ("other", c.other_connections),
            ],
        ),
        (
            &names::TCP_FRAMES,
            "kind",
            &[
                ("rfc4571", c.rfc4571_frames),
                ("turn_channel_data", c.turn_channel_data),
                ("turn_stun", c.turn_stun),
                ("sip", c.sip_messages),
            ],
        ),
        (
            &names::TCP_ENDED,
            "reason",
            &[
                ("fin", c.closed_fin),
                ("rst", c.closed_rst),
                ("idle", c.expired_idle),
            ],
        ),
        (
            &names::TCP_EVICTIONS,
            "reason",
            &[
                ("table_full", c.evicted_table_full),
                ("memory", c.evicted_memory),
            ],
        ),
    ];
    for (m, label, values) in labelled {
        o.family(m);
        for (v, n) in values {
            o.sample(m.name, "", &format!("{label}=\"{v}\""), *n);
        }
    }
}

pub fn encode(sc: &Scrape<'_>) -> Encoded {
    let mut o = Out {
        s: String::with_capacity(64 * 1024),
        om: sc.openmetrics,
        _p: std::marker::PhantomData,
    };
    let shards: Vec<_> = sc.board.shards.iter().map(|s| s.load_full()).collect();
    let captures: Vec<_> = sc.board.captures.iter().map(|c| c.load_full()).collect();
    let aggs: Vec<&Aggregates> = shards
        .iter()
        .filter_map(|s| s.aggregates.as_deref())
        .collect();
    let l = sc.labeller;

    o.family(&names::BUILD_INFO);
    let info = format!(
        "version=\"{}\",target_os=\"{}\",target_arch=\"{}\"",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    o.sample(names::BUILD_INFO.name, "", &info, 1);

    // Aggregates: every worker owns disjoint streams, so label sets are summed across them.
    let mut counters: std::collections::BTreeMap<AggKey, super::aggregate::AggValues> =
        Default::default();
    let mut active: std::collections::BTreeMap<AggKey, u64> = Default::default();
    for a in &aggs {
        for (k, v) in &a.counters {
            let e = counters.entry(*k).or_default();
            *e = sum(e, v);
        }
        for (k, n) in &a.active {
            *active.entry(*k).or_default() += n;
        }
    }
    let labelled: Vec<(String, &super::aggregate::AggValues)> = counters
        .iter()
        .map(|(k, v)| (agg_labels(l, k), v))
        .collect();
    type Field = fn(&super::aggregate::AggValues) -> u64;
    let fields: [(Metric, Field); 13] = [
        (names::RTP_PACKETS, |v| v.packets),
        (names::RTP_BYTES, |v| v.bytes),
        (names::RTP_LOST, |v| v.lost),
        (names::RTP_LOST_UPSTREAM, |v| v.lost_upstream),
        (names::RTP_LOST_DOWNSTREAM, |v| v.lost_downstream),
        (names::RTP_DUPLICATES, |v| v.duplicates),
        (names::RTP_REORDERED, |v| v.reordered),
        (names::RTP_PROBE_DROPPED, |v| v.probe_dropped),
        (names::RTP_JITTER_BUFFER_LATE, |v| v.jitter_buffer_late),
        (names::STREAMS_ENDED, |v| v.streams_ended),
        (names::VIDEO_FRAMES, |v| v.video_frames),
        (names::VIDEO_FREEZES, |v| v.video_freezes),
        (names::VIDEO_PAUSES, |v| v.video_pauses),
    ];
    for (m, f) in fields {
        o.family(&m);
        for (ls, v) in &labelled {
            o.sample(m.name, "", ls, f(v));
        }
    }
    o.family(&names::VIDEO_FREEZE_DURATION);
    for (ls, v) in &labelled {
        let secs = v.video_freeze_ms as f64 / 1e3;
        o.sample(names::VIDEO_FREEZE_DURATION.name, "", ls, secs);
    }
    o.family(&names::RTCP_FEEDBACK);
    let feedback: [(&str, Field); 3] = [
        ("nack", |v| v.nacks),
        ("pli", |v| v.plis),
        ("fir", |v| v.firs),
    ];
    for (t, f) in feedback {
        for (ls, v) in &labelled {
            let with = format!("{ls},type=\"{t}\"");
            o.sample(names::RTCP_FEEDBACK.name, "", &with, f(v));
        }
    }
    o.family(&names::STREAMS_ACTIVE);
    for (k, n) in &active {
        o.sample(names::STREAMS_ACTIVE.name, "", &agg_labels(l, k), n);
    }

    histograms(&mut o, l, &aggs);
    findings(&mut o, &aggs);

    // Engine and capture counters (pipeline totals: capture threads and workers summed).
    let t = sc.board.totals();
    let c = &t.counters;
    o.family(&names::RTCP_PACKETS);
    let plain = c.rtcp_packets.saturating_sub(c.srtcp_packets);
    for (form, v) in [
        ("plain", plain),
        ("srtcp", c.srtcp_packets),
        ("malformed", c.rtcp_malformed),
    ] {
        o.sample(names::RTCP_PACKETS.name, "", &format!("form=\"{form}\""), v);
    }
    o.family(&names::RTCP_MESSAGES);
    for (kind, v) in c.rtcp_types.named() {
        o.sample(
            names::RTCP_MESSAGES.name,
            "",
            &format!("type=\"{kind}\""),
            v,
        );
    }
    o.family(&names::CAPTURE_FRAMES);
    for cap in &captures {
        let mut ls = String::from("source=\"");
        escape_into(&mut ls, &cap.source);
        ls.push('"');
        o.sample(names::CAPTURE_FRAMES.name, "", &ls, cap.frames);
    }
    o.family(&names::CAPTURE_DROPPED);
    for cap in &captures {
        for (reason, v) in [
            ("kernel", cap.kernel_dropped),
            ("interface", cap.if_dropped),
            ("pipeline", cap.pipeline_dropped),
        ] {
            let mut ls = String::from("source=\"");
            escape_into(&mut ls, &cap.source);
            let _ = write!(ls, "\",reason=\"{reason}\"");
            o.sample(names::CAPTURE_DROPPED.name, "", &ls, v);
        }
    }
    o.family(&names::CAPTURE_UNNAMED_POINT);
    for cap in &captures {
        let mut ls = String::from("source=\"");
        escape_into(&mut ls, &cap.source);
        ls.push('"');
        o.sample(
            names::CAPTURE_UNNAMED_POINT.name,
            "",
            &ls,
            cap.unnamed_point_frames,
        );
    }
    o.family(&names::DECODE_ERRORS);
    let mut reasons: Vec<(&str, u64)> = t.undecoded.iter().map(|(k, v)| (*k, *v)).collect();
    reasons.push(("rtp_invalid", c.rtp_invalid));
    reasons.push(("rtcp_malformed", c.rtcp_malformed));
    for (reason, v) in reasons {
        o.sample(
            names::DECODE_ERRORS.name,
            "",
            &format!("reason=\"{reason}\""),
            v,
        );
    }
    o.family(&names::DATAGRAMS);
    for (class, v) in [
        ("rtp", c.rtp_packets),
        ("rtp_unvalidated", c.rtp_unvalidated),
        ("rtcp", c.rtcp_packets),
        ("stun", c.stun_messages),
        ("dtls", c.dtls_records),
        ("zrtp", c.zrtp_packets),
        ("turn_channel_data", c.turn_channel_data),
        ("turn_indication", c.turn_indications),
        ("other", c.other_udp),
        ("port_filtered", c.port_filtered),
    ] {
        o.sample(names::DATAGRAMS.name, "", &format!("class=\"{class}\""), v);
    }
    o.family(&names::STREAMS_EVICTED);
    o.sample(names::STREAMS_EVICTED.name, "", "", c.streams_evicted);
    o.family(&names::RECORDS_DROPPED);
    o.sample(names::RECORDS_DROPPED.name, "", "", t.records_dropped);
    tcp(&mut o, &t.tcp);
    super::calls::write(&mut o, &t);
    super::sip::encode(&mut o, &t.sip);
    super::hops::encode(&mut o, sc, &captures);
    sinks(&mut o, &sc.board.sinks.load());

    let omitted = if sc.per_stream {
        per_stream(&mut o, sc, &shards)
    } else {
        0
    };
    o.family(&names::STREAMS_OMITTED);
    o.sample(names::STREAMS_OMITTED.name, "", "", omitted);
    o.family(&names::OMITTED_STREAM_SCRAPES);
    o.sample(
        names::OMITTED_STREAM_SCRAPES.name,
        "",
        "",
        sc.omitted_total + omitted,
    );
    o.family(&names::HEALTHY);
    o.sample(names::HEALTHY.name, "", "", u64::from(sc.healthy));
    o.family(&names::HTTP_CONNECTIONS);
    o.sample(names::HTTP_CONNECTIONS.name, "", "", sc.http.open as u64);
    o.family(&names::HTTP_CONNECTIONS_CLOSED);
    for (reason, n) in sc.http.closed {
        o.sample(
            names::HTTP_CONNECTIONS_CLOSED.name,
            "",
            &format!("reason=\"{reason}\""),
            n,
        );
    }
    o.family(&names::SCRAPE_DURATION);
    o.sample(names::SCRAPE_DURATION.name, "", "", sc.last_duration_secs);
    o.family(&names::SCRAPES);
    o.sample(names::SCRAPES.name, "", "", sc.scrapes + 1);
    if o.om {
        o.s.push_str("# EOF\n");
    }
    Encoded { body: o.s, omitted }
}

/// The `rtcprobe_forward_*` families: one series per configured sink, labels `sink` (its
/// name, unique in the configuration) and `type`. A sink that has never delivered reports a
/// last success of 0, so that `time() - ...` is large for it and an alert on "nothing
/// delivered for 5 minutes" also covers a store that has been down since the start.
fn sinks(o: &mut Out<'_>, sinks: &[SinkView]) {
    let labelled: Vec<(String, crate::forward::Stats)> = sinks
        .iter()
        .map(|v| {
            let mut ls = String::from("sink=\"");
            escape_into(&mut ls, &v.name);
            let _ = write!(ls, "\",type=\"{}\"", v.kind);
            (ls, v.stats.snapshot(&v.name, v.kind))
        })
        .collect();
    type Field = fn(&crate::forward::Stats) -> u64;
    let fields: [(Metric, Field); 8] = [
        (names::FORWARD_SENT, |s| s.sent),
        (names::FORWARD_FAILED, |s| s.failed),
        (names::FORWARD_RETRIED, |s| s.retried),
        (names::FORWARD_DROPPED, |s| s.dropped),
        (names::FORWARD_BUFFERED, |s| s.buffered_bytes),
        (names::FORWARD_LAST_SUCCESS, |s| s.last_success_secs),
        (names::FORWARD_DEAD_LETTERED, |s| s.dead_lettered),
        (names::FORWARD_DEAD_LETTER_BYTES, |s| s.dead_letter_bytes),
    ];
    for (m, f) in fields {
        o.family(&m);
        for (ls, s) in &labelled {
            o.sample(m.name, "", ls, f(s));
        }
    }
}

fn sum(
    a: &super::aggregate::AggValues,
    b: &super::aggregate::AggValues,
) -> super::aggregate::AggValues {
    let mut r = *a;
    r.packets += b.packets;
    r.bytes += b.bytes;
    r.lost += b.lost;
    r.lost_upstream += b.lost_upstream;
    r.lost_downstream += b.lost_downstream;
    r.duplicates += b.duplicates;
    r.reordered += b.reordered;
    r.nacks += b.nacks;
    r.plis += b.plis;
    r.firs += b.firs;
    r.probe_dropped += b.probe_dropped;
    r.jitter_buffer_late += b.jitter_buffer_late;
    r.streams_ended += b.streams_ended;
    r
}

/// Every code × severity, zeros included: 51 fixed series, so `increase()` sees the first one.
fn findings(o: &mut Out<'_>, aggs: &[&Aggregates]) {
    use crate::diagnose::{Code, Severity};
    o.family(&names::FINDINGS);
    for (i, code) in Code::ALL.iter().enumerate() {
        for (j, sev) in Severity::ALL.iter().enumerate() {
            let n: u64 = aggs.iter().filter_map(|a| a.findings.get(i)?.get(j)).sum();
            let ls = format!("code=\"{}\",severity=\"{}\"", code.name(), sev.name());
            o.sample(names::FINDINGS.name, "", &ls, n);
        }
    }
}

fn histograms(o: &mut Out<'_>, l: &Labeller, aggs: &[&Aggregates]) {
    use std::collections::BTreeMap;
    fn merge<K: Ord + Copy>(into: &mut BTreeMap<K, Histogram>, from: &[(K, Histogram)]) {
        for (k, h) in from {
            match into.get_mut(k) {
                Some(acc) => {
                    for (a, b) in acc.counts.iter_mut().zip(&h.counts) {
                        *a += b;
                    }
                    acc.sum += h.sum;
                    acc.count += h.count;
                }
                None => {
                    into.insert(*k, h.clone());
                }
            }
        }
    }
    let (mut jitter, mut loss, mut rtt) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut mos = BTreeMap::new();
    for a in aggs {
        merge(&mut jitter, &a.jitter);
        merge(&mut loss, &a.loss);
        merge(&mut mos, &a.mos);
        merge(&mut rtt, &a.rtt);
    }
    o.family(&names::JITTER);
    for (k, h) in &jitter {
        o.histogram(&names::JITTER, &group_labels(l, k), h);
    }
    o.family(&names::INTERVAL_LOSS);
    for (k, h) in &loss {
        o.histogram(&names::INTERVAL_LOSS, &group_labels(l, k), h);
    }
    o.family(&names::MOS);
    for (k, h) in &mos {
        o.histogram(&names::MOS, &group_labels(l, k), h);
    }
    o.family(&names::RTT);
    for ((k, m), h) in &rtt {
        let method = RTT_METHODS.get(*m).copied().unwrap_or("unknown");
        let ls = format!("method=\"{method}\",{}", group_labels(l, k));
        o.histogram(&names::RTT, &ls, h);
    }
}

/// Per-stream series of at most `max_stream_series` streams: live ones first (the oldest
/// first), then ended ones still lingering with their final values in the room left; returns
/// how many live streams were left out.
fn per_stream(
    o: &mut Out<'_>,
    sc: &Scrape<'_>,
    shards: &[std::sync::Arc<crate::pipeline::snapshot::ShardSnapshot>],
) -> u64 {
    let cap = sc.max_stream_series;
    let mut all: Vec<&(u64, StreamRecord)> = shards.iter().flat_map(|s| &s.streams).collect();
    let live = all.len();
    if live > cap {
        all.select_nth_unstable_by_key(cap, |(order, _)| *order);
        all.truncate(cap);
    }
    let room = cap - all.len();
    all.extend(shards.iter().flat_map(|s| &s.ended).take(room));
    all.sort_by_key(|(order, _)| *order);
    let shown_live = live.min(cap);
    let streams: Vec<(String, &StreamRecord)> = all
        .iter()
        .map(|(_, r)| (stream_labels(sc.labeller, r), r))
        .collect();
    o.family(&names::STREAM_PACKETS);
    for (ls, r) in &streams {
        o.sample(names::STREAM_PACKETS.name, "", ls, r.packets);
    }
    o.family(&names::STREAM_BYTES);
    for (ls, r) in &streams {
        o.sample(names::STREAM_BYTES.name, "", ls, r.bytes);
    }
    o.family(&names::STREAM_LOST);
    for (ls, r) in &streams {
        o.sample(names::STREAM_LOST.name, "", ls, r.lost);
    }
    o.family(&names::STREAM_LOST_UPSTREAM);
    for (ls, r) in &streams {
        if let Some(v) = r.loss_upstream {
            o.sample(names::STREAM_LOST_UPSTREAM.name, "", ls, v);
        }
    }
    o.family(&names::STREAM_LOST_DOWNSTREAM);
    for (ls, r) in &streams {
        if let Some(v) = r.loss_downstream {
            o.sample(names::STREAM_LOST_DOWNSTREAM.name, "", ls, v);
        }
    }
    o.family(&names::STREAM_JITTER);
    for (ls, r) in &streams {
        if let Some(j) = r.jitter_ms {
            o.sample(names::STREAM_JITTER.name, "", ls, j / 1e3);
        }
    }
    o.family(&names::STREAM_RTT);
    for (ls, r) in &streams {
        for (m, s) in &r.rtt_ms {
            let with = format!("{ls},method=\"{m}\"");
            o.sample(names::STREAM_RTT.name, "", &with, s.last / 1e3);
        }
    }
    (live - shown_live) as u64
}
