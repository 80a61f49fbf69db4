//! Media over TCP: a bounded TCP reassembler whose frames enter the same path as UDP payloads.
//!
//! WebRTC falls back to TCP when UDP is blocked: RTP and RTCP framed by RFC 4571 (directly, or
//! as RFC 6544 ICE-TCP candidates with their STUN checks framed the same way), or TURN over
//! TCP (RFC 8656 §11.4/§12.5: STUN and 4-byte-padded ChannelData on a connection to the relay,
//! usually port 3478), and SIP (RFC 3261 §18.3: messages cut at their Content-Length, for
//! `crate::sip`). [`TcpStage`] follows each direction of each connection
//! ([`stream::ByteStream`]: in order, holes held then skipped, retransmissions dropped),
//! frames the bytes ([`framing::Framer`]) and hands every frame on as a
//! [`Datagram`] with the connection's addresses and ports and the capture
//! time of the segment that completed it. TLS-wrapped TURN (first byte 0x16) is counted as
//! opaque; other TCP (HTTP, …) is classified from its first bytes and then ignored without
//! buffering.
//!
//! Where it runs: on the capture thread, before sharding, like the hop stage
//! (`crate::pipeline::hops`), in replay and in the pipeline alike. A connection's frames carry
//! many SSRCs and STUN for all shards; only after framing is there anything to route. Its state
//! depends only on the segments in capture order and their capture times (nothing reads a
//! clock), so a replay and a live capture of the same packets give the same frames.
//!
//! Keys: each direction (source, destination) is its own entry and byte stream. A frame is
//! keyed downstream like a UDP datagram of the same 5-tuple: the stream key has no transport,
//! so media over TCP and over UDP between the very same addresses, ports and SSRC would be one
//! stream (they never are in practice: a TCP candidate's port is not its UDP one).
//!
//! Bounds (all `tcp.*` config keys): at most `max_connections` directions (the least recently
//! active is evicted), `max_buffer_bytes_per_connection` held per direction (out-of-order
//! segments and the partial frame), `max_buffer_bytes_total` over all (the least recently
//! active directions are evicted until under it), `idle_timeout_secs` without a segment ends a
//! direction, and `gap_timeout_ms` is the longest a hole is waited for. Every one is counted in
//! [`TcpCounters`]. In-order data costs O(1) amortised per segment and allocates nothing once
//! a direction's buffers have grown; out-of-order segments are copied while held.

pub mod framing;
pub mod stream;
pub mod table;

use crate::wire::{Datagram, Segment};
use framing::{FrameCounts, Framer, Framing};
use serde::Serialize;
use std::net::SocketAddr;
use stream::{ByteStream, Consumer};
use table::Lru;

/// Bytes charged per tracked direction on top of its buffers (the entry itself).
pub const ENTRY_BYTES: usize = 256;

/// The reassembler's limits (`[tcp]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Most directions tracked; 0 turns TCP off.
    pub max_connections: usize,
    pub max_buffer_bytes_per_connection: usize,
    pub max_buffer_bytes_total: usize,
    pub idle_timeout_ns: i64,
    pub gap_timeout_ns: i64,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 10_000,
            max_buffer_bytes_per_connection: 256 * 1024,
            max_buffer_bytes_total: 64 * 1024 * 1024,
            idle_timeout_ns: 60_000_000_000,
            gap_timeout_ns: 2_000_000_000,
        }
    }
}

