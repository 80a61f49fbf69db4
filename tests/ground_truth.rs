//! Ground truth: every value `rtcprobe` reports for a synthetic capture with known impairments
//! equals what the generator put on the wire (counts exactly, jitter within 0.1 %, RTT within
//! 0.1 ms).
//!
//! * `check` compares a [`Report`](rtcprobe::replay::Report) with a synth
//!   [`Truth`](rtcprobe::synth::Truth), stream by stream and counter by counter.
//! * `mix` feeds `impaired_mix` (mixed link types) straight into the decode-and-track loop.
//! * `files` writes it to pcap (µs and ns) and pcapng and reads it back through `replay_file`.
//! * `dedicated` isolates one behaviour per test: probation, bursts, wraps, restarts, duplicates
//!   versus reordering, clock-rate sources, eviction and idle expiry.

#[path = "ground_truth/check.rs"]
mod check;
#[path = "ground_truth/dedicated.rs"]
mod dedicated;
#[path = "ground_truth/files.rs"]
mod files;
#[path = "ground_truth/mix.rs"]
mod mix;
