//! A literal transcription of RFC 3550 Appendix A.1, A.3 and A.8, for property tests only.
//!
//! Each function carries the RFC's C code in comments, line for line, next to the Rust that
//! mirrors it. C's types are kept: `u_int16`/`u_int32` fields, `int` locals, unsigned wrapping
//! arithmetic and integer promotion, so that the quirks of the original come along (for example
//! `seq == s->max_seq + 1` is compared in `int`, where 65535 + 1 is 65536). Nothing here is
//! "fixed"; [`crate::engine::seq`] and [`crate::engine::jitter`] say where they differ and the
//! property tests in `appendix_a/` check that they coincide everywhere else.
//!
//! Where the RFC leaves something open the harness decides, and says so: how a new source is
//! set up (the §A.1 prose, transcribed in [`Source::new`]) and what `s->transit` holds before the
//! first packet (A.8 does not say; [`JitterFloat::first`] and [`JitterInt::first`] set it from the
//! first packet, since §6.4.1 defines D only between two packets).

mod jitter_props;
mod seq_props;

// #define RTP_SEQ_MOD (1<<16)
pub const RTP_SEQ_MOD: u32 = 1 << 16;
// const int MAX_DROPOUT = 3000;
pub const MAX_DROPOUT: i32 = 3000;
// const int MAX_MISORDER = 100;
pub const MAX_MISORDER: i32 = 100;
// const int MIN_SEQUENTIAL = 2;
pub const MIN_SEQUENTIAL: u32 = 2;

/// A.1 per-source state (the sequence and A.3 fields of `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub max_seq: u16,        // u_int16 max_seq;        /* highest seq. number seen */
    pub cycles: u32,         // u_int32 cycles;         /* shifted count of seq. number cycles */
    pub base_seq: u32,       // u_int32 base_seq;       /* base seq number */
    pub bad_seq: u32,        // u_int32 bad_seq;        /* last 'bad' seq number + 1 */
    pub probation: u32,      // u_int32 probation;      /* sequ. packets till source is valid */
    pub received: u32,       // u_int32 received;       /* packets received */
    pub expected_prior: u32, // u_int32 expected_prior; /* packet expected at last interval */
    pub received_prior: u32, // u_int32 received_prior; /* packet received at last interval */
}

impl Source {
    /// A.1 prose: "When a new source is heard for the first time ... `init_seq(s, seq);
    /// s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL;`". The caller then runs
    /// [`update_seq`] on that same first packet (that is what `max_seq = seq - 1` is for).
    pub fn new(seq: u16) -> Self {
        let mut s = Source {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        init_seq(&mut s, seq);
        s.max_seq = seq.wrapping_sub(1);
        s.probation = MIN_SEQUENTIAL;
        s
    }
}

// void init_seq(source *s, u_int16 seq)
// {
pub fn init_seq(s: &mut Source, seq: u16) {
    //     s->base_seq = seq;
    s.base_seq = u32::from(seq);
    //     s->max_seq = seq;
    s.max_seq = seq;
    //     s->bad_seq = RTP_SEQ_MOD + 1;   /* so seq == bad_seq is false */
    s.bad_seq = RTP_SEQ_MOD + 1;
    //     s->cycles = 0;
    s.cycles = 0;
    //     s->received = 0;
    s.received = 0;
    //     s->received_prior = 0;
    s.received_prior = 0;
    //     s->expected_prior = 0;
    s.expected_prior = 0;
    //     /* other initialization */
}
// }

// int update_seq(source *s, u_int16 seq)
// {
pub fn update_seq(s: &mut Source, seq: u16) -> i32 {
    //     u_int16 udelta = seq - s->max_seq;
    let udelta: u16 = seq.wrapping_sub(s.max_seq);
    //     /*
    //      * Source is not valid until MIN_SEQUENTIAL packets with
    //      * sequential sequence numbers have been received.
    //      */
    //     if (s->probation) {
    if s.probation != 0 {
        //         /* packet is in sequence */
        //         if (seq == s->max_seq + 1) {
        if i32::from(seq) == i32::from(s.max_seq) + 1 {
            //             s->probation--;
            s.probation -= 1;
            //             s->max_seq = seq;
            s.max_seq = seq;
            //             if (s->probation == 0) {
            if s.probation == 0 {
                //                 init_seq(s, seq);
                init_seq(s, seq);
                //                 s->received++;
                s.received = s.received.wrapping_add(1);
                //                 return 1;
                return 1;
                //             }
            }
            //         } else {
        } else {
            //             s->probation = MIN_SEQUENTIAL - 1;
            s.probation = MIN_SEQUENTIAL - 1;
            //             s->max_seq = seq;
            s.max_seq = seq;
            //         }
        }
        //         return 0;
        return 0;
        //     } else if (udelta < MAX_DROPOUT) {
    } else if i32::from(udelta) < MAX_DROPOUT {
        //         /* in order, with permissible gap */
        //         if (seq < s->max_seq) {
        if seq < s.max_seq {
            //             /*
            //              * Sequence number wrapped - count another 64K cycle.
            //              */
            //             s->cycles += RTP_SEQ_MOD;
            s.cycles = s.cycles.wrapping_add(RTP_SEQ_MOD);
            //         }
        }
        //         s->max_seq = seq;
        s.max_seq = seq;
        //     } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
    } else if i64::from(udelta) <= i64::from(RTP_SEQ_MOD) - i64::from(MAX_MISORDER) {
        //         /* the sequence number made a very large jump */
        //         if (seq == s->bad_seq) {
        if u32::from(seq) == s.bad_seq {
            //             /*
            //              * Two sequential packets -- assume that the other side
            //              * restarted without telling us so just re-sync
            //              * (i.e., pretend this was the first packet).
            //              */
            //             init_seq(s, seq);
            init_seq(s, seq);
            //         }
            //         else {
        } else {
            //             s->bad_seq = (seq + 1) & (RTP_SEQ_MOD-1);
            s.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
            //             return 0;
            return 0;
            //         }
        }
        //     } else {
    } else {
        //         /* duplicate or reordered packet */
        //     }
    }
    //     s->received++;
    s.received = s.received.wrapping_add(1);
    //     return 1;
    1
}
// }

/// A.3, the first two lines: `expected` (as the `int` it is assigned to).
pub fn a3_expected(s: &Source) -> i32 {
    // extended_max = s->cycles + s->max_seq;
    let extended_max: u32 = s.cycles.wrapping_add(u32::from(s.max_seq));
    // expected = extended_max - s->base_seq + 1;
    extended_max.wrapping_sub(s.base_seq).wrapping_add(1) as i32
}

/// A.3 in full: the cumulative `lost` (clamped to the 24-bit RR field) and the interval
/// `fraction`, updating the priors.
// The clamp is written as the RFC writes it.
#[allow(clippy::manual_clamp)]
pub fn a3_report(s: &mut Source) -> (i32, i32) {
    // extended_max = s->cycles + s->max_seq;
    // expected = extended_max - s->base_seq + 1;
    let expected: i32 = a3_expected(s);
    // lost = expected - s->received;
    let mut lost: i32 = expected.wrapping_sub(s.received as i32);
    // if (lost > 0x7fffff) lost = 0x7fffff; else if (lost < -0x800000) lost = -0x800000;
    if lost > 0x7f_ffff {
        lost = 0x7f_ffff;
    } else if lost < -0x80_0000 {
        lost = -0x80_0000;
    }
    // expected_interval = expected - s->expected_prior;
    let expected_interval: i32 = expected.wrapping_sub(s.expected_prior as i32);
    // s->expected_prior = expected;
    s.expected_prior = expected as u32;
    // received_interval = s->received - s->received_prior;
    let received_interval: i32 = s.received.wrapping_sub(s.received_prior) as i32;
    // s->received_prior = s->received;
    s.received_prior = s.received;
    // lost_interval = expected_interval - received_interval;
    let lost_interval: i32 = expected_interval.wrapping_sub(received_interval);
    // if (expected_interval == 0 || lost_interval <= 0) fraction = 0;
    // else fraction = (lost_interval << 8) / expected_interval;
    let fraction: i32 = if expected_interval == 0 || lost_interval <= 0 {
        0
    } else {
        lost_interval.wrapping_shl(8) / expected_interval
    };
    (lost, fraction)
}

/// A.8 state, floating-point form: `u_int32 transit; double jitter;`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterFloat {
    pub transit: u32,
    pub jitter: f64,
}

