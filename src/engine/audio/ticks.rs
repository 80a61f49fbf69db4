//! RTP timestamp ticks to nanoseconds, `ticks × 10⁹ / rate` truncated toward zero, without a
//! division per packet.
//!
//! The jitter buffers ([`super::jbuf`]) convert a timestamp difference to nanoseconds on every
//! packet; a 64-bit `idiv` costs tens of cycles, more than the rest of the buffer's work. The
//! rate is fixed per stream, so the division is prepared once ([`TicksToNs::new`]): the
//! fraction `10⁹ / rate` is reduced by their greatest common divisor (8, 16 and 32 kHz reduce
//! to a whole number of nanoseconds per tick: one multiply), and a remaining denominator
//! (3 at 48 kHz, 9 at 90 kHz, 441 at 44.1 kHz) is divided by a multiply-high and a shift with a
//! precomputed "magic" number (T. Granlund, P. Montgomery, "Division by invariant integers
//! using multiplication", PLDI 1994; the unsigned 64-bit variant as libdivide implements it).
//! The result is exactly the truncating division's, for every `i32` tick count and every
//! nonzero `u32` rate (property test against `/` in the tests below).

/// `ticks × 10⁹ / rate` for one rate, prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicksToNs {
    /// Division by `rate / gcd(10⁹, rate)`: multiply-high by `magic` (0: a power of two,
    /// shift only), then shift; `add`: the 65-bit magic's extra step.
    magic: u64,
    /// `10⁹ / gcd(10⁹, rate)`: nanoseconds per tick, times the denominator (at most 10⁹).
    num: u32,
    shift: u8,
    add: bool,
    /// The rate divides 10⁹ (8, 16, 32 kHz…): `num` ns per tick, one multiply.
    exact: bool,
}

const NS_PER_SEC: u64 = 1_000_000_000;

impl TicksToNs {
    /// The conversion for clock `rate` Hz (not 0).
    pub fn new(rate: u32) -> Self {
        let rate = u64::from(rate.max(1));
        let g = gcd(NS_PER_SEC, rate);
        let (num, den) = (NS_PER_SEC / g, rate / g);
        // num divides 10⁹.
        let num = u32::try_from(num).unwrap_or(u32::MAX);
        let l = 63 - den.leading_zeros();
        if den.is_power_of_two() {
            return TicksToNs {
                num,
                magic: 0,
                shift: l as u8,
                add: false,
                exact: den == 1,
            };
        }
        // floor(2^(64 + l) / den) and its remainder; 2^l < den, so the quotient fits 64 bits.
        let top = 1u128 << (64 + l);
        let m = (top / u128::from(den)) as u64;
        let rem = (top % u128::from(den)) as u64;
        let e = den - rem;
        if e < 1u64 << l {
            TicksToNs {
                num,
                magic: m + 1,
                shift: l as u8,
                add: false,
                exact: false,
            }
        } else {
            let twice_rem = rem.wrapping_add(rem);
            let mut m2 = m.wrapping_add(m);
            if twice_rem >= den || twice_rem < rem {
                m2 = m2.wrapping_add(1);
            }
            TicksToNs {
                num,
                magic: m2.wrapping_add(1),
                shift: l as u8,
                add: true,
                exact: false,
            }
        }
    }

    /// `ticks × 10⁹ / rate`, truncated toward zero (as `/` on `i64`).
    #[inline(always)]
    pub fn ns(&self, ticks: i32) -> i64 {
        if self.exact {
            // |ticks| ≤ 2^31 and num ≤ 10⁹ < 2^30: fits.
            return i64::from(ticks) * i64::from(self.num);
        }
        // |ticks| ≤ 2^31 and num ≤ 10⁹ < 2^30: the product fits 61 bits.
        let n = u64::from(ticks.unsigned_abs()) * u64::from(self.num);
        let q = if self.magic == 0 {
            n >> self.shift
        } else {
            let hi = ((u128::from(self.magic) * u128::from(n)) >> 64) as u64;
            if self.add {
                (((n - hi) >> 1) + hi) >> self.shift
            } else {
                hi >> self.shift
            }
        };
        // q < 2^61: the cast and the negation cannot overflow.
        if ticks < 0 {
            -(q as i64)
        } else {
            q as i64
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(ticks: i32, rate: u32) -> i64 {
        i64::from(ticks) * 1_000_000_000 / i64::from(rate)
    }

    #[test]
    fn common_rates_and_edges() {
        let rates = [
            1,
            2,
            3,
            7,
            8000,
            11025,
            16000,
            22050,
            24000,
            32000,
            44100,
            48000,
            90000,
            96000,
            1 << 31,
            u32::MAX,
            u32::MAX - 1,
            999_999_999,
            1_000_000_000,
            1_000_000_007,
        ];
        let ticks = [
            0,
            1,
            -1,
            2,
            159,
            160,
            -160,
            960,
            3000,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            i32::MAX - 1,
            1 << 30,
            -(1 << 30),
        ];
        for &r in &rates {
            let c = TicksToNs::new(r);
            for &t in &ticks {
                assert_eq!(c.ns(t), reference(t, r), "ticks {t} rate {r}");
            }
            for t in -5000..5000 {
                assert_eq!(c.ns(t), reference(t, r), "ticks {t} rate {r}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Exactly the truncating division, for any tick count and rate.
        #[test]
        fn equals_the_division(ticks in any::<i32>(), rate in 1u32..) {
            prop_assert_eq!(TicksToNs::new(rate).ns(ticks), reference(ticks, rate));
        }

        /// Small denominators (rates near the common ones) and their neighbours.
        #[test]
        fn equals_the_division_near_common_rates(ticks in any::<i32>(), base in prop_oneof![
            Just(8000u32), Just(16000), Just(44100), Just(48000), Just(90000)], off in 0u32..64) {
            let rate = base + off;
            prop_assert_eq!(TicksToNs::new(rate).ns(ticks), reference(ticks, rate));
        }
    }
}
