//! Clock rates and codecs signalled by SDP (RFC 8866 `a=rtpmap`), by the address and port
//! media are sent to: what the signalling stage (`crate::sip`) learnt, handed to the engine
//! so that a stream gets its rate from the call rather than from inference.
//!
//! A stream is looked up once, when it is first seen: by its destination (the SDP of the side
//! that receives it names the payload types it expects), else by its source (symmetric RTP
//! sends from the port it receives on). A session description that arrives after a stream
//! began does not change it. The map is bounded ([`MAX_ENTRIES`], least recently set evicted
//! and counted).
//!
//! Precedence: an SDP mapping wins over `[payload_types]` and over the static table (the SDP
//! is what this very call negotiated; the configuration is a site-wide guess); see
//! docs/calls.md.

use super::emodel::Codec;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most (address, payload type) mappings kept.
pub const MAX_ENTRIES: usize = 65_536;

/// One payload type of one media endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SdpPt {
    pub addr: SocketAddr,
    pub pt: u8,
    pub clock_rate: u32,
    /// The E-model codec of its encoding name, if a voice codec the table knows.
    pub codec: Option<&'static Codec>,
}

type Key = (SocketAddr, u8);

/// The mappings, bounded: the oldest learnt is forgotten first.
#[derive(Debug, Default)]
pub struct SdpMap {
    map: foldhash::HashMap<Key, (u32, Option<&'static Codec>)>,
    order: VecDeque<Key>,
    pub evicted: u64,
}

impl SdpMap {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Learn (or replace) a mapping.
    pub fn insert(&mut self, m: SdpPt) {
        if m.clock_rate == 0 {
            return;
        }
        let key = (m.addr, m.pt);
        if let Some(v) = self.map.get_mut(&key) {
            *v = (m.clock_rate, m.codec);
            return;
        }
        while self.map.len() >= MAX_ENTRIES {
            let Some(k) = self.order.pop_front() else {
                break;
            };
            if self.map.remove(&k).is_some() {
                self.evicted += 1;
            }
        }
        self.map.insert(key, (m.clock_rate, m.codec));
        self.order.push_back(key);
    }

    /// The rate and codec of payload type `pt` sent from `src` to `dst`, if signalled.
    pub fn lookup(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        pt: u8,
    ) -> Option<(u32, Option<&'static Codec>)> {
        if self.map.is_empty() {
            return None;
        }
        self.map
            .get(&(dst, pt))
            .or_else(|| self.map.get(&(src, pt)))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_first_then_source_and_the_oldest_goes_first() {
        let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let mut m = SdpMap::default();
        assert_eq!(m.lookup(a, b, 96), None);
        m.insert(SdpPt {
            addr: a,
            pt: 96,
            clock_rate: 48000,
            codec: None,
        });
        m.insert(SdpPt {
            addr: b,
            pt: 96,
            clock_rate: 16000,
            codec: None,
        });
        assert_eq!(m.lookup(a, b, 96).map(|x| x.0), Some(16000), "dst first");
        assert_eq!(
            m.lookup(a, "10.0.0.3:1".parse().unwrap(), 96).map(|x| x.0),
            Some(48000)
        );
        assert_eq!(m.lookup(a, b, 97), None);
        for i in 0..MAX_ENTRIES {
            let addr = SocketAddr::new([10, 1, (i >> 8) as u8, i as u8].into(), 1000);
            m.insert(SdpPt {
                addr,
                pt: 0,
                clock_rate: 8000,
                codec: None,
            });
        }
        assert_eq!(m.len(), MAX_ENTRIES);
        assert_eq!(m.evicted, 2);
        assert_eq!(m.lookup(a, b, 96), None);
    }
}
