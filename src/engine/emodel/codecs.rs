//! The E-model's codec table: each voice codec's equipment impairment `Ie` (or `Ie,WB`), its
//! packet-loss robustness `Bpl`, its rating scale and its delay, with where each value comes
//! from; and how a stream's codec is chosen.
//!
//! Sources, in order of authority:
//! - ITU-T G.113 (11/2007) Appendix I: Table I.1 (`Ie` of narrowband codecs) and Table I.3
//!   (`Ie` and `Bpl` of G.711 with its Appendix I concealment, G.729A + VAD, G.723.1 + VAD).
//! - ITU-T G.113 Amendment 1 (wideband `Ie,WB` and `Bpl`, G.722 and G.722.2 = AMR-WB):
//!   provisional planning values; see each entry's `source`.
//! - For Opus, which no ITU-T table covers: M. Alahmadi, P. Počta, H. Melvin, "An Adaptive
//!   Bitrate Switching Algorithm for Speech Applications in Context of WebRTC", ACM TOMM 17(4),
//!   art. 133, 2021 (Ie and Bpl derived per P.833/P.834 methodology, random loss).
//! - Where no published value was available to this work (GSM-FR's `Bpl`, iLBC, Speex), the
//!   entry borrows a tabulated codec of the same class and says so in `source`; docs/quality.md
//!   lists them. Such estimates are marked by `provisional`.
//!
//! How a stream's codec is chosen ([`codec_for_stream`]): an explicit codec name (SDP, or
//! `[payload_types]` in the configuration: [`codec_by_name`]) beats a static payload type (RFC
//! 3551 Table 4), which beats the one inference made from a dynamic payload type's clock rate:
//! 48000 Hz is Opus (RFC 7587 §4.1 fixes Opus' RTP clock at 48000; no other common voice codec
//! uses it). Other dynamic clock rates get no estimate: 8000 Hz is as often RFC 4733
//! telephone-event, iLBC or AMR, and 16000 Hz AMR-WB, Speex or G.722.1, and a wrong codec
//! would give a confident wrong score.

use super::Scale;

/// One codec's E-model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Codec {
    /// The name in records: the RTP encoding name (RFC 3551, IANA), with a variant suffix.
    pub name: &'static str,
    pub scale: Scale,
    /// `Ie` (narrowband) or `Ie,WB` (wideband).
    pub ie: f64,
    /// `Bpl`, random loss.
    pub bpl: f64,
    /// Algorithmic look-ahead beyond one frame, ms (the codec's own standard).
    pub lookahead_ms: f64,
    /// Packetisation assumed when none is measured, ms (the RFC 3551 / payload format default).
    pub nominal_ptime_ms: f64,
    /// Where `ie` and `bpl` come from.
    pub source: &'static str,
    /// True when `ie` or `bpl` is not from a table for this very codec (see `source`).
    pub provisional: bool,
}

const fn nb(
    name: &'static str,
    ie: f64,
    bpl: f64,
    lookahead_ms: f64,
    nominal_ptime_ms: f64,
    source: &'static str,
    provisional: bool,
) -> Codec {
    Codec {
        name,
        scale: Scale::Narrowband,
        ie,
        bpl,
        lookahead_ms,
        nominal_ptime_ms,
        source,
        provisional,
    }
}

const fn wb(
    name: &'static str,
    ie: f64,
    bpl: f64,
    lookahead_ms: f64,
    nominal_ptime_ms: f64,
    source: &'static str,
    provisional: bool,
) -> Codec {
    Codec {
        scale: Scale::Wideband,
        ..nb(
            name,
            ie,
            bpl,
            lookahead_ms,
            nominal_ptime_ms,
            source,
            provisional,
        )
    }
}

pub const PCMU: Codec = nb(
    "PCMU",
    0.0,
    25.1,
    0.0,
    20.0,
    "G.113 Table I.3 (G.711, Appendix I PLC)",
    false,
);
pub const PCMA: Codec = nb(
    "PCMA",
    0.0,
    25.1,
    0.0,
    20.0,
    "G.113 Table I.3 (G.711, Appendix I PLC)",
    false,
);
pub const G729: Codec = nb(
    "G729",
    11.0,
    19.0,
    5.0,
    20.0,
    "G.113 Table I.3 (G.729A + VAD)",
    false,
);
pub const G723: Codec = nb(
    "G723",
    15.0,
    16.1,
    7.5,
    30.0,
    "G.113 Table I.3 (G.723.1 6.3 kbit/s + VAD)",
    false,
);
pub const GSM: Codec = nb(
    "GSM",
    20.0,
    4.3,
    0.0,
    20.0,
    "Ie: G.113 Table I.1 (RPE-LTP GSM 06.10); Bpl: G.113 gives none, G.711 without PLC (Table I.3) assumed",
    true,
);
pub const AMR: Codec = nb(
    "AMR",
    5.0,
    10.0,
    5.0,
    20.0,
    "Ie: G.113 Table I.1 (ACELP GSM-EFR 12.2 kbit/s = AMR 12.2 mode); Bpl: GSM-EFR value, provisional",
    true,
);
pub const ILBC20: Codec = nb(
    "iLBC-20",
    11.0,
    19.0,
    2.5,
    20.0,
    "no ITU-T value: rated as G.729A + VAD (G.113 Table I.3)",
    true,
);
pub const ILBC30: Codec = nb(
    "iLBC-30",
    11.0,
    19.0,
    10.0,
    30.0,
    "no ITU-T value: rated as G.729A + VAD (G.113 Table I.3)",
    true,
);
pub const SPEEX_NB: Codec = nb(
    "speex-nb",
    11.0,
    19.0,
    10.0,
    20.0,
    "no ITU-T value: rated as G.729A + VAD (G.113 Table I.3)",
    true,
);
pub const OPUS_NB: Codec = nb(
    "opus-nb",
    11.74,
    18.91,
    6.5,
    20.0,
    "Alahmadi, Pocta, Melvin 2021 (ACM TOMM 17(4):133), NB VBR 9 kbit/s, random loss",
    false,
);
pub const G722: Codec = wb(
    "G722",
    13.0,
    10.0,
    1.5,
    20.0,
    "Ie,WB: G.113 Amd. 1 (G.722 64 kbit/s); Bpl: provisional",
    true,
);
pub const AMR_WB: Codec = wb(
    "AMR-WB",
    11.0,
    10.0,
    5.0,
    20.0,
    "Ie,WB: G.113 Amd. 1 (G.722.2 12.65 kbit/s); Bpl: provisional",
    true,
);
pub const SPEEX_WB: Codec = wb(
    "speex-wb",
    11.0,
    10.0,
    10.0,
    20.0,
    "no ITU-T value: rated as AMR-WB 12.65 kbit/s (G.113 Amd. 1)",
    true,
);
pub const OPUS_WB: Codec = wb(
    "opus-wb",
    19.96,
    19.50,
    6.5,
    20.0,
    "Alahmadi, Pocta, Melvin 2021 (ACM TOMM 17(4):133), WB VBR 13 kbit/s, random loss",
    false,
);

