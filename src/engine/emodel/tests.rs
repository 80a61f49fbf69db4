//! Tests of the E-model: known points of G.107/G.107.1, the codec table traced to its sources,
//! codec choice, and property tests of the production form against the literal transcription.

use super::codecs::{self, *};
use super::g107_literal as lit;
use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64, eps: f64) -> bool {
    (a - b).abs() <= eps
}

fn inputs(ppl: f64, burst_r: f64, ta: Option<f64>) -> Inputs {
    Inputs {
        ppl,
        burst_r,
        delay: ta.map(|t| Delay {
            rtt_half_ms: t,
            jitter_buffer_ms: 0.0,
            codec_ms: 0.0,
        }),
    }
}

#[test]
fn the_literal_model_with_every_default_is_93_2() {
    // G.107 §7.7: "R = 93.2" with every Table 3 default; the terms are Ro = 94.77,
    // Is = 1.41, Id = 0.15 (Idle alone, T = 0), Ie,eff = 0: R = 93.206.
    let p = lit::Params::default();
    let (ro, no) = lit::ro(&p);
    assert!(close(ro, 94.77, 0.005), "Ro {ro}");
    assert!(close(lit::is(&p, ro, no), 1.41, 0.005));
    assert!(close(lit::id(&p, ro, no), 0.15, 0.005));
    let r = lit::r(&p);
    assert!(close(r, 93.2, 0.01), "R {r}");
    // The production constant is the Recommendation's stated value.
    assert_eq!(R_DEFAULT_NB, 93.2);
    // MOS 4.41 (Annex B) for the default rating.
    assert!(close(mos(93.2), 4.409, 0.001));
}

#[test]
fn a_clean_g711_call_is_g107s_default_rating() {
    let e = estimate(&PCMU, inputs(0.0, 1.0, Some(40.0))).unwrap();
    assert!(close(e.r_factor, 93.2, 1e-9), "{e:?}");
    assert!(close(e.mos_lq, 4.409, 0.001) && e.mos_cq == Some(e.mos_lq));
}

#[test]
fn loss_follows_g107_equation_7_29() {
    // Ppl = 1 %, G.711 with PLC: Ie,eff = 95 · 1 / (1 + 25.1) = 3.64.
    let e = estimate(&PCMA, inputs(1.0, 1.0, None)).unwrap();
    assert!(close(e.r_factor, 93.2 - 95.0 / 26.1, 1e-9), "{e:?}");
    assert_eq!(e.mos_cq, None, "no delay known: no conversational score");
    // G.729A at 5 %: 11 + 84 · 5 / 24 = 28.5, R = 64.7.
    let g729 = estimate(&G729, inputs(5.0, 1.0, None)).unwrap();
    assert!(close(g729.r_factor, 64.7, 1e-9), "{g729:?}");
    // Bursty loss hurts more: BurstR = 2 at 5 %: 11 + 84 · 5 / (2.5 + 19) = 30.53.
    let bursty = estimate(&G729, inputs(5.0, 2.0, None)).unwrap();
    assert!(close(
        bursty.r_factor,
        93.2 - (11.0 + 84.0 * 5.0 / 21.5),
        1e-9
    ));
}

#[test]
fn delay_impairment_matches_g107_at_known_points() {
    assert_eq!(delay_impairment(100.0), 0.0);
    // X = log2(2) = 1: 25 · (2^(1/6) − 3 · (1 + 3^-6)^(1/6) + 2) = 3.04.
    assert!(close(delay_impairment(200.0), 3.04, 0.01));
    // X = 2: 25 · (65^(1/6) − 3 · (1 + (2/3)^6)^(1/6) + 2) = 24.07.
    assert!(close(delay_impairment(400.0), 24.07, 0.01));
    let mut last = 0.0;
    for t in (100..2000).step_by(50) {
        let d = delay_impairment(f64::from(t));
        assert!(d >= last, "{t}");
        last = d;
    }
}

#[test]
fn listening_quality_ignores_delay_conversational_counts_it() {
    let e = estimate(&PCMU, inputs(0.0, 1.0, Some(200.0))).unwrap();
    assert!(close(e.mos_lq, mos(93.2), 1e-12));
    assert!(close(e.r_factor, 93.2 - 3.04, 0.01));
    assert!(e.mos_cq.is_some_and(|m| m < e.mos_lq));
    assert!(close(e.idd, 3.04, 0.01));
}

#[test]
fn delay_parts_add_up() {
    let d = Delay {
        rtt_half_ms: 150.0,
        jitter_buffer_ms: 40.0,
        codec_ms: 25.0,
    };
    assert_eq!(d.total_ms(), 215.0);
}

