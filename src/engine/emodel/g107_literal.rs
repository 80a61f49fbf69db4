//! A literal transcription of the E-model of ITU-T G.107 (06/2015) §7 and of the wideband
//! E-model of ITU-T G.107.1 (06/2019) §7, for property tests only (like `appendix_a` is for
//! RFC 3550). Every equation carries the Recommendation's number; every parameter starts at
//! its Table 3 default ([`Params::default`]). Nothing is simplified or folded here: the
//! production code in [`super`] is the simplified form, and the property tests below check that
//! the two agree.
//!
//! Where the transcription has to decide something the text leaves to the user, it says so:
//! the narrowband `Ie,eff` ceiling is 95 (eq. 7-29); the wideband one 129 and `Ro,WB = 129`,
//! `Is,WB = 0` (G.107.1 §7.2, §7.3 with its defaults).

#![allow(non_snake_case, dead_code)]

/// G.107 Table 3: every input parameter with its default value and unit.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub SLR: f64,    // Send loudness rating, 8 dB
    pub RLR: f64,    // Receive loudness rating, 2 dB
    pub STMR: f64,   // Sidetone masking rating, 15 dB
    pub LSTR: f64,   // Listener sidetone rating, 18 dB
    pub Ds: f64,     // D-value of telephone, send side, 3
    pub Dr: f64,     // D-value of telephone, receive side, 3 (enters via LSTR = STMR + Dr)
    pub TELR: f64,   // Talker echo loudness rating, 65 dB
    pub WEPL: f64,   // Weighted echo path loss, 110 dB
    pub T: f64,      // Mean one-way delay of the echo path, 0 ms
    pub Tr: f64,     // Round-trip delay in a 4-wire loop, 0 ms
    pub Ta: f64,     // Absolute delay in echo-free connections, 0 ms
    pub qdu: f64,    // Number of quantization distortion units, 1
    pub Ie: f64,     // Equipment impairment factor, 0
    pub Bpl: f64,    // Packet-loss robustness factor, 1
    pub Ppl: f64,    // Random packet-loss probability, 0 %
    pub BurstR: f64, // Burst ratio, 1
    pub Nc: f64,     // Circuit noise referred to 0 dBr-point, −70 dBm0p
    pub Nfor: f64,   // Noise floor at the receive side, −64 dBmp
    pub Ps: f64,     // Room noise at the send side, 35 dB(A)
    pub Pr: f64,     // Room noise at the receive side, 35 dB(A)
    pub A: f64,      // Advantage factor, 0
    pub mA: f64,     // Minimum perceivable delay, 100 ms (eq. 7-27)
    pub sT: f64,     // Delay sensitivity, 1 (eq. 7-28)
}

impl Default for Params {
    fn default() -> Self {
        Params {
            SLR: 8.0,
            RLR: 2.0,
            STMR: 15.0,
            LSTR: 18.0,
            Ds: 3.0,
            Dr: 3.0,
            TELR: 65.0,
            WEPL: 110.0,
            T: 0.0,
            Tr: 0.0,
            Ta: 0.0,
            qdu: 1.0,
            Ie: 0.0,
            Bpl: 1.0,
            Ppl: 0.0,
            BurstR: 1.0,
            Nc: -70.0,
            Nfor: -64.0,
            Ps: 35.0,
            Pr: 35.0,
            A: 0.0,
            mA: 100.0,
            sT: 1.0,
        }
    }
}

fn log10(x: f64) -> f64 {
    x.log10()
}

/// G.107 §7.2: the basic signal-to-noise ratio `Ro` (eq. 7-2 to 7-8); also returns `No`.
pub fn ro(p: &Params) -> (f64, f64) {
    // (7-5) OLR = SLR + RLR
    let OLR = p.SLR + p.RLR;
    // (7-4) Nos = Ps − SLR − Ds − 100 + 0.004 (Ps − OLR − Ds − 14)^2
    let Nos = p.Ps - p.SLR - p.Ds - 100.0 + 0.004 * (p.Ps - OLR - p.Ds - 14.0).powi(2);
    // (7-7) Pre = Pr + 10 log10(1 + 10^((10 − LSTR)/10))
    let Pre = p.Pr + 10.0 * log10(1.0 + 10f64.powf((10.0 - p.LSTR) / 10.0));
    // (7-6) Nor = RLR − 121 + Pre + 0.008 (Pre − 35)^2
    let Nor = p.RLR - 121.0 + Pre + 0.008 * (Pre - 35.0).powi(2);
    // (7-8) Nfo = Nfor + RLR
    let Nfo = p.Nfor + p.RLR;
    // (7-3) No = 10 log10(10^(Nc/10) + 10^(Nos/10) + 10^(Nor/10) + 10^(Nfo/10))
    let No = 10.0
        * log10(
            10f64.powf(p.Nc / 10.0)
                + 10f64.powf(Nos / 10.0)
                + 10f64.powf(Nor / 10.0)
                + 10f64.powf(Nfo / 10.0),
        );
    // (7-2) Ro = 15 − 1.5 (SLR + No)
    (15.0 - 1.5 * (p.SLR + No), No)
}

