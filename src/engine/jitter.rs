//! Interarrival jitter: RFC 3550 §6.4.1 and Appendix A.8.
//!
//! For packets i-1 and i in arrival order (not sequence order, §6.4.1), with arrival times R and
//! RTP timestamps S in timestamp units,
//!
//! ```text
//! D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1})
//! J(i)      = J(i-1) + (|D(i-1, i)| - J(i-1)) / 16
//! ```
//!
//! [`Jitter`] keeps J as an `f64` (the floating-point form of A.8). The arrival difference is
//! converted to timestamp units from nanoseconds as one exact integer product
//! (`Δns * clock_rate`, in `i128`) divided once by 10^9, so no precision is lost to an absolute
//! clock; the timestamp difference is taken modulo 2^32 as an `i32`, which handles the wrap.
//! [`Jitter::rr_value`] is what a receiver running A.8 would put into the RR jitter field.
//!
//! It also keeps the maximum and mean of the estimate for reporting. It does not decide which
//! packets to feed (the caller passes every packet of one SSRC in capture order) nor which clock
//! rate applies (see [`super::clock`]); the clock rate must stay the same for a given `Jitter`.

/// RFC 3550 A.8 interarrival jitter estimator for one source.
#[derive(Debug, Clone, Default)]
pub struct Jitter {
    /// Arrival time (ns) of the previous packet, if `primed`.
    prev_ns: i64,
    /// Current estimate J, in timestamp units.
    jitter: f64,
    /// Largest J seen.
    max: f64,
    /// Sum of J after each update, for the mean.
    sum: f64,
    /// Updates that produced an estimate (every packet after the first).
    samples: u64,
    /// RTP timestamp of the previous packet, if `primed`.
    prev_ts: u32,
    /// A previous packet was seen. (Apart from the time and timestamp rather than an
    /// `Option` of both: 48 bytes instead of 56, in the stream's hot part.)
    primed: bool,
}

const NANOS_PER_SEC: f64 = 1e9;

impl Jitter {
    /// An estimator that has seen no packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one packet, in arrival order: `arrival_ns` is its capture time in ns, `rtp_ts` its
    /// RTP timestamp, `clock_rate` the stream's RTP clock in Hz. The first packet only sets the
    /// reference; each later one updates J. A `clock_rate` of 0 is ignored.
    pub fn update(&mut self, arrival_ns: i64, rtp_ts: u32, clock_rate: u32) {
        if clock_rate == 0 {
            return;
        }
        if self.primed {
            let (prev_ns, prev_ts) = (self.prev_ns, self.prev_ts);
            // Exact product (in i64 when it fits, as it always does for packets less than
            // ~15 minutes apart); one rounding in the conversion, one in the division.
            let d_ns = arrival_ns.wrapping_sub(prev_ns);
            let d_arrival = match d_ns.checked_mul(i64::from(clock_rate)) {
                Some(p) if arrival_ns.checked_sub(prev_ns).is_some() => p as f64 / NANOS_PER_SEC,
                _ => {
                    let d = i128::from(arrival_ns) - i128::from(prev_ns);
                    (d * i128::from(clock_rate)) as f64 / NANOS_PER_SEC
                }
            };
            // Modular difference reinterpreted as signed: the timestamp wrap (RFC 3550 §5.1).
            let d_ts = f64::from(rtp_ts.wrapping_sub(prev_ts) as i32);
            let d = (d_arrival - d_ts).abs();
            self.jitter += (d - self.jitter) / 16.0;
            self.max = self.max.max(self.jitter);
            self.sum += self.jitter;
            self.samples += 1;
        }
        (self.prev_ns, self.prev_ts, self.primed) = (arrival_ns, rtp_ts, true);
    }

    /// Current estimate J, in timestamp units.
    pub fn jitter_ts(&self) -> f64 {
        self.jitter
    }

    /// Current estimate in seconds (0 for a `clock_rate` of 0).
    pub fn jitter_secs(&self, clock_rate: u32) -> f64 {
        to_secs(self.jitter, clock_rate)
    }

    /// Largest estimate so far, in seconds.
    pub fn max_secs(&self, clock_rate: u32) -> f64 {
        to_secs(self.max, clock_rate)
    }

    /// Mean of the estimate taken after each update, in seconds (tshark's "Mean Jitter"; the
    /// first packet, which yields no estimate, is not part of the mean). 0 before any update.
    pub fn mean_secs(&self, clock_rate: u32) -> f64 {
        if self.samples == 0 {
            return 0.0;
        }
        to_secs(self.sum / self.samples as f64, clock_rate)
    }

    /// Updates that produced an estimate: packets seen minus one.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The RR "interarrival jitter" field (RFC 3550 §6.4.1): the estimate truncated to an integer
    /// in timestamp units, as A.8's `rr->jitter = (u_int32) s->jitter` (floating form) or
    /// `s->jitter >> 4` (integer form, which keeps 16 J). Saturates at `u32::MAX`.
    pub fn rr_value(&self) -> u32 {
        // `as` saturates and is exactly the C truncation for values in range.
        self.jitter as u32
    }
}

fn to_secs(ts_units: f64, clock_rate: u32) -> f64 {
    if clock_rate == 0 {
        0.0
    } else {
        ts_units / f64::from(clock_rate)
    }
}

#[cfg(test)]
mod tests;