#[test]
fn wideband_is_on_the_129_scale_and_maps_through_1_29() {
    // G.107.1 §6.2: a perfect WB channel is R = 129; Annex A: MOS of 129/1.29 = 100 is 4.5.
    let perfect = Codec { ie: 0.0, ..G722 };
    let e = estimate(&perfect, inputs(0.0, 1.0, None)).unwrap();
    assert_eq!((e.r_factor, e.mos_lq), (129.0, 4.5));
    // G.722 64 kbit/s, no loss: R = 129 − 13 = 116; MOS = B-4(116 / 1.29).
    let g722 = estimate(&G722, inputs(0.0, 1.0, None)).unwrap();
    assert!(close(g722.r_factor, 116.0, 1e-9));
    assert!(close(g722.mos_lq, mos(116.0 / 1.29), 1e-12));
    assert_eq!(g722.scale.name(), "wb");
    // Total loss: Ie,eff reaches 129, R floors at 0.
    let lost = estimate(&G722, inputs(100.0, 1.0, None)).unwrap();
    assert!(lost.r_factor < 129.0 - 100.0 && lost.r_factor >= 0.0);
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
fn bad_inputs_give_no_estimate() {
    assert_eq!(estimate(&PCMU, inputs(f64::NAN, 1.0, None)), None);
    assert_eq!(estimate(&PCMU, inputs(0.0, f64::INFINITY, None)), None);
    assert_eq!(estimate(&PCMU, inputs(0.0, 1.0, Some(f64::INFINITY))), None);
    // Total loss and huge delay: R floors at 0, MOS at 1.
    let e = estimate(&PCMU, inputs(700.0, 1.0, Some(5000.0))).unwrap();
    assert_eq!((e.r_factor, e.mos, e.mos_cq), (0.0, 1.0, Some(1.0)));
}

#[test]
fn codec_values_trace_to_their_tables() {
    let v = |c: &Codec| (c.name, c.scale, c.ie, c.bpl);
    // G.113 (11/2007) Table I.3: G.711 + Appendix I PLC: Ie 0, Bpl 25.1.
    assert_eq!(v(&PCMU), ("PCMU", Scale::Narrowband, 0.0, 25.1));
    assert_eq!(v(&PCMA), ("PCMA", Scale::Narrowband, 0.0, 25.1));
    // G.113 Table I.3: G.729A + VAD: Ie 11, Bpl 19.0.
    assert_eq!(v(&G729), ("G729", Scale::Narrowband, 11.0, 19.0));
    // G.113 Table I.3: G.723.1 (6.3 kbit/s) + VAD: Ie 15, Bpl 16.1.
    assert_eq!(v(&G723), ("G723", Scale::Narrowband, 15.0, 16.1));
    // G.113 Table I.1: RPE-LTP (GSM 06.10) Ie 20; Bpl assumed = G.711 without PLC (Table I.3).
    assert_eq!(v(&GSM), ("GSM", Scale::Narrowband, 20.0, 4.3));
    // G.113 Table I.1: ACELP GSM-EFR 12.2 kbit/s (the AMR 12.2 mode) Ie 5.
    assert_eq!((AMR.ie, AMR.scale), (5.0, Scale::Narrowband));
    // Alahmadi, Počta, Melvin 2021, NB VBR 9 kbit/s: Ie 11.74, Bpl(random) 18.91;
    // WB VBR 13 kbit/s: Ie 19.96, Bpl(random) 19.50.
    assert_eq!(v(&OPUS_NB), ("opus-nb", Scale::Narrowband, 11.74, 18.91));
    assert_eq!(v(&OPUS_WB), ("opus-wb", Scale::Wideband, 19.96, 19.50));
    // G.113 Amd. 1: G.722 64 kbit/s Ie,WB 13; G.722.2 12.65 kbit/s Ie,WB 11.
    assert_eq!((G722.ie, G722.scale), (13.0, Scale::Wideband));
    assert_eq!((AMR_WB.ie, AMR_WB.scale), (11.0, Scale::Wideband));
    // Borrowed values say so.
    for c in [
        &GSM, &ILBC20, &ILBC30, &SPEEX_NB, &SPEEX_WB, &G722, &AMR_WB, &AMR,
    ] {
        assert!(c.provisional && !c.source.is_empty(), "{}", c.name);
    }
    for c in codecs::ALL {
        assert!(
            c.ie >= 0.0 && c.bpl > 0.0 && c.nominal_ptime_ms > 0.0,
            "{}",
            c.name
        );
    }
}

#[test]
fn codec_choice_by_name_static_and_inference() {
    assert_eq!(codec_by_name("opus", 48000, 2), Some(&OPUS_WB));
    assert_eq!(codec_by_name("OPUS", 48000, 1), Some(&OPUS_WB));
    assert_eq!(codecs::opus_for_playback_rate(8000), &OPUS_NB);
    assert_eq!(codec_by_name("G722", 8000, 1), Some(&G722));
    assert_eq!(codec_by_name("AMR-WB", 16000, 1), Some(&AMR_WB));
    assert_eq!(codec_by_name("speex", 16000, 1), Some(&SPEEX_WB));
    assert_eq!(codec_by_name("iLBC", 8000, 1), Some(&ILBC30));
    assert_eq!(codec_by_name("telephone-event", 8000, 1), None);
    assert_eq!(codec_by_name("VP8", 90000, 1), None);
    assert_eq!(codec_by_payload_type(9), Some(&G722));
    assert_eq!(codec_by_payload_type(3), Some(&GSM));
    assert_eq!(codec_by_payload_type(96), None);
    let ch = codec_for_stream(None, 111, Some(48000)).unwrap();
    assert_eq!((ch.codec, ch.source.name()), (&OPUS_WB, "inferred"));
    let st = codec_for_stream(None, 0, Some(8000)).unwrap();
    assert_eq!(st.source.name(), "static");
    // Conservative: other dynamic clock rates are not guessed.
    assert_eq!(codec_for_stream(None, 101, Some(8000)), None);
    assert_eq!(codec_for_stream(None, 97, Some(16000)), None);
    assert_eq!(codec_for_stream(None, 96, Some(90000)), None);
    // A name beats the payload type.
    let named = codec_for_stream(Some(("AMR-WB", CodecSource::Sdp)), 96, Some(16000)).unwrap();
    assert_eq!((named.codec, named.source.name()), (&AMR_WB, "sdp"));
}

fn nb_codec() -> impl Strategy<Value = &'static Codec> {
    prop::sample::select(
        codecs::ALL
            .iter()
            .copied()
            .filter(|c| c.scale == Scale::Narrowband)
            .collect::<Vec<_>>(),
    )
}

