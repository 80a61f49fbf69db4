//! Sans-IO statistics engine.
pub mod clock;
pub mod jitter;
pub mod seq;
