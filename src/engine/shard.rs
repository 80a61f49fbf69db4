//! Which engine owns which SSRC, when the stream table is split across worker threads.
//!
//! The live pipeline runs one [`super::Engine`] per worker and sends every RTP packet to the
//! worker that owns its SSRC. RTCP is about SSRCs too: sender reports, SDES and BYE about the
//! sender's own stream, report blocks and feedback about the stream they name (RFC 3550 §6.4,
//! RFC 4585 §6.1). So an RTCP datagram goes to every worker that owns one of the SSRCs it
//! mentions ([`rtcp_ssrcs`]), and each engine acts only on the parts about SSRCs it owns: a
//! receiver report always reaches the engine that holds the stream it describes, and nothing
//! is counted twice. Compounds with a sender report go to every shard (see [`rtcp_shards`]).
//! Datagram-level RTCP counters belong to the owner of the first SSRC
//! ([`primary_ssrc`]); STUN, which is about 5-tuples, goes to every worker and is counted by
//! worker 0.
//!
//! Cross-SSRC lookups (the `sr_chain` RTT needs the peer's SR, `end_to_end` through the
//! reverse stream needs the peer stream's `capture_point` RTT) use what a shard remembers of
//! SSRCs it does not own (`engine/foreign.rs`), so the shard count does not change the numbers.

use crate::wire::rtcp::{self, xr::XrBlock, Compound, Packet, PsFeedbackKind};

/// This engine's part of the SSRC space: SSRCs with `Shard::of(count, ssrc) == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole SSRC space: a single engine (replay, tests).
    pub const SOLE: Shard = Shard { index: 0, count: 1 };

    /// The shard of `ssrc` among `count`. SSRCs are meant to be random (RFC 3550 §8.1), but
    /// some SFUs and gateways allocate them sequentially, so they are mixed first (Fibonacci
    /// hashing) and then mapped onto `0..count` without a division.
    pub fn of(count: u32, ssrc: u32) -> u32 {
        let mixed = ssrc.wrapping_mul(0x9E37_79B1);
        ((u64::from(mixed) * u64::from(count.max(1))) >> 32) as u32
    }

    pub fn owns(&self, ssrc: u32) -> bool {
        self.count <= 1 || Shard::of(self.count, ssrc) == self.index
    }
}

/// The SSRC whose owner counts an RTCP datagram as a whole (packets, SRTCP, malformed): the
/// first one, or 0 when not even that parses.
pub fn primary_ssrc(buf: &[u8]) -> u32 {
    rtcp::first_ssrc(buf).unwrap_or(0)
}

/// Calls `f` with every SSRC an RTCP datagram is about, in the order the engine handles them
/// (duplicates possible), starting with [`primary_ssrc`]. SRTCP is encrypted past its first
/// header, so only the primary SSRC is visited; a malformed part ends the walk as in the
/// engine. Borrowed views only: no allocation.
pub fn rtcp_ssrcs(buf: &[u8], complete: bool, mut f: impl FnMut(u32)) {
    f(primary_ssrc(buf));
    if complete && rtcp::is_srtcp(buf) {
        return;
    }
    for item in Compound::new(buf) {
        let Ok(p) = item else { break };
        match p {
            Packet::SenderReport(sr) => {
                f(sr.ssrc());
                sr.report_blocks().for_each(|b| f(b.ssrc()));
            }
            Packet::ReceiverReport(rr) => rr.report_blocks().for_each(|b| f(b.ssrc())),
            Packet::Sdes(sdes) => sdes.cnames().for_each(|(ssrc, _)| f(ssrc)),
            Packet::Bye(bye) => bye.ssrcs().for_each(&mut f),
            Packet::RtpFeedback(fb) => f(fb.media_ssrc()),
            Packet::PsFeedback(fb) => match fb.kind() {
                PsFeedbackKind::Pli => f(fb.media_ssrc()),
                PsFeedbackKind::Fir(fir) => fir.entries().for_each(|(ssrc, _)| f(ssrc)),
                PsFeedbackKind::Remb(remb) => remb.ssrcs().for_each(&mut f),
                _ => {}
            },
            Packet::Xr(xr) => xr.blocks().for_each(|b| {
                if let XrBlock::VoipMetrics(m) = b {
                    f(m.ssrc());
                }
            }),
            Packet::App(_) | Packet::Unknown { .. } => {}
        }
    }
}