/// G.107 §7.3: the simultaneous impairment factor `Is = Iolr + Ist + Iq` (eq. 7-9 to 7-18).
pub fn is(p: &Params, Ro: f64, No: f64) -> f64 {
    let OLR = p.SLR + p.RLR;
    // (7-11) Xolr = OLR + 0.2 (64 + No − RLR)
    let Xolr = OLR + 0.2 * (64.0 + No - p.RLR);
    // (7-10) Iolr = 20 [ (1 + (Xolr/8)^8)^(1/8) − Xolr/8 ]
    let Iolr = 20.0 * ((1.0 + (Xolr / 8.0).powi(8)).powf(1.0 / 8.0) - Xolr / 8.0);
    // (7-13) STMRo = −10 log10(10^(−STMR/10) + e^(−T/4) 10^(−TELR/10))
    let STMRo =
        -10.0 * log10(10f64.powf(-p.STMR / 10.0) + (-p.T / 4.0).exp() * 10f64.powf(-p.TELR / 10.0));
    // (7-12) Ist = 12 [1 + ((STMRo − 13)/6)^8]^(1/8) − 28 [1 + ((STMRo + 1)/19.4)^35]^(1/35)
    //              − 13 [1 + ((STMRo − 3)/33)^13]^(1/13) + 29
    let Ist = 12.0 * (1.0 + ((STMRo - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
        - 28.0 * (1.0 + ((STMRo + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
        - 13.0 * (1.0 + ((STMRo - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
        + 29.0;
    // (7-18) Q = 37 − 15 log10(qdu)
    let Q = 37.0 - 15.0 * log10(p.qdu);
    // (7-17) G = 1.07 + 0.258 Q + 0.0602 Q^2
    let G = 1.07 + 0.258 * Q + 0.0602 * Q * Q;
    // (7-16) Y = (Ro − 100)/15 + 46/8.4 − G/9
    let Y = (Ro - 100.0) / 15.0 + 46.0 / 8.4 - G / 9.0;
    // (7-15) Z = 46/30 − G/40
    let Z = 46.0 / 30.0 - G / 40.0;
    // (7-14) Iq = 15 log10(1 + 10^Y + 10^Z)
    let Iq = 15.0 * log10(1.0 + 10f64.powf(Y) + 10f64.powf(Z));
    // (7-9) Is = Iolr + Ist + Iq
    Iolr + Ist + Iq
}

/// G.107 §7.4: the delay impairment factor `Id = Idte + Idle + Idd` (eq. 7-19 to 7-28).
pub fn id(p: &Params, Ro: f64, No: f64) -> f64 {
    // (7-21) Roe = −1.5 (No − RLR)
    let Roe = -1.5 * (No - p.RLR);
    // (7-23) TERV = TELR − 40 log10((1 + T/10)/(1 + T/150)) + 6 e^(−0.3 T^2)
    let mut TERV = p.TELR - 40.0 * log10((1.0 + p.T / 10.0) / (1.0 + p.T / 150.0))
        + 6.0 * (-0.3 * p.T * p.T).exp();
    if p.STMR < 9.0 {
        // (7-24) for STMR < 9 dB: TERVs = TERV + Ist/2 (Ist of eq. 7-12)
        TERV += ist_only(p) / 2.0;
    }
    // (7-22) Re = 80 + 2.5 (TERV − 14)
    let Re = 80.0 + 2.5 * (TERV - 14.0);
    // (7-20) Idte = [ (Roe − Re)/2 + sqrt((Roe − Re)^2/4 + 100) − 1 ] (1 − e^(−T))
    let Idte = if p.T < 1.0 {
        // §7.4: for T < 1 ms the talker echo is perceived as sidetone: Idte = 0.
        0.0
    } else {
        ((Roe - Re) / 2.0 + ((Roe - Re).powi(2) / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-p.T).exp())
    };
    // (7-26) Rle = 10.5 (WEPL + 7) (Tr + 1)^(−1/4)
    let Rle = 10.5 * (p.WEPL + 7.0) * (p.Tr + 1.0).powf(-0.25);
    // (7-25) Idle = (Ro − Rle)/2 + sqrt((Ro − Rle)^2/4 + 169)
    let Idle = (Ro - Rle) / 2.0 + ((Ro - Rle).powi(2) / 4.0 + 169.0).sqrt();
    // (7-27) Idd = 0 for Ta ≤ mA; else (7-28) with X = log10(Ta/mA) / log10(2):
    //   Idd = 25 { (1 + X^(6 sT))^(1/(6 sT)) − 3 (1 + (X/3)^(6 sT))^(1/(6 sT)) + 2 }
    let Idd = if p.Ta <= p.mA {
        0.0
    } else {
        let X = log10(p.Ta / p.mA) / log10(2.0);
        let e = 6.0 * p.sT;
        25.0 * ((1.0 + X.powf(e)).powf(1.0 / e) - 3.0 * (1.0 + (X / 3.0).powf(e)).powf(1.0 / e)
            + 2.0)
    };
    // (7-19) Id = Idte + Idle + Idd
    Idte + Idle + Idd
}

fn ist_only(p: &Params) -> f64 {
    let STMRo =
        -10.0 * log10(10f64.powf(-p.STMR / 10.0) + (-p.T / 4.0).exp() * 10f64.powf(-p.TELR / 10.0));
    12.0 * (1.0 + ((STMRo - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
        - 28.0 * (1.0 + ((STMRo + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
        - 13.0 * (1.0 + ((STMRo - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
        + 29.0
}

/// G.107 §7.5 eq. 7-29: `Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl)`.
pub fn ie_eff(p: &Params) -> f64 {
    p.Ie + (95.0 - p.Ie) * p.Ppl / (p.Ppl / p.BurstR + p.Bpl)
}

/// G.107 eq. 7-1: `R = Ro − Is − Id − Ie,eff + A`.
pub fn r(p: &Params) -> f64 {
    let (Ro, No) = ro(p);
    Ro - is(p, Ro, No) - id(p, Ro, No) - ie_eff(p) + p.A
}

/// G.107 eq. 7-30/7-31: BurstR of the two-state Markov model, `p` = P(found → lost),
/// `q` = P(lost → found): `BurstR = 1 / (p + q)`.
pub fn burst_r(p_loss: f64, q_found: f64) -> f64 {
    1.0 / (p_loss + q_found)
}

/// G.107 Annex B eq. B-4: MOS_CQE of R (1 below 0, 4.5 above 100).
pub fn mos_b4(R: f64) -> f64 {
    if R < 0.0 {
        1.0
    } else if R > 100.0 {
        4.5
    } else {
        1.0 + 0.035 * R + R * (R - 60.0) * (100.0 - R) * 7.0e-6
    }
}

/// G.107.1 §7: the wideband rating with its defaults, for `Ie,WB`, `Bpl`, `Ppl`, `BurstR` and
/// the absolute delay `Ta` (echo terms with perfect cancellation as in the narrowband model).
/// (7-1) R = Ro,WB − Is,WB − Id,WB − Ie,eff,WB + A; (7-2) Ro,WB = 129; (7-3) Is,WB = 0;
/// Id,WB = Idd (eq. 7-27/7-28 of G.107, which G.107.1 §7.4 takes over); §7.5: Ie,eff,WB =
/// Ie,WB + (129 − Ie,WB) · Ppl / (Ppl/BurstR + Bpl).
pub fn r_wb(ie_wb: f64, bpl: f64, ppl: f64, burst_r: f64, ta: f64, a: f64) -> f64 {
    let Ro_WB = 129.0;
    let Is_WB = 0.0;
    let p = Params {
        Ta: ta,
        ..Params::default()
    };
    let Idd = {
        let (Ro, No) = ro(&p);
        let all = id(&p, Ro, No);
        let no_delay = id(&Params { Ta: 0.0, ..p }, Ro, No);
        all - no_delay
    };
    let Ie_eff_WB = ie_wb + (129.0 - ie_wb) * ppl / (ppl / burst_r + bpl);
    Ro_WB - Is_WB - Idd - Ie_eff_WB + a
}

/// G.107.1 Annex A: R_WB is scaled by 1/1.29 onto the NB scale, then G.107 eq. B-4.
pub fn mos_wb(R: f64) -> f64 {
    mos_b4(R / 1.29)
}
