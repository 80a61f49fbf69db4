//! An E-model estimate of a voice stream's quality: the R-factor of ITU-T G.107 (06/2015,
//! §3.3–3.7 with the default values of its Table 3) and the MOS it maps to (Annex B), from what
//! a passive probe knows about a stream: its codec (static RTP payload type, RFC 3551 §6), the
//! loss and jitter the receiver reported (or the probe measured), and a round-trip time.
//!
//! Why an estimate, and which one: operators compare calls by "MOS" and Homer's HEP reports
//! carry MOS and R-factor chunks, but a probe in the middle hears neither ear nor mouth. With
//! G.107's defaults for everything it cannot see (echo, noise, loudness: `Ro − Is = 93.2`,
//! `A = 0`), R reduces to
//!
//! ```text
//!   R = 93.2 − Idd(Ta) − Ie,eff          Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl)
//! ```
//!
//! - `Ie` and `Bpl` per codec from ITU-T G.113 (11/2007) Appendix I, Table I.3 (G.711 with its
//!   Appendix I concealment, G.729A, G.723.1 at 6.3 kbit/s). Only these narrowband codecs have
//!   values there; a stream of any other codec (Opus, video, dynamic payload types) gets no
//!   estimate rather than a made-up one.
//! - `Ppl`, the packet-loss percentage the listener suffered: the receiver's own report (RFC
//!   3550 §6.4.1 fraction lost) when there is one, since it covers the whole path to that
//!   receiver; else the loss the probe measured in the interval (a lower bound).
//! - `BurstR = 1` (random loss): records do not keep loss run lengths.
//! - `Ta`, the one-way mouth-to-ear delay: half the round trip (end-to-end, else SR chain,
//!   else STUN, else the probe's capture-point RTT) plus a nominal adaptive jitter buffer of
//!   twice the interarrival jitter (the receiver's report, else the probe's). Without any RTT
//!   the delay term is left out (`Idd = 0`): the estimate is then of listening quality only.
//! - `Idd` per G.107 §3.6 (0 up to 100 ms); the echo terms `Idte`/`Idle` are taken as their
//!   values for perfect echo cancellation, which is what WebRTC and SIP endpoints run.

/// G.107's `Ro − Is` with every default value (Table 3).
const R_DEFAULT: f64 = 93.2;

/// A codec's equipment impairment (`Ie`) and packet-loss robustness (`Bpl`), G.113 Table I.3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Codec {
    pub name: &'static str,
    pub ie: f64,
    pub bpl: f64,
}

/// The codec of a static payload type (RFC 3551 Table 4), when G.113 has values for it.
pub fn codec(payload_type: u8) -> Option<Codec> {
    let (name, ie, bpl) = match payload_type {
        0 => ("PCMU", 0.0, 25.1),
        8 => ("PCMA", 0.0, 25.1),
        18 => ("G729", 11.0, 19.0),
        4 => ("G723", 15.0, 16.1),
        _ => return None,
    };
    Some(Codec { name, ie, bpl })
}

/// What the estimate is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Packet loss the listener suffered, 0..=1.
    pub loss_ratio: f64,
    /// Interarrival jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
}

/// An R-factor and its MOS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub r_factor: f64,
    pub mos: f64,
}

/// The estimate for `codec` under `inputs`; `None` when an input is not a finite number.
pub fn estimate(codec: Codec, inputs: Inputs) -> Option<Estimate> {
    let finite = |v: Option<f64>| v.map_or(true, f64::is_finite);
    if !inputs.loss_ratio.is_finite() || !finite(inputs.jitter_ms) || !finite(inputs.rtt_ms) {
        return None;
    }
    let ppl = (inputs.loss_ratio.clamp(0.0, 1.0)) * 100.0;
    let ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl);
    let idd = match inputs.rtt_ms {
        Some(rtt) => {
            let buffer = 2.0 * inputs.jitter_ms.unwrap_or(0.0).max(0.0);
            delay_impairment(rtt.max(0.0) / 2.0 + buffer)
        }
        None => 0.0,
    };
    let r = (R_DEFAULT - idd - ie_eff).clamp(0.0, 100.0);
    Some(Estimate {
        r_factor: r,
        mos: mos(r),
    })
}