/// What the reassembler did, cumulative.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcpCounters {
    pub segments: u64,
    pub payload_bytes: u64,
    /// Directions started (first segment seen).
    pub connections: u64,
    /// Directions by framing, counted when decided.
    pub rfc4571_connections: u64,
    pub turn_connections: u64,
    pub sip_connections: u64,
    pub tls_connections: u64,
    pub other_connections: u64,
    /// Payload bytes already delivered (retransmissions, overlaps), dropped.
    pub retransmitted_bytes: u64,
    pub out_of_order_segments: u64,
    /// Segments not held: too far ahead, or larger than the cap.
    pub dropped_segments: u64,
    /// Holes skipped and their bytes.
    pub gaps: u64,
    pub gap_bytes: u64,
    pub resyncs: u64,
    pub resync_skipped_bytes: u64,
    pub rfc4571_frames: u64,
    pub turn_channel_data: u64,
    pub turn_stun: u64,
    /// SIP messages framed (handed to the SIP stage, `crate::sip`).
    pub sip_messages: u64,
    pub closed_fin: u64,
    pub closed_rst: u64,
    pub expired_idle: u64,
    pub evicted_table_full: u64,
    pub evicted_memory: u64,
}

impl TcpCounters {
    pub fn is_zero(&self) -> bool {
        *self == TcpCounters::default()
    }

    /// Add `o` (the totals of several capture threads).
    pub fn add(&mut self, o: &TcpCounters) {
        let fields = [
            (&mut self.segments, o.segments),
            (&mut self.payload_bytes, o.payload_bytes),
            (&mut self.connections, o.connections),
            (&mut self.rfc4571_connections, o.rfc4571_connections),
            (&mut self.turn_connections, o.turn_connections),
            (&mut self.sip_connections, o.sip_connections),
            (&mut self.tls_connections, o.tls_connections),
            (&mut self.other_connections, o.other_connections),
            (&mut self.retransmitted_bytes, o.retransmitted_bytes),
            (&mut self.out_of_order_segments, o.out_of_order_segments),
            (&mut self.dropped_segments, o.dropped_segments),
            (&mut self.gaps, o.gaps),
            (&mut self.gap_bytes, o.gap_bytes),
            (&mut self.resyncs, o.resyncs),
            (&mut self.resync_skipped_bytes, o.resync_skipped_bytes),
            (&mut self.rfc4571_frames, o.rfc4571_frames),
            (&mut self.turn_channel_data, o.turn_channel_data),
            (&mut self.turn_stun, o.turn_stun),
            (&mut self.sip_messages, o.sip_messages),
            (&mut self.closed_fin, o.closed_fin),
            (&mut self.closed_rst, o.closed_rst),
            (&mut self.expired_idle, o.expired_idle),
            (&mut self.evicted_table_full, o.evicted_table_full),
            (&mut self.evicted_memory, o.evicted_memory),
        ];
        for (a, b) in fields {
            *a += b;
        }
    }

    fn add_frames(&mut self, f: &FrameCounts) {
        self.rfc4571_frames += f.rfc4571_frames;
        self.turn_channel_data += f.turn_channel_data;
        self.turn_stun += f.turn_stun;
        self.sip_messages += f.sip_messages;
        self.resyncs += f.resyncs;
        self.resync_skipped_bytes += f.resync_skipped_bytes;
    }

    fn decided(&mut self, f: Framing) {
        match f {
            Framing::Rfc4571 => self.rfc4571_connections += 1,
            Framing::TurnTcp => self.turn_connections += 1,
            Framing::Sip => self.sip_connections += 1,
            Framing::Tls => self.tls_connections += 1,
            Framing::Other => self.other_connections += 1,
            Framing::Unknown => {}
        }
    }
}

type Key = (SocketAddr, SocketAddr);

/// One direction of a connection.
#[derive(Debug)]
struct Dir {
    stream: ByteStream,
    framer: Framer,
    last_seen: i64,
    /// Bytes charged to the total.
    charged: usize,
    vlan: Option<u16>,
}

impl Dir {
    fn memory(&self) -> usize {
        ENTRY_BYTES + self.stream.held_bytes() + self.framer.memory_bytes()
    }
}

/// A byte-stream consumer that frames and hands frames on as datagrams.
struct Feed<'a, F> {
    framer: &'a mut Framer,
    counts: FrameCounts,
    decided: Option<Framing>,
    key: Key,
    vlan: Option<u16>,
    emit: &'a mut F,
}

