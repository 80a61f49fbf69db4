//! Connection limits that keep the endpoint reachable under abuse (slowloris, floods).
//!
//! Every connection is in the table from accept to close. A connection is *waiting* when no
//! request of it is being handled: it is sending its request head (or its TLS handshake), or
//! idle between keep-alive requests. Two clocks close waiting connections: the request head
//! must be complete within `request_head_timeout_secs` of its first byte (for a new
//! connection: of the accept), however slowly it trickles in, and a keep-alive connection may
//! stay idle `idle_timeout_secs`.
//!
//! Caps: at most `max_connections` in all and `max_connections_per_address` from one client
//! address. A per-address cap alone cannot protect a scrape when the attacker shares the
//! scraper's address (a NAT, a proxy, or loopback in the tests), so a connection over a cap is
//! not refused: it **evicts** the waiting connection of that address (per-address cap) or of
//! all (global cap) that has waited longest, preferring connections that never completed a
//! request over keep-alive connections that did (a scraper's). Only when every connection
//! under the cap is busy with a request is the new one refused. Each closing is counted with
//! its reason.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The limits, from `[exporter]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Why a connection was closed by the server, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Evicted,
    Refused,
    HeadTimeout,
    IdleTimeout,
}

impl Closed {
    pub const ALL: [Closed; 4] = [
        Closed::Evicted,
        Closed::Refused,
        Closed::HeadTimeout,
        Closed::IdleTimeout,
    ];

    pub fn reason(self) -> &'static str {
        match self {
            Closed::Evicted => "evicted",
            Closed::Refused => "refused",
            Closed::HeadTimeout => "head_timeout",
            Closed::IdleTimeout => "idle_timeout",
        }
    }
}

/// One connection's state, shared by its task, its handlers and the table.
pub struct Conn {
    id: u64,
    ip: IpAddr,
    state: Mutex<State>,
    busy: AtomicBool,
    /// Notified when the connection is evicted.
    pub kill: Notify,
}

struct State {
    /// When the head being received started (accept time for the first), if one is.
    head_since: Option<Instant>,
    idle_since: Instant,
    served: u64,
}

impl Conn {
    /// A byte of a new request head arrived.
    pub fn head_started(&self, now: Instant) {
        if let Ok(mut s) = self.state.lock() {
            if s.head_since.is_none() {
                s.head_since = Some(now);
            }
        }
    }

    /// A request is handled from now on.
    pub fn enter(&self) {
        self.busy.store(true, Ordering::SeqCst);
        if let Ok(mut s) = self.state.lock() {
            s.head_since = None;
        }
    }

    /// The request has been answered.
    pub fn leave(&self, now: Instant) {
        if let Ok(mut s) = self.state.lock() {
            s.idle_since = now;
            s.served += 1;
        }
        self.busy.store(false, Ordering::SeqCst);
    }

    /// Why it should be closed now, if it should.
    pub fn expired(&self, now: Instant, l: &Limits) -> Option<Closed> {
        if self.busy.load(Ordering::SeqCst) {
            return None;
        }
        let s = self.state.lock().ok()?;
        match s.head_since {
            Some(t) if now.saturating_duration_since(t) > l.head_timeout => {
                Some(Closed::HeadTimeout)
            }
            None if now.saturating_duration_since(s.idle_since) > l.idle_timeout => {
                Some(Closed::IdleTimeout)
            }
            _ => None,
        }
    }

    /// Eviction order, lowest first; `None` while a request is handled.
    fn eviction_key(&self) -> Option<(bool, Instant)> {
        if self.busy.load(Ordering::SeqCst) {
            return None;
        }
        let s = self.state.lock().ok()?;
        Some((s.served > 0, s.head_since.unwrap_or(s.idle_since)))
    }
}

/// All open connections.
pub struct Table {
    pub limits: Limits,
    conns: Mutex<(u64, Vec<Arc<Conn>>)>,
    closed: [AtomicU64; 4],
}

impl Table {
    pub fn new(limits: Limits) -> Table {
        Table {
            limits,
            conns: Mutex::new((0, Vec::new())),
            closed: Default::default(),
        }
    }

