//! H.264 (RFC 6184 §5.6-5.8; ITU-T H.264 §7.3.2.1.1).
//!
//! ```text
//!  NAL unit header     |F|NRI| Type(5)|   1-23: one NAL unit, 24: STAP-A, 28: FU-A
//!  STAP-A              | hdr | size (16) | NAL unit | size (16) | NAL unit | …
//!  FU-A                | indicator | S|E|R| Type(5) | fragment …   (S = 1: the NAL unit starts)
//! ```
//!
//! A packet is a keyframe when it carries (the start of) an IDR slice, type 5; an SPS (type 7)
//! gives the resolution: `(pic_width_in_mbs_minus1 + 1) × 16` by `(2 − frame_mbs_only_flag) ×
//! (pic_height_in_map_units_minus1 + 1) × 16`, less the frame cropping (§7.4.2.1.1, Table 6-1).

use super::bits::Bits;
use super::Hint;

const IDR: u8 = 5;
const SPS: u8 = 7;
/// NAL units of one STAP-A looked at, at most (each is at least 3 bytes: the loop ends anyway).
const MAX_AGGREGATED: usize = 64;

pub fn parse(p: &[u8], h: &mut Hint) {
    let Some(&hdr) = p.first() else {
        return;
    };
    match hdr & 0x1f {
        24 => {
            let mut rest = p.get(1..).unwrap_or_default();
            for _ in 0..MAX_AGGREGATED {
                let Some(len) = rest
                    .get(..2)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    break;
                };
                let Some(nal) = rest.get(2..2 + len) else {
                    break;
                };
                nal_unit(nal, h);
                rest = rest.get(2 + len..).unwrap_or_default();
            }
        }
        28 => {
            let Some(&fu) = p.get(1) else {
                return;
            };
            if fu & 0x80 != 0 && fu & 0x1f == IDR {
                h.set_keyframe();
            }
        }
        1..=23 => nal_unit(p, h),
        _ => {}
    }
}

fn nal_unit(nal: &[u8], h: &mut Hint) {
    match nal.first().map(|b| b & 0x1f) {
        Some(IDR) => h.set_keyframe(),
        Some(SPS) => {
            if let Some((w, ht)) = nal.get(1..).and_then(sps_resolution) {
                h.set_resolution(w, ht);
            }
        }
        _ => {}
    }
}

/// Width and height of a sequence parameter set's RBSP (after the NAL header byte).
pub fn sps_resolution(rbsp: &[u8]) -> Option<(u32, u32)> {
    let mut b = Bits::unescaped(rbsp);
    let profile = b.bits(8)?;
    b.bits(16)?; // constraint flags, level_idc
    b.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    let mut separate_planes = false;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = b.ue()?;
        if chroma_format == 3 {
            separate_planes = b.flag()?;
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.flag()?; // qpprime_y_zero_transform_bypass_flag
        if b.flag()? {
            // seq_scaling_matrix_present_flag: skip the lists (§7.3.2.1.1.1).
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if b.flag()? {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + b.se()? + 256).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.flag()?;
            b.se()?;
            b.se()?;
            let cycle = b.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.flag()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(b.ue()?) + 1;
    let height_units = u64::from(b.ue()?) + 1;
    let frame_mbs_only = u64::from(b.bit()?);
    if frame_mbs_only == 0 {
        b.flag()?; // mb_adaptive_frame_field_flag
    }
    b.flag()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if b.flag()? {
        left = u64::from(b.ue()?);
        right = u64::from(b.ue()?);
        top = u64::from(b.ue()?);
        bottom = u64::from(b.ue()?);
    }
    // Table 6-1 and equations 7-19..7-22.
    let chroma = if separate_planes { 0 } else { chroma_format };
    let (sub_w, sub_h) = match chroma {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let (crop_x, crop_y) = if chroma == 0 {
        (1, 2 - frame_mbs_only)
    } else {
        (sub_w, sub_h * (2 - frame_mbs_only))
    };
    let w = (width_mbs * 16).checked_sub(crop_x * (left + right))?;
    let h = ((2 - frame_mbs_only) * height_units * 16).checked_sub(crop_y * (top + bottom))?;
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Codec};
    use super::*;

    /// A Constrained Baseline SPS for 1280×720 (as x264/libwebrtc write it): 80 × 45
    /// macroblocks, frame_mbs_only, no cropping.
    const SPS_720P: [u8; 9] = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe4];
    /// 1920×1080: 120 × 68 macroblocks, 8 lines cropped at the bottom (offset 4 × 2).
    const SPS_1080P: [u8; 10] = [0x67, 0x42, 0xc0, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x95];

    #[test]
    fn sps_gives_the_resolution() {
        assert_eq!(sps_resolution(&SPS_720P[1..]), Some((1280, 720)));
        assert_eq!(sps_resolution(&SPS_1080P[1..]), Some((1920, 1080)));
        for n in 0..SPS_1080P.len() {
            assert_eq!(sps_resolution(&SPS_1080P[1..n.max(1)]), None, "cut at {n}");
        }
        let h = parse(Codec::H264, &SPS_720P);
        assert_eq!(h.resolution(), Some((1280, 720)));
        assert!(!h.keyframe());
    }

    #[test]
    fn idr_single_stap_a_and_fu_a() {
        assert!(parse(Codec::H264, &[0x65, 0x88, 0x84]).keyframe());
        assert!(!parse(Codec::H264, &[0x41, 0x9a]).keyframe());
        // STAP-A: SPS, then IDR.
        let mut stap = vec![0x78, 0x00, SPS_720P.len() as u8];
        stap.extend_from_slice(&SPS_720P);
        stap.extend_from_slice(&[0x00, 0x02, 0x65, 0x88]);
        let h = parse(Codec::H264, &stap);
        assert!(h.keyframe());
        assert_eq!(h.resolution(), Some((1280, 720)));
        // FU-A start of an IDR; a middle fragment is not a keyframe start.
        assert!(parse(Codec::H264, &[0x7c, 0x85, 0x88]).keyframe());
        assert!(!parse(Codec::H264, &[0x7c, 0x05, 0x88]).keyframe());
        // STAP-A whose size runs past the end: nothing, no panic.
        assert!(!parse(Codec::H264, &[0x78, 0xff, 0xff, 0x65]).keyframe());
    }
}