fn wb_codec() -> impl Strategy<Value = &'static Codec> {
    prop::sample::select(
        codecs::ALL
            .iter()
            .copied()
            .filter(|c| c.scale == Scale::Wideband)
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The production form equals the full G.107 with its defaults: within 0.01, the
    /// difference between the Recommendation's stated 93.2 and its equations' 93.19…
    #[test]
    fn narrowband_production_equals_literal(
        codec in nb_codec(),
        ppl in 0.0f64..60.0,
        burst_r in 1.0f64..8.0,
        ta in 0.0f64..1500.0,
    ) {
        let p = lit::Params { Ie: codec.ie, Bpl: codec.bpl, Ppl: ppl, BurstR: burst_r, Ta: ta, ..lit::Params::default() };
        let want = lit::r(&p).clamp(0.0, 100.0);
        let got = estimate(codec, inputs(ppl, burst_r, Some(ta))).unwrap();
        prop_assert!(close(got.r_factor, want, 0.01), "{} vs {}", got.r_factor, want);
        prop_assert!(close(got.mos_cq.unwrap(), lit::mos_b4(want).max(1.0), 0.002));
        let listening = lit::r(&lit::Params { Ta: 0.0, ..p }).clamp(0.0, 100.0);
        prop_assert!(close(got.mos_lq, lit::mos_b4(listening).max(1.0), 0.002));
    }

    #[test]
    fn wideband_production_equals_literal(
        codec in wb_codec(),
        ppl in 0.0f64..60.0,
        burst_r in 1.0f64..8.0,
        ta in 0.0f64..1500.0,
    ) {
        let want = lit::r_wb(codec.ie, codec.bpl, ppl, burst_r, ta, 0.0).clamp(0.0, 129.0);
        let got = estimate(codec, inputs(ppl, burst_r, Some(ta))).unwrap();
        prop_assert!(close(got.r_factor, want, 1e-9), "{} vs {}", got.r_factor, want);
        prop_assert!(close(got.mos_cq.unwrap(), lit::mos_wb(want).max(1.0), 1e-9));
    }

    #[test]
    fn burst_r_of_the_markov_model(p in 0.001f64..0.5, q in 0.001f64..1.0) {
        // Random loss (q = 1 − p) gives BurstR = 1 (G.107 §7.5).
        prop_assert!(close(lit::burst_r(p, 1.0 - p), 1.0, 1e-12));
        // More burstiness, lower score.
        let b = lit::burst_r(p, q);
        let random = estimate(&PCMU, inputs(p * 100.0, 1.0, None)).unwrap().r_factor;
        let bursty = estimate(&PCMU, inputs(p * 100.0, b, None)).unwrap().r_factor;
        let ordered = if b >= 1.0 { bursty <= random + 1e-9 } else { bursty >= random - 1e-9 };
        prop_assert!(ordered);
    }
}
