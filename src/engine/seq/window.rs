//! The sequence tracker's window of received extended sequence numbers (see the module doc
//! of [`super`]): implicit while clean, then gap ranges, then a bitmap, with the same answers.

use super::{WINDOW_BITS, WINDOW_WORDS};

/// Gap ranges kept before the window falls back to a bitmap.
pub const MAX_GAPS: usize = 8;

/// The extended sequence numbers received in `(highest - WINDOW_BITS, highest]`, where
/// `highest` is the tracker's: every number from `lo` up, except the ranges in `gaps`; or, once
/// more than [`MAX_GAPS`] gaps lie in the window at once, a bitmap of the whole window (the
/// exact same set, in 512 bytes). Numbers outside the window are never asked about.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// Nothing below it was received.
    pub(super) lo: u64,
    /// Inclusive ranges of numbers in `[lo, highest)` not received, disjoint, unordered; the
    /// first `n_gaps` are in use. Ranges wholly below the window are stale and may be dropped.
    gaps: [(u64, u64); MAX_GAPS],
    n_gaps: u8,
    /// The bitmap, when the gaps overflowed: slot `ext % WINDOW_BITS` for each `ext` covered.
    bits: Option<Box<[u64; WINDOW_WORDS]>>,
}

/// Whether `ext` lies in the window below (and including) `highest`.
fn covers(ext: u64, highest: u64) -> bool {
    ext <= highest && highest - ext < WINDOW_BITS
}

/// Word index and mask of `ext` in a bitmap. The index is `< WINDOW_WORDS` by construction, and
/// the accessors still go through `get` so that no arithmetic slip can panic.
fn slot(ext: u64) -> (usize, u64) {
    let pos = ext % WINDOW_BITS;
    ((pos / 64) as usize, 1u64 << (pos % 64))
}

fn write_bit(bits: &mut [u64; WINDOW_WORDS], ext: u64, value: bool) {
    let (word, mask) = slot(ext);
    if let Some(w) = bits.get_mut(word) {
        if value {
            *w |= mask;
        } else {
            *w &= !mask;
        }
    }
}

/// Numbers in the inclusive ranges `[a, b]` and `[c, d]` both.
fn overlap(a: u64, b: u64, c: u64, d: u64) -> u64 {
    let (lo, hi) = (a.max(c), b.min(d));
    if lo > hi {
        0
    } else {
        hi - lo + 1
    }
}

impl Window {
    /// Every number from `lo` up received (and nothing below): a clean window.
    pub(super) fn new(lo: u64) -> Self {
        Window {
            lo,
            gaps: [(0, 0); MAX_GAPS],
            n_gaps: 0,
            bits: None,
        }
    }

    fn gaps(&self) -> &[(u64, u64)] {
        self.gaps.get(..usize::from(self.n_gaps)).unwrap_or(&[])
    }

    /// Whether `ext` was received; `None` outside the window.
    pub(super) fn get(&self, ext: u64, highest: u64) -> Option<bool> {
        if !covers(ext, highest) {
            return None;
        }
        if let Some(bits) = &self.bits {
            let (word, mask) = slot(ext);
            return bits.get(word).map(|w| w & mask != 0);
        }
        Some(ext >= self.lo && !self.gaps().iter().any(|&(a, b)| a <= ext && ext <= b))
    }

    /// Whether one more gap fits, after dropping the stale ones (wholly below the window
    /// under `highest`) if the list is full.
    fn has_room(&mut self, highest: u64) -> bool {
        if usize::from(self.n_gaps) == MAX_GAPS {
            let mut kept = 0;
            for i in 0..MAX_GAPS {
                let g = self.gaps.get(i).copied().unwrap_or((0, 0));
                if covers(g.1, highest) {
                    if let Some(s) = self.gaps.get_mut(kept) {
                        *s = g;
                    }
                    kept += 1;
                }
            }
            self.n_gaps = kept as u8;
        }
        usize::from(self.n_gaps) < MAX_GAPS
    }