    /// Admit a connection from `ip`, evicting one if a cap is reached; `None`: refused.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Option<Arc<Conn>> {
        let mut g = self.conns.lock().ok()?;
        let (next, conns) = &mut *g;
        let from_ip = conns.iter().filter(|c| c.ip == ip).count();
        let victim_of = |conns: &[Arc<Conn>], only: Option<IpAddr>| {
            conns
                .iter()
                .enumerate()
                .filter(|(_, c)| only.map_or(true, |ip| c.ip == ip))
                .filter_map(|(i, c)| c.eviction_key().map(|k| (k, i)))
                .min()
                .map(|(_, i)| i)
        };
        let over = if from_ip >= self.limits.max_per_address {
            Some(victim_of(conns, Some(ip)))
        } else if conns.len() >= self.limits.max_connections {
            Some(victim_of(conns, None))
        } else {
            None
        };
        match over {
            Some(Some(i)) => {
                let v = conns.swap_remove(i);
                v.kill.notify_one();
                self.count(Closed::Evicted);
            }
            Some(None) => {
                self.count(Closed::Refused);
                return None;
            }
            None => {}
        }
        *next += 1;
        let c = Arc::new(Conn {
            id: *next,
            ip,
            state: Mutex::new(State {
                head_since: Some(now),
                idle_since: now,
                served: 0,
            }),
            busy: AtomicBool::new(false),
            kill: Notify::new(),
        });
        conns.push(Arc::clone(&c));
        Some(c)
    }

    /// The connection has closed (no-op if it was evicted).
    pub fn remove(&self, c: &Conn) {
        if let Ok(mut g) = self.conns.lock() {
            if let Some(i) = g.1.iter().position(|x| x.id == c.id) {
                g.1.swap_remove(i);
            }
        }
    }

    pub fn count(&self, why: Closed) {
        if let Some(c) = self.closed.get(why as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Connections closed by the server so far, by reason.
    pub fn closed(&self) -> [(&'static str, u64); 4] {
        Closed::ALL.map(|c| {
            (
                c.reason(),
                self.closed
                    .get(c as usize)
                    .map_or(0, |a| a.load(Ordering::Relaxed)),
            )
        })
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.conns.lock().map_or(0, |g| g.1.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per: usize) -> Limits {
        Limits {
            max_connections: total,
            max_per_address: per,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn over_the_cap_the_longest_waiting_never_served_connection_goes() {
        let t = Table::new(limits(3, 3));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let scraper = t.admit(ip, t0).unwrap();
        scraper.enter();
        scraper.leave(t0);
        let slow1 = t.admit(ip, t0 + Duration::from_millis(1)).unwrap();
        let _slow2 = t.admit(ip, t0 + Duration::from_millis(2)).unwrap();
        let _new = t.admit(ip, t0 + Duration::from_millis(3)).unwrap();
        assert_eq!(t.open(), 3);
        assert!(t.conns.lock().unwrap().1.iter().all(|c| c.id != slow1.id));
        assert!(t.conns.lock().unwrap().1.iter().any(|c| c.id == scraper.id));
        assert_eq!(t.closed()[0], ("evicted", 1));
    }

    #[test]
    fn busy_connections_are_not_evicted_and_then_a_new_one_is_refused() {
        let t = Table::new(limits(2, 2));
        let ip: IpAddr = "::1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..2 {
            t.admit(ip, now).unwrap().enter();
        }
        assert!(t.admit(ip, now).is_none());
        assert_eq!(t.closed()[1], ("refused", 1));
    }

    #[test]
    fn the_per_address_cap_evicts_from_that_address_only() {
        let t = Table::new(limits(10, 1));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let now = Instant::now();
        let first_b = t.admit(b, now).unwrap();
        t.admit(a, now).unwrap();
        t.admit(a, now + Duration::from_millis(1)).unwrap();
        assert_eq!(t.open(), 2);
        assert!(t.conns.lock().unwrap().1.iter().any(|c| c.id == first_b.id));
    }

    #[test]
    fn head_and_idle_deadlines() {
        let l = limits(10, 10);
        let t = Table::new(l);
        let now = Instant::now();
        let c = t.admit("127.0.0.1".parse().unwrap(), now).unwrap();
        assert_eq!(c.expired(now + Duration::from_secs(9), &l), None);
        assert_eq!(
            c.expired(now + Duration::from_secs(11), &l),
            Some(Closed::HeadTimeout)
        );
        c.enter();
        assert_eq!(c.expired(now + Duration::from_secs(100), &l), None);
        c.leave(now);
        assert_eq!(c.expired(now + Duration::from_secs(59), &l), None);
        assert_eq!(
            c.expired(now + Duration::from_secs(61), &l),
            Some(Closed::IdleTimeout)
        );
    }
}