/// Every codec of the table.
pub const ALL: [&Codec; 14] = [
    &PCMU, &PCMA, &G729, &G723, &GSM, &AMR, &ILBC20, &ILBC30, &SPEEX_NB, &OPUS_NB, &G722, &AMR_WB,
    &SPEEX_WB, &OPUS_WB,
];

/// How the codec of a stream was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecSource {
    /// Named by the session description.
    Sdp,
    /// A static payload type (RFC 3551 Table 4).
    Static,
    /// Named in `[payload_types]`.
    Config,
    /// Guessed from a dynamic payload type's clock rate (48000 Hz: Opus).
    Inferred,
}

impl CodecSource {
    /// The value of `codec_source` in records: `"sdp"`, `"static"`, `"config"`, `"inferred"`.
    pub fn name(self) -> &'static str {
        match self {
            CodecSource::Sdp => "sdp",
            CodecSource::Static => "static",
            CodecSource::Config => "config",
            CodecSource::Inferred => "inferred",
        }
    }
}

/// A codec and how it was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecChoice {
    pub codec: &'static Codec,
    pub source: CodecSource,
}

/// The codec of an RTP encoding name (SDP `a=rtpmap`, case-insensitive), its clock rate and
/// channel count. `None` for non-voice encodings (telephone-event, CN, video) and codecs the
/// table does not hold. iLBC without its `mode` parameter is the 30 ms mode (RFC 3952 §5); Opus
/// is wideband unless a narrowband bandwidth is known ([`opus_for_playback_rate`]); AMR is
/// rated at its 12.2 kbit/s mode.
pub fn codec_by_name(name: &str, clock_rate: u32, channels: u8) -> Option<&'static Codec> {
    let _ = channels; // mono and stereo Opus share values; kept for the SDP-shaped API
    let n = name.to_ascii_lowercase();
    Some(match (n.as_str(), clock_rate) {
        ("pcmu", 8000) => &PCMU,
        ("pcma", 8000) => &PCMA,
        ("g729" | "g729a", 8000) => &G729,
        ("g723", 8000) => &G723,
        ("gsm", 8000) => &GSM,
        ("amr", 8000) => &AMR,
        ("ilbc", 8000) => &ILBC30,
        ("speex", 8000) => &SPEEX_NB,
        ("speex", 16000 | 32000) => &SPEEX_WB,
        // RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
        ("g722", 8000 | 16000) => &G722,
        ("amr-wb", 16000) => &AMR_WB,
        ("opus", 48000) => &OPUS_WB,
        _ => return None,
    })
}

/// Opus by its signalled `maxplaybackrate` (RFC 7587 §6.1): narrowband at 8000 Hz or less.
pub fn opus_for_playback_rate(max_playback_rate_hz: u32) -> &'static Codec {
    if max_playback_rate_hz <= 8000 {
        &OPUS_NB
    } else {
        &OPUS_WB
    }
}

/// The codec of a static payload type (RFC 3551 Table 4), for the voice codecs of the table.
pub fn codec_by_payload_type(payload_type: u8) -> Option<&'static Codec> {
    Some(match payload_type {
        0 => &PCMU,
        3 => &GSM,
        4 => &G723,
        8 => &PCMA,
        9 => &G722,
        18 => &G729,
        _ => return None,
    })
}

/// The codec of a stream: `name` when one is known (from SDP or the configuration, `source`
/// says which), else its static payload type, else the 48000 Hz inference of the module doc.
pub fn codec_for_stream(
    named: Option<(&str, CodecSource)>,
    payload_type: u8,
    clock_rate: Option<u32>,
) -> Option<CodecChoice> {
    if let Some((name, source)) = named {
        let rate = clock_rate.unwrap_or(0);
        return codec_by_name(name, rate, 1).map(|codec| CodecChoice { codec, source });
    }
    if let Some(codec) = codec_by_payload_type(payload_type) {
        return Some(CodecChoice {
            codec,
            source: CodecSource::Static,
        });
    }
    match (payload_type, clock_rate) {
        (96..=127, Some(48000)) => Some(CodecChoice {
            codec: &OPUS_WB,
            source: CodecSource::Inferred,
        }),
        _ => None,
    }
}
