//! An E-model estimate of a voice stream's quality: the R-factor of ITU-T G.107 (06/2015,
//! narrowband) or G.107.1 (06/2019, wideband), and the MOS it maps to, from what a passive probe
//! knows about a stream: its codec ([`codecs`]), the effective packet loss, how bursty that loss
//! is, and the one-way delay.
//!
//! Why an estimate, and which one: operators compare calls by "MOS" and Homer's HEP reports
//! carry MOS and R-factor chunks, but a probe in the middle hears neither ear nor mouth. With
//! the Recommendations' defaults for everything it cannot see (loudness, noise, sidetone, echo
//! with perfect cancellation, `A = 0`) the model reduces to (G.107 eq. 7-1, 7-26 to 7-29;
//! G.107.1 eq. 7-1 and §7.5):
//!
//! ```text
//!   R = Rdef − Idd(Ta) − Ie,eff          Ie,eff = Ie + (Rmax − Ie) · Ppl / (Ppl / BurstR + Bpl)
//!   narrowband: Rdef = 93.2 (G.107 §7.7),  Rmax = 95,  R in 0..100
//!   wideband:   Rdef = 129  (G.107.1 §6.2), Rmax = 129, R in 0..129
//! ```
//!
//! `g107_literal.rs` (tests only) transcribes the full Recommendations equation by equation with
//! the Table 3 defaults; property tests there show this simplified form equals it over random
//! loss, BurstR, delay and codec. The full G.107 with every default gives 93.19…; the
//! Recommendation itself states 93.2, which is the constant used here (the two differ by less
//! than 0.01, the precision records round to).
//!
//! - `Ppl`: the effective loss the listener suffered, in percent: network loss plus packets a
//!   receiver's jitter buffer discards as late ([`Inputs::ppl`]).
//! - `BurstR`: 1 for random loss, above 1 for bursty loss (G.107 eq. 7-30/7-31: `1 / (p + q)`
//!   of the two-state Markov model of the loss runs).
//! - `Ta`: the one-way mouth-to-ear delay: half the best round trip, plus the jitter buffer, plus
//!   codec and packetisation delay ([`Delay`]). Without any RTT the delay impairment is unknown:
//!   `mos_cq` is then `None`, and `r_factor`/`mos` keep their historic meaning (`Idd = 0`).
//! - `Idd` per G.107 §7.4 (eq. 7-27/7-28, `mA = 100 ms`, `sT = 1`: 0 up to 100 ms). The echo
//!   terms `Idte`/`Idle` are their values for perfect echo cancellation, which is what WebRTC
//!   and SIP endpoints run.
//!
//! Two scores come out, as RFC 3611 §4.7.5 names them: MOS-LQ (listening quality: the model
//! without the delay impairment, since a listener who does not talk back does not notice delay;
//! the usual practice of RFC 3611 reporters and ETSI TS 101 329-5 Annex E) and MOS-CQ
//! (conversational quality: with it). Both come from R by G.107 Annex B eq. B-4; a wideband R is
//! first scaled by 1/1.29 onto the narrowband scale (G.107.1 Annex A), which is also how the two
//! scales compare: a WB R of 129 is a NB R of 100.

pub mod codecs;
#[cfg(test)]
mod g107_literal;
#[cfg(test)]
mod tests;

pub use codecs::{
    codec_by_name, codec_by_payload_type, codec_for_stream, Codec, CodecChoice, CodecSource,
};

/// G.107's `Ro − Is − Idte − Idle` with every default value (Table 3), as §7.7 states it.
pub const R_DEFAULT_NB: f64 = 93.2;
/// G.107.1's `Ro,WB` with its default values (§6.2, §7.2: the wideband scale's top, 129).
pub const R_DEFAULT_WB: f64 = 129.0;
/// The wideband scale over the narrowband one (G.107.1 §6.2, Annex A).
pub const WB_SCALE: f64 = 1.29;

/// Which rating scale an R-factor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// G.107, 300–3400 Hz, R in 0..=100.
    Narrowband,
    /// G.107.1, 50–7000 Hz, R in 0..=129.
    Wideband,
}

impl Scale {
    /// The name in records and JSON: `"nb"` or `"wb"`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Narrowband => "nb",
            Scale::Wideband => "wb",
        }
    }

    /// `R` with every default and no impairment.
    pub fn r_default(self) -> f64 {
        match self {
            Scale::Narrowband => R_DEFAULT_NB,
            Scale::Wideband => R_DEFAULT_WB,
        }
    }

    /// The ceiling of `Ie,eff` under total loss (G.107 eq. 7-29: 95; G.107.1 §7.5: 129).
    fn ie_ceiling(self) -> f64 {
        match self {
            Scale::Narrowband => 95.0,
            Scale::Wideband => 129.0,
        }
    }

    /// The top of the scale.
    pub fn r_max(self) -> f64 {
        match self {
            Scale::Narrowband => 100.0,
            Scale::Wideband => 129.0,
        }
    }
}