    /// Adds a gap; false when there is no room even after dropping the stale ones.
    fn push_gap(&mut self, gap: (u64, u64), highest: u64) -> bool {
        if !self.has_room(highest) {
            return false;
        }
        match self.gaps.get_mut(usize::from(self.n_gaps)) {
            Some(s) => {
                *s = gap;
                self.n_gaps += 1;
                true
            }
            None => false,
        }
    }

    fn gap_of(&self, ext: u64) -> Option<usize> {
        self.gaps().iter().position(|&(a, b)| a <= ext && ext <= b)
    }

    /// Switches to the bitmap, holding the same set for the window below `highest`.
    #[cold]
    fn materialize(&mut self, highest: u64) {
        let mut bits = Box::new([0u64; WINDOW_WORDS]);
        for ext in highest.saturating_sub(WINDOW_BITS - 1)..=highest {
            if self.get(ext, highest) == Some(true) {
                write_bit(&mut bits, ext, true);
            }
        }
        self.bits = Some(bits);
        self.n_gaps = 0;
    }

    /// Marks `ext` received if it is inside the window below `highest`.
    pub(super) fn set(&mut self, ext: u64, highest: u64) {
        if !covers(ext, highest) {
            return;
        }
        if let Some(bits) = &mut self.bits {
            write_bit(bits, ext, true);
            return;
        }
        if ext < self.lo {
            if ext + 1 < self.lo && !self.push_gap((ext + 1, self.lo - 1), highest) {
                self.materialize(highest);
                self.set(ext, highest);
                return;
            }
            self.lo = ext;
            return;
        }
        let Some(i) = self.gap_of(ext) else {
            return;
        };
        let (a, b) = self.gaps.get(i).copied().unwrap_or((0, 0));
        if a < ext && ext < b {
            // Split in two: one more gap.
            if !self.has_room(highest) {
                self.materialize(highest);
                self.set(ext, highest);
                return;
            }
            // Dropping stale gaps may have moved this one (it is in the window: it stays).
            if let Some(g) = self.gap_of(ext).and_then(|i| self.gaps.get_mut(i)) {
                *g = (a, ext - 1);
            }
            let _ = self.push_gap((ext + 1, b), highest);
        } else if let Some(g) = self.gaps.get_mut(i) {
            if a == b {
                let last = usize::from(self.n_gaps) - 1;
                self.gaps.swap(i, last);
                self.n_gaps -= 1;
            } else if ext == a {
                g.0 = a + 1;
            } else {
                g.1 = b - 1;
            }
        }
    }

    /// Moves the top of the window from `highest` up to `new_highest` and marks it received:
    /// the numbers between are not.
    pub(super) fn advance_set(&mut self, highest: u64, new_highest: u64) {
        if new_highest <= highest {
            return;
        }
        if let Some(bits) = &mut self.bits {
            if new_highest - highest >= WINDOW_BITS {
                **bits = [0; WINDOW_WORDS];
            } else {
                for ext in highest + 1..=new_highest {
                    write_bit(bits, ext, false);
                }
            }
            write_bit(bits, new_highest, true);
            return;
        }
        if new_highest - highest >= WINDOW_BITS {
            *self = Window::new(new_highest);
        } else if new_highest > highest + 1
            && !self.push_gap((highest + 1, new_highest - 1), new_highest)
        {
            self.materialize(highest);
            self.advance_set(highest, new_highest);
        }
    }

    /// Received numbers in `(lo, highest]`; `lo` must be covered or `highest`.
    pub(super) fn count_above(&self, lo: u64, highest: u64) -> u64 {
        if self.bits.is_some() {
            return (lo.saturating_add(1)..=highest)
                .filter(|&ext| self.get(ext, highest) == Some(true))
                .count() as u64;
        }
        let Some(first) = lo.checked_add(1).filter(|&f| f <= highest) else {
            return 0;
        };
        let below_lo = match self.lo.checked_sub(1) {
            Some(top) => overlap(first, highest, 0, top),
            None => 0,
        };
        let in_gaps: u64 = self
            .gaps()
            .iter()
            .map(|&(a, b)| overlap(first, highest, a.max(self.lo), b))
            .sum();
        (highest - lo).saturating_sub(below_lo + in_gaps)
    }
}
