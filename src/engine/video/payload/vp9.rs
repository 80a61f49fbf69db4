//! VP9 (RFC 9628 §4.2).
//!
//! ```text
//!  |I|P|L|F|B|E|V|Z|          I: PictureID follows; P: inter-picture predicted; L: layer
//!  |M| PICTURE ID  |  (I)       indices; F: flexible mode; B: start of a frame; V: scalability
//!  | EXTENDED PID  |  (M)       structure follows
//!  |TID|U| SID |D|  (L)        TL0PICIDX follows when L = 1 and F = 0
//!  |   TL0PICIDX   |  (L, !F)
//!  |  P_DIFF     |N|  (F, P: up to 3, N = another follows)
//!  |N_S|Y|G|-|-|-|  (V)  then if Y: N_S + 1 × (WIDTH 16, HEIGHT 16); if G: N_G, pictures…
//! ```

use super::Hint;

/// P_DIFF entries at most (RFC 9628: up to 3 reference indices).
const MAX_PDIFF: usize = 3;

pub fn parse(p: &[u8], h: &mut Hint) {
    let _ = parse_opt(p, h);
}

fn parse_opt(p: &[u8], h: &mut Hint) -> Option<()> {
    let b0 = *p.first()?;
    let (i_, p_, l_, f_, b_, v_) = (
        b0 & 0x80 != 0,
        b0 & 0x40 != 0,
        b0 & 0x20 != 0,
        b0 & 0x10 != 0,
        b0 & 0x08 != 0,
        b0 & 0x02 != 0,
    );
    let mut i = 1;
    if i_ {
        i += if *p.get(i)? & 0x80 != 0 { 2 } else { 1 };
    }
    let mut sid = 0;
    if l_ {
        sid = (*p.get(i)? >> 1) & 0x07;
        i += 1;
        if !f_ {
            i += 1;
        }
    }
    if b_ && !p_ && sid == 0 {
        h.set_keyframe();
    }
    if f_ && p_ {
        for _ in 0..MAX_PDIFF {
            let d = *p.get(i)?;
            i += 1;
            if d & 0x01 == 0 {
                break;
            }
        }
    }
    if v_ {
        let ss = *p.get(i)?;
        i += 1;
        let layers = usize::from(ss >> 5) + 1;
        if ss & 0x10 != 0 {
            // Y: the last (highest) spatial layer's size is the stream's resolution.
            let last = i + (layers - 1) * 4;
            let w = u16::from_be_bytes([*p.get(last)?, *p.get(last + 1)?]);
            let ht = u16::from_be_bytes([*p.get(last + 2)?, *p.get(last + 3)?]);
            h.set_resolution(w.into(), ht.into());
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Codec};

    #[test]
    fn key_frame_with_scalability_structure() {
        let p = [
            0x8a, // I=1, B=1, V=1
            0x80, 0x01, // 15-bit PictureID
            0x18, // N_S=0 (one layer), Y=1, G=1
            0x05, 0x00, 0x02, 0xd0, // 1280 × 720
            0x00, // N_G = 0
        ];
        let h = parse(Codec::Vp9, &p);
        assert!(h.keyframe());
        assert_eq!(h.resolution(), Some((1280, 720)));
    }

    #[test]
    fn inter_frames_upper_layers_and_truncation() {
        assert!(!parse(Codec::Vp9, &[0x48]).keyframe(), "P=1");
        assert!(!parse(Codec::Vp9, &[0x80, 0x05]).keyframe(), "B=0");
        // L=1, SID=1: an upper spatial layer's start is not the keyframe.
        assert!(!parse(Codec::Vp9, &[0x28, 0x02, 0x00]).keyframe());
        // V=1 with the sizes cut: keyframe, no resolution.
        let h = parse(Codec::Vp9, &[0x0a, 0x18, 0x05]);
        assert!(h.keyframe() && h.resolution().is_none());
    }
}