/// The set of shards (bit i = shard i, `count` ≤ 64) an RTCP datagram must reach.
///
/// A compound with a sender report or a report block goes to every shard: the SR may be needed
/// by the owner of an SSRC it does not mention yet (the peer whose report will answer it), and
/// a report block gives the `capture_point` of a direction that the `end_to_end` of streams in
/// any shard may use (the opposite direction of a leg; super::foreign). Each shard must see
/// them all, in capture order, for `end_to_end` not to depend on the shard count. Reports are
/// a small share of RTCP, itself a few percent of the packets.
pub fn rtcp_shards(buf: &[u8], complete: bool, count: u32) -> u64 {
    let all = if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    };
    if !(complete && rtcp::is_srtcp(buf))
        && Compound::new(buf).any(|p| match p {
            Ok(Packet::SenderReport(_)) => true,
            Ok(Packet::ReceiverReport(rr)) => rr.report_blocks().next().is_some(),
            // The RRT and the DLRR answering it name different SSRCs (super::xr): every shard
            // keeps the RRTs, the owner of the DLRR's writer pairs them.
            Ok(Packet::Xr(xr)) => xr
                .blocks()
                .any(|b| matches!(b, XrBlock::ReceiverReferenceTime { .. } | XrBlock::Dlrr(_))),
            _ => false,
        })
    {
        return all;
    }
    let mut mask = 0u64;
    rtcp_ssrcs(buf, complete, |ssrc| {
        mask |= 1u64 << (Shard::of(count, ssrc) & 63);
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ssrc_has_exactly_one_owner_and_shards_are_balanced() {
        for count in [1u32, 2, 3, 7, 64] {
            let mut sizes = vec![0u32; count as usize];
            // Sequential SSRCs, as some SFUs allocate them: still spread evenly.
            for ssrc in 1000u32..1000 + 64_000 {
                let owners: Vec<u32> = (0..count)
                    .filter(|&i| Shard { index: i, count }.owns(ssrc))
                    .collect();
                assert_eq!(owners.len(), 1, "ssrc {ssrc} count {count}");
                sizes[owners[0] as usize] += 1;
            }
            let (min, max) = (sizes.iter().min(), sizes.iter().max());
            let (min, max) = (*min.unwrap_or(&0), *max.unwrap_or(&0));
            assert!(max - min <= 64_000 / count / 10, "{count}: {sizes:?}");
        }
    }

    #[test]
    fn a_receiver_report_reaches_the_owner_of_the_ssrc_it_describes() {
        // RR from SSRC 0x11111111 with blocks about 0x22222222 and 0x33333333, then a PLI
        // about 0x44444444.
        let mut buf = vec![0x82, 201, 0, 13, 0x11, 0x11, 0x11, 0x11];
        for ssrc in [0x2222_2222u32, 0x3333_3333] {
            buf.extend_from_slice(&ssrc.to_be_bytes());
            buf.extend_from_slice(&[0; 20]);
        }
        buf.extend_from_slice(&[
            0x81, 206, 0, 2, 0x11, 0x11, 0x11, 0x11, 0x44, 0x44, 0x44, 0x44,
        ]);
        let mut seen = Vec::new();
        rtcp_ssrcs(&buf, true, |s| seen.push(s));
        assert_eq!(seen, [0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444]);
        // Report blocks go to every shard (the `end_to_end` of any shard's streams may need
        // the RTT they give).
        let count = 5;
        assert_eq!(rtcp_shards(&buf, true, count), (1 << count) - 1);
        // Feedback headed by an empty RR goes only to the owners of the SSRCs it names.
        let fb = [
            0x80, 201, 0, 1, 0x11, 0x11, 0x11, 0x11, // RR, no blocks
            0x81, 206, 0, 2, 0x11, 0x11, 0x11, 0x11, 0x44, 0x44, 0x44, 0x44, // PLI
        ];
        let mask = rtcp_shards(&fb, true, count);
        let owners = [0x1111_1111u32, 0x4444_4444]
            .iter()
            .fold(0u64, |m, &s| m | 1 << Shard::of(count, s));
        assert_eq!(mask, owners);
    }

    #[test]
    fn garbage_goes_to_the_owner_of_ssrc_zero_only() {
        let mask = rtcp_shards(&[0x80, 200], true, 8);
        assert_eq!(mask, 1 << Shard::of(8, 0));
    }
}