/// G.107 §3.6, `Idd` for an absolute one-way delay `ta_ms` (`mA = 100 ms`, `sT = 1`).
pub fn delay_impairment(ta_ms: f64) -> f64 {
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    /// The estimate for a static payload type: `None` for an unknown codec or a bad input.
    fn rated(
        pt: u8,
        loss_ratio: f64,
        jitter_ms: Option<f64>,
        rtt_ms: Option<f64>,
    ) -> Option<Estimate> {
        estimate(
            codec(pt)?,
            Inputs {
                loss_ratio,
                jitter_ms,
                rtt_ms,
            },
        )
    }

    /// `rated(…)` exists and its R-factor is `r` within `eps`.
    fn r_is(e: Option<Estimate>, r: f64, eps: f64) -> bool {
        e.is_some_and(|e| close(e.r_factor, r, eps))
    }

    #[test]
    fn a_clean_g711_call_is_g107s_default_rating() {
        // G.107 §3.1 / Table 3: 93.2 with every default, MOS 4.41 (Annex B).
        let e = rated(0, 0.0, Some(1.0), Some(40.0));
        assert!(r_is(e, 93.2, 1e-9), "{e:?}");
        assert!(e.is_some_and(|e| close(e.mos, 4.409, 0.001)), "{e:?}");
    }

    #[test]
    fn loss_follows_g107_equation_7_29() {
        // Ppl = 1 %, G.711 with PLC: Ie,eff = 95 · 1 / (1 + 25.1) = 3.64.
        let e = rated(8, 0.01, None, None);
        assert!(r_is(e, 93.2 - 95.0 / 26.1, 1e-9), "{e:?}");
        // G.729A at 5 %: 11 + 84 · 5 / 24 = 28.5, R = 64.7.
        let g729 = rated(18, 0.05, None, None);
        assert!(r_is(g729, 64.7, 1e-9), "{g729:?}");
    }

    #[test]
    fn delay_impairment_matches_g107_at_known_points() {
        assert_eq!(delay_impairment(100.0), 0.0);
        // X = log2(2) = 1: 25 · (2^(1/6) − 3 · (1 + 3^-6)^(1/6) + 2) = 3.04.
        assert!(close(delay_impairment(200.0), 3.04, 0.01));
        // X = 2: 25 · (65^(1/6) − 3 · (1 + (2/3)^6)^(1/6) + 2) = 24.07.
        assert!(close(delay_impairment(400.0), 24.07, 0.01));
        // Monotonic in delay.
        let mut last = 0.0;
        for t in (100..2000).step_by(50) {
            let d = delay_impairment(f64::from(t));
            assert!(d >= last, "{t}");
            last = d;
        }
    }

    #[test]
    fn delay_counts_half_the_rtt_plus_the_jitter_buffer() {
        // RTT 300 ms, jitter 25 ms: Ta = 150 + 50 = 200 ms, Idd = 3.04.
        let e = rated(0, 0.0, Some(25.0), Some(300.0));
        assert!(r_is(e, 93.2 - 3.04, 0.01), "{e:?}");
    }

    #[test]
    fn mos_is_annex_b_and_bounded() {
        assert_eq!(mos(-5.0), 1.0);
        assert_eq!(mos(0.0), 1.0);
        assert_eq!(mos(100.0), 4.5);
        assert_eq!(mos(120.0), 4.5);
        // R = 50: 1 + 1.75 + 50 · (−10) · 50 · 7e-6 = 2.575.
        assert!(close(mos(50.0), 2.575, 1e-9));
        let mut last = 1.0;
        for r in 0..=100 {
            let m = mos(f64::from(r));
            assert!(m >= last - 1e-12 && (1.0..=4.5).contains(&m), "{r}");
            last = m;
        }
    }

    #[test]
    fn unknown_codecs_and_bad_inputs_give_no_estimate() {
        assert_eq!(codec(96), None);
        assert_eq!(
            codec(9),
            None,
            "G.722 is wideband: G.107 narrowband values do not apply"
        );
        assert_eq!(rated(0, f64::NAN, None, None), None);
        assert_eq!(rated(0, 0.0, Some(f64::INFINITY), Some(1.0)), None);
        // Total loss: R floors at 0, MOS at 1.
        let e = rated(0, 7.0, None, Some(5000.0));
        assert_eq!(e.map(|e| (e.r_factor, e.mos)), Some((0.0, 1.0)));
    }
}
