//! tmp
pub mod frame;
pub mod pcap;
pub mod rng;
pub mod rtcp;
pub mod rtp;
pub mod stun;
