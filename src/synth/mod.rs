//! tmp
pub mod frame;
pub mod pcap;
pub mod rng;
