//! Sans-IO statistics engine.
pub mod jitter;
pub mod seq;
