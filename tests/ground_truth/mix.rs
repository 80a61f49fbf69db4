//! `impaired_mix` (nine streams over five link types, noise) fed frame by frame into the
//! decode-and-track loop, for several seeds.

use crate::check::{self, Diffs};
use rtcprobe::config::Resolved;
use rtcprobe::synth::scenarios::impaired_mix;

const SEEDS: [u64; 4] = [1, 7, 42, 2024];

#[test]
fn impaired_mix_matches_truth() {
    for seed in SEEDS {
        let c = impaired_mix(seed).build();
        let r = check::run_frames(&c, Resolved::default());
        let mut d = Diffs::default();
        check::report(&mut d, &r, &c.truth, 0.0);
        d.assert_none(&format!("impaired_mix({seed})"));
    }
}
