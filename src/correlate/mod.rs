//! Sans-IO views above single streams, fed beside the engine and read like it.
//!
//! * [`hop`]: the middlebox hop: which stream leaving a relay or SFU carries the media of which
//!   stream entering it, and what the box added (loss inside it, forwarding delay, jitter).
//! * [`ice`], [`turn`]: ICE sessions and TURN allocations from STUN, fed by the
//!   [`calls::CallStage`] on the capture thread.
//!
//! Like [`crate::engine`], nothing here reads a clock or does IO: time is the capture time of
//! each packet, so a replay and a live capture of the same packets give the same numbers.
//! Everything is bounded, and every bound that bites is counted.

pub mod calls;
pub mod hop;
pub mod ice;
pub mod turn;
