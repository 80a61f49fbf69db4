//! AV1 ("RTP Payload Format for AV1", AOM, §4.4-4.5; AV1 bitstream spec §5.3, §5.5).
//!
//! ```text
//!  aggregation header |Z|Y| W |N|-|-|-|   N = 1: first packet of a coded video sequence
//!  then OBU elements: W = 0: each preceded by its leb128 length; W = 1..3: that many
//!  elements, all but the last preceded by a length.
//!  OBU header |F| type(4) |X|S|-|  (+1 extension byte if X)
//! ```
//!
//! A keyframe is N = 1 (a new coded video sequence starts with a key frame). A sequence header
//! OBU (type 1) gives `max_frame_width_minus_1 + 1` × `max_frame_height_minus_1 + 1`.

use super::bits::Bits;
use super::Hint;

const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU elements looked at per packet, at most.
const MAX_ELEMENTS: usize = 32;

pub fn parse(p: &[u8], h: &mut Hint) {
    let Some((&agg, mut rest)) = p.split_first() else {
        return;
    };
    if agg & 0x08 != 0 {
        h.set_keyframe();
    }
    let w = usize::from((agg >> 4) & 0x03);
    for n in 1..=MAX_ELEMENTS {
        if rest.is_empty() {
            break;
        }
        let (obu, tail) = if w != 0 && n == w {
            (rest, &[][..])
        } else {
            let Some((len, used)) = leb128(rest) else {
                return;
            };
            let Some(obu) = rest.get(used..used.saturating_add(len)) else {
                return;
            };
            (obu, rest.get(used + len..).unwrap_or_default())
        };
        // The first element of a packet continuing an OBU (Z = 1) is not an OBU start.
        if !(n == 1 && agg & 0x80 != 0) {
            obu_element(obu, h);
        }
        rest = tail;
    }
}

/// leb128 (AV1 spec §4.10.5): value and bytes used; at most 8 bytes.
fn leb128(b: &[u8]) -> Option<(usize, usize)> {
    let mut v: u64 = 0;
    for i in 0..8 {
        let byte = *b.get(i)?;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((usize::try_from(v).ok()?, i + 1));
        }
    }
    None
}

fn obu_element(obu: &[u8], h: &mut Hint) {
    let Some(&hdr) = obu.first() else {
        return;
    };
    if (hdr >> 3) & 0x0f != OBU_SEQUENCE_HEADER {
        return;
    }
    let mut start = if hdr & 0x04 != 0 { 2 } else { 1 };
    if hdr & 0x02 != 0 {
        // obu_has_size_field: skip the size.
        let Some((_, used)) = obu.get(start..).and_then(leb128) else {
            return;
        };
        start += used;
    }
    if let Some((w, ht)) = obu.get(start..).and_then(max_frame_size) {
        h.set_resolution(w, ht);
    }
}

/// `max_frame_width_minus_1 + 1`, `max_frame_height_minus_1 + 1` of a sequence header OBU's
/// payload (AV1 spec §5.5.1).
pub fn max_frame_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits::new(b);
    r.bits(3)?; // seq_profile
    r.flag()?; // still_picture
    let reduced = r.flag()?;
    if reduced {
        r.bits(5)?; // seq_level_idx[0]
    } else {
        let mut buffer_delay_len = 0;
        let timing = r.flag()?;
        let mut decoder_model = false;
        if timing {
            r.bits(32)?; // num_units_in_display_tick
            r.bits(32)?; // time_scale
            if r.flag()? {
                r.uvlc()?; // num_ticks_per_picture_minus_1
            }
            decoder_model = r.flag()?;
            if decoder_model {
                buffer_delay_len = r.bits(5)? + 1;
                r.bits(32)?; // num_units_in_decoding_tick
                r.bits(5)?; // buffer_removal_time_length_minus_1
                r.bits(5)?; // frame_presentation_time_length_minus_1
            }
        }
        let initial_display_delay = r.flag()?;
        let points = r.bits(5)? + 1;
        for _ in 0..points {
            r.bits(12)?; // operating_point_idc
            if r.bits(5)? > 7 {
                r.flag()?; // seq_tier
            }
            if decoder_model && r.flag()? {
                r.bits(buffer_delay_len)?; // decoder_buffer_delay
                r.bits(buffer_delay_len)?; // encoder_buffer_delay
                r.flag()?; // low_delay_mode_flag
            }
            if initial_display_delay && r.flag()? {
                r.bits(4)?;
            }
        }
    }
    let wbits = r.bits(4)? + 1;
    let hbits = r.bits(4)? + 1;
    let w = u64::from(r.bits(wbits)?) + 1;
    let h = u64::from(r.bits(hbits)?) + 1;
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Codec};

    #[test]
    fn new_sequence_with_sequence_header() {
        // Sequence header payload: profile 0, not still, not reduced, no timing, no initial
        // display delay, 1 operating point (idc 0, level 8 → tier bit), width bits 11,
        // height bits 11, 1279, 719.
        let sh = seq_header(1280, 720);
        let mut p = vec![0x18]; // Z=0 Y=0 W=1 N=1
        p.push(0x08); // OBU header: type 1, no extension, no size
        p.extend_from_slice(&sh);
        let h = parse(Codec::Av1, &p);
        assert!(h.keyframe());
        assert_eq!(h.resolution(), Some((1280, 720)));
        for n in 0..p.len() {
            let _ = parse(Codec::Av1, &p[..n]);
        }
        assert!(!parse(Codec::Av1, &[0x10, 0x30]).keyframe(), "N=0");
    }

    fn seq_header(w: u32, h: u32) -> Vec<u8> {
        let mut bits = String::new();
        let mut put = |v: u32, n: u32| {
            for i in (0..n).rev() {
                bits.push(if (v >> i) & 1 == 1 { '1' } else { '0' });
            }
        };
        put(0, 3);
        put(0, 1);
        put(0, 1);
        put(0, 1); // timing_info_present_flag
        put(0, 1); // initial_display_delay_present_flag
        put(0, 5); // operating_points_cnt_minus_1
        put(0, 12);
        put(8, 5); // seq_level_idx 8 > 7: tier follows
        put(0, 1);
        put(10, 4);
        put(10, 4);
        put(w - 1, 11);
        put(h - 1, 11);
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        (0..bits.len())
            .step_by(8)
            .map(|i| u8::from_str_radix(&bits[i..i + 8], 2).unwrap())
            .collect()
    }
}
