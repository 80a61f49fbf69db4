//! A bounded MSB-first bit reader over a borrowed slice: every read past the end gives `None`.
//! With `unescape` it skips H.264 emulation prevention bytes (a 0x03 after two zero bytes,
//! ITU-T H.264 §7.4.1) as it goes, so a NAL unit is read in place, without a copy.

pub struct Bits<'a> {
    buf: &'a [u8],
    /// Next byte index and bit within it (0 = most significant).
    byte: usize,
    bit: u8,
    unescape: bool,
    /// Zero bytes just consumed (for emulation prevention).
    zeros: u8,
}

impl<'a> Bits<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Bits {
            buf,
            byte: 0,
            bit: 0,
            unescape: false,
            zeros: 0,
        }
    }

    /// A reader of an H.264 RBSP inside a NAL unit's bytes.
    pub fn unescaped(buf: &'a [u8]) -> Self {
        Bits {
            unescape: true,
            ..Bits::new(buf)
        }
    }

    pub fn bit(&mut self) -> Option<u32> {
        if self.bit == 0 && self.unescape && self.zeros >= 2 && self.buf.get(self.byte) == Some(&3)
        {
            self.byte += 1;
            self.zeros = 0;
        }
        let b = *self.buf.get(self.byte)?;
        let v = (b >> (7 - self.bit)) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.byte += 1;
            self.zeros = if b == 0 {
                self.zeros.saturating_add(1)
            } else {
                0
            };
        }
        Some(u32::from(v))
    }

    /// `n` ≤ 32 bits, most significant first.
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n.min(32) {
            v = v.checked_shl(1).unwrap_or(0) | self.bit()?;
        }
        Some(v)
    }

    pub fn flag(&mut self) -> Option<bool> {
        Some(self.bit()? == 1)
    }

    /// Unsigned exp-Golomb (H.264 §9.1, `ue(v)`); at most 31 leading zeros (a 32-bit value).
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    /// Signed exp-Golomb (`se(v)`); only its magnitude is ever needed here.
    pub fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// AV1 `uvlc()` (AV1 spec §4.10.3): like `ue`, 32 leading zeros or more mean 2^32 − 1.
    pub fn uvlc(&mut self) -> Option<u32> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros >= 32 {
                return Some(u32::MAX);
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_and_emulation_prevention() {
        // 1 | 010 | 011 | 00100 → ue 0, 1, 2, 3
        let mut b = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!(
            (b.ue(), b.ue(), b.ue(), b.ue()),
            (Some(0), Some(1), Some(2), Some(3))
        );
        // 00 00 03 01: the 03 is skipped, the next byte read is 01.
        let mut u = Bits::unescaped(&[0, 0, 3, 1]);
        assert_eq!(u.bits(16), Some(0));
        assert_eq!(u.bits(8), Some(1));
        assert_eq!(u.bit(), None);
        // 32 zero bits: no value, no panic.
        assert_eq!(Bits::new(&[0; 5]).ue(), None);
        assert_eq!(Bits::new(&[0; 8]).uvlc(), Some(u32::MAX));
    }
}
