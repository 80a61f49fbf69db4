//! Sans-IO statistics engine.
#[cfg(test)]
mod appendix_a;
pub mod clock;
pub mod jitter;
pub mod seq;
