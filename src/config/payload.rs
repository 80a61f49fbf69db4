//! One `[payload_types]` entry: a dynamic payload type's clock rate, and optionally its codec.
//!
//! Two forms, both kept: `"111" = 48000` (the clock rate alone, as before) and
//! `"111" = { clock_rate = 48000, codec = "opus" }`. The codec name is an RTP encoding name
//! (RFC 4855, as in SDP `a=rtpmap`) from the E-model's table ([`crate::engine::emodel`]); it
//! makes the stream's quality estimate use that codec with `codec_source = "config"` instead of
//! a guess from the clock rate.

use serde::{Deserialize, Serialize};

/// A `[payload_types]` value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PayloadType {
    /// `"96" = 90000`: the clock rate in Hz.
    Rate(u32),
    /// `"111" = { clock_rate = 48000, codec = "opus" }`.
    Spec(PayloadTypeSpec),
}

/// The table form of a `[payload_types]` value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadTypeSpec {
    /// Clock rate, Hz.
    pub clock_rate: u32,
    /// RTP encoding name of the codec (`opus`, `G722`, `AMR-WB`, `speex`, …), for the E-model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

impl PayloadType {
    pub fn clock_rate(&self) -> u32 {
        match self {
            PayloadType::Rate(r) => *r,
            PayloadType::Spec(s) => s.clock_rate,
        }
    }

    pub fn codec(&self) -> Option<&str> {
        match self {
            PayloadType::Rate(_) => None,
            PayloadType::Spec(s) => s.codec.as_deref(),
        }
    }
}