impl<F: FnMut(i64, &Datagram<'_>)> Consumer for Feed<'_, F> {
    fn data(&mut self, now: i64, bytes: &[u8]) {
        let (src, dst, vlan) = (self.key.0, self.key.1, self.vlan);
        let emit = &mut *self.emit;
        let d = self
            .framer
            .data(now, bytes, &mut self.counts, &mut |t, payload| {
                let dg = Datagram {
                    src,
                    dst,
                    payload,
                    wire_len: payload.len(),
                    vlan,
                };
                emit(t, &dg)
            });
        if d.is_some() {
            self.decided = d;
        }
    }

    fn gap(&mut self, len: u64) {
        self.framer.gap(len, &mut self.counts);
    }
}

/// The TCP reassembly stage of a capture thread (see the module docs).
#[derive(Debug)]
pub struct TcpStage {
    limits: TcpLimits,
    table: Lru<Key, Dir>,
    total: usize,
    counters: TcpCounters,
}

impl TcpStage {
    pub fn new(limits: TcpLimits) -> Self {
        TcpStage {
            limits,
            table: Lru::new(),
            total: 0,
            counters: TcpCounters::default(),
        }
    }

    pub fn counters(&self) -> &TcpCounters {
        &self.counters
    }

    /// Directions tracked now.
    pub fn connections(&self) -> usize {
        self.table.len()
    }

    /// Bytes charged now over all directions (what `max_buffer_bytes_total` bounds).
    pub fn buffered_bytes(&self) -> usize {
        self.total
    }

    /// One TCP segment captured at `now`; every frame it completes goes to `emit` with its
    /// capture time, in stream order.
    pub fn on_segment(
        &mut self,
        now: i64,
        seg: &Segment<'_>,
        emit: &mut impl FnMut(i64, &Datagram<'_>),
    ) {
        let c = &mut self.counters;
        c.segments += 1;
        let t = &seg.tcp;
        c.payload_bytes += t.payload_wire_len() as u64;
        if self.limits.max_connections == 0 {
            return;
        }
        let key = (seg.src, seg.dst);
        if t.rst() {
            // RFC 9293 §3.10.7: a reset ends the connection, both directions.
            let mut n = 0;
            for k in [key, (seg.dst, seg.src)] {
                if let Some(d) = self.table.remove(&k) {
                    self.total -= d.charged;
                    n += 1;
                }
            }
            if n > 0 {
                self.counters.closed_rst += 1;
            }
            return;
        }
        if self.table.touch(&key).is_none() {
            if t.payload_wire_len() == 0 && !t.syn() {
                return; // a bare ACK or FIN of a connection we do not follow
            }
            self.make_room();
            self.counters.connections += 1;
            self.table.insert(
                key,
                Dir {
                    stream: ByteStream::default(),
                    framer: Framer::new(t.syn()),
                    last_seen: now,
                    charged: 0,
                    vlan: seg.vlan,
                },
            );
        }
        let limits = self.limits;
        let Some(dir) = self.table.peek_mut(&key) else {
            return;
        };
        dir.last_seen = now;
        let mut seq = t.seq_number();
        if t.syn() {
            dir.stream.syn(seq);
            if dir.framer.framing() != Framing::Unknown || dir.stream.held_bytes() > 0 {
                dir.framer = Framer::new(true);
            }
            seq = seq.wrapping_add(1);
        }
        if matches!(dir.framer.framing(), Framing::Tls | Framing::Other) {
            return self.after(key, t.fin());
        }
        let cap = limits
            .max_buffer_bytes_per_connection
            .saturating_sub(dir.framer.memory_bytes() + ENTRY_BYTES);
        let vlan = dir.vlan;
        let mut feed = Feed {
            framer: &mut dir.framer,
            counts: FrameCounts::default(),
            decided: None,
            key,
            vlan,
            emit,
        };
        let out = dir.stream.segment(
            now,
            seq,
            t.payload(),
            t.payload_wire_len(),
            cap,
            limits.gap_timeout_ns,
            &mut feed,
        );
        if t.fin() {
            // Nothing more comes: what is held is handed on past its holes.
            let mut o = stream::Outcome::default();
            while dir.stream.held_bytes() > 0 {
                dir.stream.skip_hole(&mut feed, &mut o);
            }
            self.counters.gaps += o.gaps;
            self.counters.gap_bytes += o.gap_bytes;
        }
        let (counts, decided) = (feed.counts, feed.decided);
        let c = &mut self.counters;
        c.add_frames(&counts);
        if let Some(f) = decided {
            c.decided(f);
            if matches!(f, Framing::Tls | Framing::Other) {
                dir.framer.release();
            }
        }
        c.retransmitted_bytes += out.retransmitted_bytes;
        c.out_of_order_segments += u64::from(out.held);
        c.dropped_segments += u64::from(out.dropped);
        c.gaps += out.gaps;
        c.gap_bytes += out.gap_bytes;
        self.after(key, t.fin());
    }

    /// Charge the direction's memory, close it on FIN, and keep the total under its cap.
    fn after(&mut self, key: Key, fin: bool) {
        if fin {
            if let Some(d) = self.table.remove(&key) {
                self.total -= d.charged;
                self.counters.closed_fin += 1;
            }
        } else if let Some(d) = self.table.peek_mut(&key) {
            let m = d.memory();
            self.total = self.total - d.charged + m;
            d.charged = m;
        }
        while self.total > self.limits.max_buffer_bytes_total {
            if !self.evict_lru() {
                break;
            }
            self.counters.evicted_memory += 1;
        }
    }

    /// Evict the least recently active directions until a new one fits.
    fn make_room(&mut self) {
        while self.table.len() >= self.limits.max_connections {
            if !self.evict_lru() {
                break;
            }
            self.counters.evicted_table_full += 1;
        }
    }

    fn evict_lru(&mut self) -> bool {
        let Some((&k, _)) = self.table.lru() else {
            return false;
        };
        if let Some(d) = self.table.remove(&k) {
            self.total -= d.charged;
        }
        true
    }

    /// End directions idle for `idle_timeout` (capture time `now`), handing on what they held
    /// past its holes to `emit`. Call about once a second. (A hole of a direction that still
    /// gets segments is skipped by those segments once it is `gap_timeout` old.)
    pub fn expire(&mut self, now: i64, emit: &mut impl FnMut(i64, &Datagram<'_>)) {
        while let Some((&k, d)) = self.table.lru() {
            if now.saturating_sub(d.last_seen) < self.limits.idle_timeout_ns {
                break;
            }
            self.flush(k, emit);
            if let Some(d) = self.table.remove(&k) {
                self.total -= d.charged;
            }
            self.counters.expired_idle += 1;
        }
    }

    /// Hand on everything held by direction `k`, past its holes.
    fn flush(&mut self, k: Key, emit: &mut impl FnMut(i64, &Datagram<'_>)) {
        let Some(dir) = self.table.peek_mut(&k) else {
            return;
        };
        if dir.stream.held_bytes() == 0 {
            return;
        }
        let vlan = dir.vlan;
        let mut feed = Feed {
            framer: &mut dir.framer,
            counts: FrameCounts::default(),
            decided: None,
            key: k,
            vlan,
            emit,
        };
        let mut o = stream::Outcome::default();
        while dir.stream.held_bytes() > 0 {
            dir.stream.skip_hole(&mut feed, &mut o);
        }
        let counts = feed.counts;
        self.counters.add_frames(&counts);
        self.counters.gaps += o.gaps;
        self.counters.gap_bytes += o.gap_bytes;
    }

    /// The end of the capture: hand on what every direction holds, past its holes.
    pub fn finish(&mut self, emit: &mut impl FnMut(i64, &Datagram<'_>)) {
        while let Some((&k, _)) = self.table.lru() {
            self.flush(k, emit);
            if let Some(d) = self.table.remove(&k) {
                self.total -= d.charged;
            }
        }
    }
}

#[cfg(test)]
mod tests;
