//! The stream tables' hash of a [`StreamKey`]: one per RTP packet, so it is specialised.
//!
//! The common key (IPv4 source and destination) packs into two words: the two addresses, and
//! the two ports with the SSRC. Those are mixed with random per-table seeds by two folded
//! 64 × 64 → 128-bit multiplies (the construction foldhash itself uses), and the observation
//! point is folded into the second: about ten instructions, where the generic `Hash` path
//! through foldhash's streaming hasher took about 60 per packet (cachegrind, 2026-12-07;
//! docs/benchmarks.md, "Replay speed"). Other keys (IPv6) take that generic path.
//!
//! The seeds come from foldhash's per-process random state, so an attacker who chooses
//! addresses, ports and SSRCs cannot aim them at one bucket any more than with foldhash. Only
//! equal keys must hash equally: the tables compare the whole key after the hash.

use super::StreamKey;
use foldhash::fast::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;

/// Hashes [`StreamKey`]s for one table (its own random seeds).
#[derive(Clone)]
pub struct KeyHasher {
    /// The generic path (IPv6 keys).
    state: RandomState,
    seeds: [u64; 3],
}

impl Default for KeyHasher {
    fn default() -> Self {
        let state = RandomState::default();
        // Three words derived from the random state: random, and fixed for this table.
        let seeds = [1u64, 2, 3].map(|i| state.hash_one(i));
        KeyHasher { state, seeds }
    }
}

impl KeyHasher {
    #[inline]
    pub fn hash(&self, key: &StreamKey) -> u64 {
        match (&key.src, &key.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                let ips = u64::from(s.ip().to_bits()) << 32 | u64::from(d.ip().to_bits());
                let rest =
                    u64::from(s.port()) << 48 | u64::from(d.port()) << 32 | u64::from(key.ssrc);
                let [s0, s1, s2] = self.seeds;
                let h = folded_multiply(ips ^ s0, rest ^ s1);
                folded_multiply(h ^ u64::from(key.point.index()), s2)
            }
            _ => self.state.hash_one(key),
        }
    }
}

/// The 128-bit product of `a` and `b`, its halves xored.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ObservationPoint;
    use std::collections::HashSet;

    fn key(src: &str, dst: &str, ssrc: u32) -> StreamKey {
        StreamKey {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ssrc,
            point: ObservationPoint::CAPTURE,
        }
    }

    #[test]
    fn equal_keys_hash_equally_and_each_field_moves_the_hash() {
        let h = KeyHasher::default();
        let k = key("10.0.0.1:4000", "10.0.0.2:5000", 7);
        assert_eq!(h.hash(&k), h.hash(&k.clone()));
        let mut others = vec![
            key("10.0.0.9:4000", "10.0.0.2:5000", 7),
            key("10.0.0.1:4001", "10.0.0.2:5000", 7),
            key("10.0.0.1:4000", "10.0.0.3:5000", 7),
            key("10.0.0.1:4000", "10.0.0.2:5001", 7),
            key("10.0.0.1:4000", "10.0.0.2:5000", 8),
            // The same 5-tuple seen from the other side.
            key("10.0.0.2:5000", "10.0.0.1:4000", 7),
        ];
        let mut elsewhere = k;
        elsewhere.point = ObservationPoint::OTHER;
        others.push(elsewhere);
        for o in &others {
            assert_ne!(h.hash(&k), h.hash(o), "{o:?}");
        }
    }

    #[test]
    fn ipv6_keys_take_the_generic_path_and_still_hash_equal_keys_equally() {
        let h = KeyHasher::default();
        let a = key("[2001:db8::1]:4000", "[2001:db8::2]:5000", 7);
        let b = key("[2001:db8::1]:4000", "[2001:db8::2]:5000", 7);
        assert_eq!(h.hash(&a), h.hash(&b));
        assert_ne!(
            h.hash(&a),
            h.hash(&key("[2001:db8::1]:4000", "[2001:db8::2]:5000", 8))
        );
    }

    #[test]
    fn a_thousand_streams_on_one_address_pair_spread_over_the_buckets() {
        // The low bits pick the bucket, the top 7 the tag: both must vary with the SSRC alone.
        let h = KeyHasher::default();
        let hashes: Vec<u64> = (0..1000)
            .map(|i| h.hash(&key("10.0.0.1:4000", "10.0.0.2:5000", i)))
            .collect();
        let low: HashSet<u64> = hashes.iter().map(|x| x & 1023).collect();
        let top: HashSet<u64> = hashes.iter().map(|x| x >> 57).collect();
        assert!(low.len() > 500, "{} of 1024 low values", low.len());
        assert!(top.len() >= 120, "{} of 128 tags", top.len());
    }

    #[test]
    fn two_tables_use_different_seeds() {
        let k = key("10.0.0.1:4000", "10.0.0.2:5000", 7);
        let (a, b) = (KeyHasher::default(), KeyHasher::default());
        assert_ne!(a.hash(&k), b.hash(&k));
    }
}
