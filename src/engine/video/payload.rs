//! Keyframes and resolution from unencrypted video payloads: a compact [`Hint`] per packet.
//!
//! Computed in the triage step (the capture thread in the live pipeline), only for payload
//! types configured as one of these codecs, so that audio and unknown payloads cost nothing:
//! * VP8, RFC 7741 §4.2 payload descriptor; a keyframe is the start of a partition 0 (S = 1,
//!   PID = 0) whose VP8 frame tag has P = 0 (RFC 7741 §4.3, RFC 6386 §9.1); its key frame
//!   header holds the width and height (14 bits each, RFC 6386 §9.2).
//! * VP9, RFC 9628 §4.2 payload descriptor; a keyframe is the start of a frame (B = 1) that is
//!   not inter-picture predicted (P = 0) in spatial layer 0; the resolution is the last spatial
//!   layer's of a scalability structure (V = 1, Y = 1, §4.2.1).
//! * H.264, RFC 6184 §5: single NAL unit, STAP-A and FU-A packets; a keyframe is an IDR slice
//!   (NAL type 5); the resolution is from a sequence parameter set (type 7, ITU-T H.264
//!   §7.3.2.1.1: exp-Golomb fields, cropping applied).
//! * AV1, "RTP Payload Format for AV1" §4.4 aggregation header: N = 1 starts a new coded video
//!   sequence (a keyframe); a sequence header OBU (AV1 spec §5.5) gives the maximum frame size.
//!
//! Every parser reads a borrowed slice through checked accessors: a short or hostile payload
//! gives an empty or partial hint, never a panic; loops are bounded by the input length or a
//! constant. No allocation.

mod av1;
mod bits;
mod h264;
mod vp8;
mod vp9;

/// The video codecs whose payload is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Vp8,
    Vp9,
    H264,
    Av1,
}

impl Codec {
    /// The codec of an SDP encoding name (RFC 4566 `a=rtpmap`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name.to_ascii_uppercase().as_str() {
            "VP8" => Some(Codec::Vp8),
            "VP9" => Some(Codec::Vp9),
            "H264" | "H.264" => Some(Codec::H264),
            "AV1" => Some(Codec::Av1),
            _ => None,
        }
    }
}

const PARSED: u8 = 1;
const KEYFRAME: u8 = 2;
const RESOLUTION: u8 = 4;

/// What one packet's payload says: parsed at all, keyframe, resolution. 6 bytes, `Copy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    flags: u8,
    width: u16,
    height: u16,
}

impl Hint {
    /// A hint with nothing found (the payload was looked at).
    pub const fn empty() -> Hint {
        Hint {
            flags: PARSED,
            width: 0,
            height: 0,
        }
    }

    /// Whether a parser looked at the payload.
    pub fn parsed(self) -> bool {
        self.flags & PARSED != 0
    }

    pub fn keyframe(self) -> bool {
        self.flags & KEYFRAME != 0
    }

    /// Width and height, if the packet gave them (both nonzero).
    pub fn resolution(self) -> Option<(u16, u16)> {
        (self.flags & RESOLUTION != 0).then_some((self.width, self.height))
    }

    pub(crate) fn set_keyframe(&mut self) {
        self.flags |= KEYFRAME;
    }

    pub(crate) fn set_resolution(&mut self, width: u32, height: u32) {
        if let (Ok(w @ 1..), Ok(h @ 1..)) = (u16::try_from(width), u16::try_from(height)) {
            self.flags |= RESOLUTION;
            (self.width, self.height) = (w, h);
        }
    }
}

pub use av1::max_frame_size as av1_max_frame_size;
pub use h264::sps_resolution;

/// The hint of one RTP payload (after the RTP header, extensions and CSRCs) of `codec`.
pub fn parse(codec: Codec, payload: &[u8]) -> Hint {
    let mut h = Hint::empty();
    match codec {
        Codec::Vp8 => vp8::parse(payload, &mut h),
        Codec::Vp9 => vp9::parse(payload, &mut h),
        Codec::H264 => h264::parse(payload, &mut h),
        Codec::Av1 => av1::parse(payload, &mut h),
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile input: every truncation of every seed of the fuzz corpus, and every single-bit
    /// flip of each, through every parser; resolutions are never zero.
    #[test]
    fn truncations_and_bit_flips_never_panic() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/video_payload");
        let mut seeds = 0;
        for e in std::fs::read_dir(dir).expect("corpus") {
            let data = std::fs::read(e.expect("entry").path()).expect("seed");
            seeds += 1;
            for n in 0..=data.len() {
                crate::fuzzing::video_payload(&data[..n]);
            }
            for bit in 8..data.len() * 8 {
                let mut d = data.clone();
                d[bit / 8] ^= 1 << (bit % 8);
                crate::fuzzing::video_payload(&d);
            }
        }
        assert!(seeds >= 10, "{seeds} seeds");
        for codec in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
            for b in 0..=255u8 {
                assert!(parse(codec, &[b; 40]).parsed());
            }
        }
    }
}
