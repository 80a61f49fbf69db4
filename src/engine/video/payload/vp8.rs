//! VP8 (RFC 7741).
//!
//! ```text
//!  payload descriptor (§4.2)          VP8 payload header (§4.3), at S = 1, PID = 0
//!  |X|R|N|S|R| PID |                   |Size0|H| VER |P| size1 | size2 |
//!  |I|L|T|K| RSV   |  (X = 1)          key frame (P = 0, RFC 6386 §9.1-9.2):
//!  |M| PictureID   |  (I = 1, M: 15 b)   9d 01 2a | width: 14 b + 2 b scale (LE) |
//!  |   TL0PICIDX   |  (L = 1)                       | height: 14 b + 2 b scale (LE) |
//!  |TID|Y| KEYIDX  |  (T = 1 or K = 1)
//! ```

use super::Hint;

pub fn parse(p: &[u8], h: &mut Hint) {
    let _ = parse_opt(p, h);
}

fn parse_opt(p: &[u8], h: &mut Hint) -> Option<()> {
    let b0 = *p.first()?;
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(i)?;
        i += 1;
        if x & 0x80 != 0 {
            // PictureID, 7 or 15 bits.
            i += if *p.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    let start = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !start || pid != 0 {
        return Some(());
    }
    let f = p.get(i..)?;
    let tag = *f.first()?;
    if tag & 0x01 != 0 {
        return Some(()); // P = 1: an interframe.
    }
    h.set_keyframe();
    if f.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return Some(());
    }
    let w = u16::from_le_bytes([*f.get(6)?, *f.get(7)?]) & 0x3fff;
    let ht = u16::from_le_bytes([*f.get(8)?, *f.get(9)?]) & 0x3fff;
    h.set_resolution(w.into(), ht.into());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Codec};

    #[test]
    fn key_frame_with_picture_id() {
        let p = [
            0x90, // X=1, S=1, PID=0
            0x80, // I=1
            0x81, 0x23, // M=1, 15-bit PictureID
            0x50, 0x2a, 0x00, // frame tag: P=0 (key frame), version 0, show_frame
            0x9d, 0x01, 0x2a, // start code
            0x80, 0x02, // width 640
            0x68, 0x01, // height 360
        ];
        let h = parse(Codec::Vp8, &p);
        assert!(h.keyframe());
        assert_eq!(h.resolution(), Some((640, 360)));
    }

    #[test]
    fn interframes_continuations_and_truncation() {
        // S=1, PID=0, P=1: interframe.
        assert!(!parse(Codec::Vp8, &[0x10, 0x31, 0x00, 0x00]).keyframe());
        // S=0: a continuation, whatever follows.
        assert!(!parse(Codec::Vp8, &[0x00, 0x50, 0x2a, 0x00]).keyframe());
        // Key frame tag but cut before the size: keyframe, no resolution.
        let h = parse(Codec::Vp8, &[0x10, 0x50, 0x2a, 0x00, 0x9d]);
        assert!(h.keyframe() && h.resolution().is_none());
        assert_eq!(parse(Codec::Vp8, &[]).resolution(), None);
    }
}
