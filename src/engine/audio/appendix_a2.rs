//! RFC 3611 Appendix A.2, "Algorithm for Determining the Burst/Gap Metrics", transcribed
//! literally (names, branches and order as in the RFC) to test [`super::pattern`] against.
//! Test-only; the production code shares nothing with it. (Cross-checked against two deployed
//! transcriptions of the same appendix, pjmedia's `rtcp_xr.c`, which quotes the RFC's p32 and
//! p23 lines as its "original version", and FMJ/libjitsi's `BurstMetrics`: same branches, same
//! final formulas.)
//!
//! The RFC's C declares the counters `int` and leaves their arithmetic type to the reader; the
//! final step divides them, which only makes sense in real arithmetic, so the derived values
//! here are `f64` as the RFC's formulas read. The RFC does not say what happens when a
//! denominator is zero: the guards below are the ones the production code documents
//! (`BurstGap::metrics`), applied at the same places.

/// The per-packet state of A.2.
#[derive(Debug, Default)]
pub struct A2 {
    pub gmin: i64,
    pub lost: i64,
    pub pkt: i64,
    pub c11: i64,
    pub c13: i64,
    pub c14: i64,
    pub c22: i64,
    pub c23: i64,
    pub c33: i64,
}

impl A2 {
    pub fn new() -> Self {
        A2 {
            gmin: 16,
            ..A2::default()
        }
    }

    /// A.2's per-packet code: `packet_lost` is true for a packet lost or discarded.
    pub fn packet(&mut self, packet_lost: bool) {
        if !packet_lost {
            self.pkt += 1;
        } else {
            if self.pkt >= self.gmin {
                if self.lost == 1 {
                    self.c14 += 1;
                } else {
                    self.c13 += 1;
                }
                self.lost = 1;
                self.c11 += self.pkt;
            } else {
                self.lost += 1;
                if self.pkt == 0 {
                    self.c33 += 1;
                } else {
                    self.c23 += 1;
                    self.c22 += self.pkt - 1;
                }
            }
            self.pkt = 0;
        }
    }

    /// A.2's final step: (burst_density, gap_density) as the RFC's 0..256 values, and
    /// (burst_length, gap_length) in units of `m`. None when no transition was counted.
    pub fn report(&self, m: f64) -> Option<(f64, f64, f64, f64)> {
        let (c11, mut c13, c14, c22, c23, c33) = (
            self.c11 as f64,
            self.c13 as f64,
            self.c14 as f64,
            self.c22 as f64,
            self.c23 as f64,
            self.c33 as f64,
        );
        /* Calculate additional transition counts. */
        let c31 = c13;
        let c32 = c23;
        let mut ctotal = c11 + c14 + c13 + c22 + c23 + c31 + c32 + c33;
        if ctotal == 0.0 {
            return None;
        }
        /* Calculate burst and densities. */
        let p32 = if c31 + c32 + c33 == 0.0 {
            0.0
        } else {
            c32 / (c31 + c32 + c33)
        };
        let p23 = if (c22 + c23) < 1.0 {
            1.0
        } else {
            1.0 - c22 / (c22 + c23)
        };
        let burst_density = if p23 + p32 == 0.0 {
            0.0
        } else {
            256.0 * p23 / (p23 + p32)
        };
        let gap_density = if c11 + c14 == 0.0 {
            0.0
        } else {
            256.0 * c14 / (c11 + c14)
        };
        /* Calculate burst and gap durations in ms */
        if c13 == 0.0 {
            c13 = 1.0;
            ctotal += 1.0;
        }
        let gap_length = (c11 + c14 + c13) * m / c13;
        let burst_length = ctotal * m / c13 - gap_length;
        Some((burst_density, gap_density, burst_length, gap_length))
    }
}