/// The one-way mouth-to-ear delay and its parts, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    /// Half the best round-trip time available.
    pub rtt_half_ms: f64,
    /// The receiver's jitter buffer delay.
    pub jitter_buffer_ms: f64,
    /// Packetisation (ptime) plus the codec's look-ahead.
    pub codec_ms: f64,
}

impl Delay {
    /// `Ta`, the sum of the parts.
    pub fn total_ms(&self) -> f64 {
        self.rtt_half_ms + self.jitter_buffer_ms + self.codec_ms
    }
}

/// What the estimate is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Effective packet loss, percent 0..=100: network loss plus late discards.
    pub ppl: f64,
    /// G.107's BurstR: 1 = random loss, above 1 = bursty.
    pub burst_r: f64,
    /// One-way delay, or `None` when no round trip is known.
    pub delay: Option<Delay>,
}

/// An R-factor and its MOS values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub scale: Scale,
    /// R with the delay impairment when the delay is known, else without it (`Idd = 0`).
    pub r_factor: f64,
    /// MOS of `r_factor` (the historic `mos` of records).
    pub mos: f64,
    /// Listening quality: the MOS of R without the delay impairment.
    pub mos_lq: f64,
    /// Conversational quality: the MOS of R with it; `None` without a known delay.
    pub mos_cq: Option<f64>,
    /// The terms, for reporting beside the score.
    pub ie_eff: f64,
    pub idd: f64,
}

/// The estimate for `codec` under `inputs`; `None` when an input is not a finite number.
pub fn estimate(codec: &Codec, inputs: Inputs) -> Option<Estimate> {
    let finite_delay = inputs.delay.map_or(true, |d| d.total_ms().is_finite());
    if !inputs.ppl.is_finite() || !inputs.burst_r.is_finite() || !finite_delay {
        return None;
    }
    let scale = codec.scale;
    let ppl = inputs.ppl.clamp(0.0, 100.0);
    // BurstR below 1 means loss more spread out than random (G.107 §7.5); it cannot be 0.
    let burst_r = inputs.burst_r.max(0.1);
    let ie_eff = ie_eff(scale, codec.ie, codec.bpl, ppl, burst_r);
    let idd = inputs
        .delay
        .map(|d| delay_impairment(d.total_ms().max(0.0)));
    let clamp = |r: f64| r.clamp(0.0, scale.r_max());
    let r_listening = clamp(scale.r_default() - ie_eff);
    let r_conv = idd.map(|i| clamp(scale.r_default() - i - ie_eff));
    let r_factor = r_conv.unwrap_or(r_listening);
    Some(Estimate {
        scale,
        r_factor,
        mos: mos_of(scale, r_factor),
        mos_lq: mos_of(scale, r_listening),
        mos_cq: r_conv.map(|r| mos_of(scale, r)),
        ie_eff,
        idd: idd.unwrap_or(0.0),
    })
}

/// G.107 eq. 7-29 (narrowband) / G.107.1 §7.5 (wideband): the effective equipment impairment.
pub fn ie_eff(scale: Scale, ie: f64, bpl: f64, ppl: f64, burst_r: f64) -> f64 {
    let denom = ppl / burst_r + bpl;
    if denom <= 0.0 {
        return ie;
    }
    ie + (scale.ie_ceiling() - ie) * ppl / denom
}

/// G.107 §7.4 eq. 7-27/7-28, `Idd` for an absolute one-way delay `ta_ms` (`mA = 100 ms`,
/// `sT = 1`; G.107.1 §7.4 uses the same `Idd`).
pub fn delay_impairment(ta_ms: f64) -> f64 {
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// The MOS of an R on `scale`: wideband R scaled onto the narrowband one (G.107.1 Annex A),
/// then G.107 eq. B-4.
pub fn mos_of(scale: Scale, r: f64) -> f64 {
    match scale {
        Scale::Narrowband => mos(r),
        Scale::Wideband => mos(r / WB_SCALE),
    }
}

/// G.107 Annex B, equation B-4: the MOS (conversational quality, estimated) of an R-factor.
/// The cubic dips just below 1 for `0 < R < 6.5`; the scale's floor is 1, so it is held there.
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}