/// A.8 state, integer form: `u_int32 transit; u_int32 jitter;` (jitter scaled by 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterInt {
    pub transit: u32,
    pub jitter: u32,
}

impl JitterFloat {
    /// Harness choice: the first packet sets `transit` (A.8 leaves it open).
    pub fn first(arrival: u32, ts: u32) -> Self {
        JitterFloat {
            transit: arrival.wrapping_sub(ts),
            jitter: 0.0,
        }
    }

    /// A.8, floating-point form, for a packet with RTP timestamp `ts` arriving at `arrival`
    /// (in timestamp units, modulo 2^32).
    pub fn update(&mut self, arrival: u32, ts: u32) {
        // int transit = arrival - r->ts;
        let transit: i32 = arrival.wrapping_sub(ts) as i32;
        // int d = transit - s->transit;
        let mut d: i32 = (transit as u32).wrapping_sub(self.transit) as i32;
        // s->transit = transit;
        self.transit = transit as u32;
        // if (d < 0) d = -d;
        if d < 0 {
            d = d.wrapping_neg();
        }
        // s->jitter += (1./16.) * ((double)d - s->jitter);
        self.jitter += (1. / 16.) * (f64::from(d) - self.jitter);
    }

    /// `rr->jitter = (u_int32) s->jitter;`
    pub fn rr(&self) -> u32 {
        self.jitter as u32
    }
}

impl JitterInt {
    /// Harness choice: the first packet sets `transit` (A.8 leaves it open).
    pub fn first(arrival: u32, ts: u32) -> Self {
        JitterInt {
            transit: arrival.wrapping_sub(ts),
            jitter: 0,
        }
    }

    /// A.8, integer form.
    pub fn update(&mut self, arrival: u32, ts: u32) {
        // int transit = arrival - r->ts;
        let transit: i32 = arrival.wrapping_sub(ts) as i32;
        // int d = transit - s->transit;
        let mut d: i32 = (transit as u32).wrapping_sub(self.transit) as i32;
        // s->transit = transit;
        self.transit = transit as u32;
        // if (d < 0) d = -d;
        if d < 0 {
            d = d.wrapping_neg();
        }
        // s->jitter += d - ((s->jitter + 8) >> 4);
        self.jitter = self
            .jitter
            .wrapping_add((d as u32).wrapping_sub(self.jitter.wrapping_add(8) >> 4));
    }

    /// `rr->jitter = s->jitter >> 4;`
    pub fn rr(&self) -> u32 {
        self.jitter >> 4
    }
}
