//! SIP and SDP, passively (RFC 3261, RFC 8866): calls from their signalling.
//!
//! [`message`] and [`sdp`] parse; the dialog table (`dialog`) follows calls by Call-ID and
//! turns each session description into media endpoints whose payload types have known codecs
//! and clock rates, for the engine.

pub mod call;
pub mod dialog;
pub mod message;
pub mod sdp;
pub mod stage;

pub use call::SipCall;
pub use stage::{SipCounters, SipLimits, SipStage};
pub mod fuzz;
