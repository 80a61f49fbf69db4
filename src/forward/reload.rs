//! Changing the sinks of a running [`Forwarder`] (SIGHUP), without touching the others.
//!
//! A sink whose table is unchanged keeps running: its queue, disk buffer, sender and counters
//! are untouched, so a reload loses nothing. A sink that is gone, or whose table changed, is
//! taken out of the workers' list first ([`RecordTx`] reads it at every record), then its
//! intake writes what is queued to its disk buffer and its sender stops at once, leaving the
//! buffer on disk (`<state_dir>/<name>`: a sink of the same name takes it over, now or at a
//! later start). New sinks start last, so a changed sink's successor opens a buffer nobody
//! else holds. The caller publishes [`Forwarder::views`] again for `/metrics`.
//!
//! Not done here: anything about `[records]` (the interval and the host go into the workers'
//! record makers; changing them needs a restart).

use super::{forwards_rtcp, Forwarder, Route, Running};
use crate::config::SinkConfig;
use std::sync::atomic::Ordering;

/// What a reload did, by sink name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    pub kept: Vec<String>,
    pub stopped: Vec<String>,
    pub started: Vec<String>,
    /// Sinks that could not start, with why (they are not running).
    pub failed: Vec<(String, String)>,
}

impl Forwarder {
    /// Make the running sinks those of `new`. Blocks while a stopped sink's sender finishes the
    /// request it is in (at most its `http.timeout_secs`).
    pub fn reconfigure(&mut self, new: &[SinkConfig]) -> Reloaded {
        let mut out = Reloaded::default();
        let old_routes = self.tx.sinks.load_full();
        let mut keep: Vec<(Running, Route)> = Vec::new();
        let mut stop: Vec<Running> = Vec::new();
        for (i, s) in std::mem::take(&mut self.sinks).into_iter().enumerate() {
            let route = old_routes.get(i).cloned();
            match route {
                Some(r) if new.contains(&s.cfg) => keep.push((s, r)),
                _ => stop.push(s),
            }
        }
        drop(old_routes);
        // Workers stop seeing the stopped sinks; their queues disconnect once the old list's
        // last reader lets go of it.
        let routes: Vec<Route> = keep.iter().map(|(_, r)| r.clone()).collect();
        let rtcp = keep
            .iter()
            .filter(|(s, _)| forwards_rtcp(&s.cfg))
            .map(|(_, r)| r.clone())
            .collect();
        self.tx.publish(routes, rtcp);
        for mut s in stop {
            if let Some(t) = s.intake.take() {
                let _ = t.join();
            }
            s.grace_ms.store(0, Ordering::Relaxed);
            s.stop.store(true, Ordering::Relaxed);
            if let Some(t) = s.sender.take() {
                let _ = t.join();
            }
            out.stopped.push(s.name);
        }
        let (mut sinks, mut routes): (Vec<Running>, Vec<Route>) = keep.into_iter().unzip();
        out.kept = sinks.iter().map(|s| s.name.clone()).collect();
        for cfg in new {
            if sinks.iter().any(|s| s.cfg == *cfg) {
                continue;
            }
            match self.start_one(cfg) {
                Ok((s, r)) => {
                    out.started.push(s.name.clone());
                    sinks.push(s);
                    routes.push(r);
                }
                Err(e) => out.failed.push((cfg.name(), e.to_string())),
            }
        }
        let rtcp = sinks
            .iter()
            .zip(&routes)
            .filter(|(s, _)| forwards_rtcp(&s.cfg))
            .map(|(_, r)| r.clone())
            .collect();
        self.sinks = sinks;
        self.tx.publish(routes, rtcp);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::record::{Intervals, RecordOptions};
    use std::sync::Arc;
    use std::time::Duration;

    fn file(dir: &std::path::Path, name: &str) -> SinkConfig {
        SinkConfig::File {
            name: Some(name.into()),
            path: dir.join(format!("{name}.ndjson")).display().to_string(),
            rotate_bytes: 1 << 20,
            rotate_age_secs: 0,
            keep_files: 1,
        }
    }

    #[test]
    fn unchanged_sinks_keep_running_removed_ones_stop_new_ones_start() {
        let dir = std::env::temp_dir().join(format!("rtcprobe-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b, c) = (file(&dir, "a"), file(&dir, "b"), file(&dir, "c"));
        let mut f = Forwarder::start(&[a.clone(), b], &dir, false, Duration::ZERO).unwrap();
        let tx = f.sender();
        let a_stats = Arc::clone(&f.sinks[0].stats);
        let mut iv = Intervals::new(RecordOptions {
            calls: true,
            interval_ns: 1,
            host: "h".into(),
            diagnostics: Default::default(),
        });
        let rec = iv.finish(&crate::export::test_record());
        tx.send(&rec);
        let r = f.reconfigure(&[a, c]);
        assert_eq!(r.kept, ["a"]);
        assert_eq!(r.stopped, ["b"]);
        assert_eq!(r.started, ["c"]);
        assert!(r.failed.is_empty());
        // The worker's old sender reaches the new list; `a` is the same sink as before.
        tx.send(&rec);
        assert!(Arc::ptr_eq(&f.sinks[0].stats, &a_stats));
        drop(tx);
        let stats = f.finish();
        let sent: Vec<(&str, u64)> = stats.iter().map(|s| (s.name.as_str(), s.sent)).collect();
        assert_eq!(sent, [("a", 2), ("c", 1)]);
        let lines = |n: &str| {
            std::fs::read_to_string(dir.join(format!("{n}.ndjson")))
                .unwrap()
                .lines()
                .count()
        };
        assert_eq!((lines("a"), lines("b"), lines("c")), (2, 1, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_rtcp_tap_follows_reloads_and_never_holds_a_stopped_sink() {
        let dir = std::env::temp_dir().join(format!("rtcprobe-reload-tap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let homer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        homer
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let hep = SinkConfig::Hep {
            name: Some("homer".into()),
            address: homer.local_addr().unwrap().to_string(),
            transport: "udp".into(),
            agent_id: 9,
            password: None,
            rtcp: true,
            delivery: crate::config::Delivery {
                batch_timeout_ms: 10,
                ..Default::default()
            },
        };
        // Started without sinks: the capture side's tap exists and offers to nobody.
        let mut f = Forwarder::start(&[], &dir, false, Duration::ZERO).unwrap();
        let tap = f.sender().rtcp_tap().expect("a tap");
        let (a, b) = (
            "10.0.0.1:5005".parse().unwrap(),
            "10.0.0.2:6005".parse().unwrap(),
        );
        let rr = [0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 7];
        tap.offer(1_000_000_000, a, b, &rr);
        // A reload adds a HEP sink with rtcp = true: the same tap now reaches it.
        assert_eq!(f.reconfigure(std::slice::from_ref(&hep)).started, ["homer"]);
        tap.offer(2_000_000_000, a, b, &rr);
        let mut buf = [0u8; 512];
        let n = homer.recv(&mut buf).expect("a HEP packet");
        let pkt = buf.get(..n).unwrap();
        assert!(pkt.starts_with(b"HEP3") && pkt.ends_with(&rr), "{pkt:?}");
        // Removing it returns (the tap's clone does not keep the sink's queue open), and the
        // tap goes back to offering to nobody.
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let t = std::thread::spawn(move || {
            let r = f.reconfigure(&[]);
            let _ = done_tx.send(r.stopped.clone());
            f
        });
        let stopped = done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("reconfigure returned");
        assert_eq!(stopped, ["homer"]);
        tap.offer(3_000_000_000, a, b, &rr);
        let f = t.join().unwrap();
        homer
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        assert!(f.finish().is_empty());
        assert!(
            homer.recv(&mut buf).is_err(),
            "nothing after the sink stopped"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_tap_sees_every_record_line_across_reloads_and_ends_with_the_forwarder() {
        let dir = std::env::temp_dir().join(format!("rtcprobe-tap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // No sink at all: a report alone still gets the records.
        let mut f = Forwarder::start(&[], &dir, true, Duration::ZERO).unwrap();
        let rx = f.tap();
        let tx = f.sender();
        let mut iv = Intervals::new(RecordOptions {
            calls: true,
            interval_ns: 1,
            host: "h".into(),
            diagnostics: Default::default(),
        });
        let rec = iv.finish(&crate::export::test_record());
        tx.send(&rec);
        let r = f.reconfigure(&[file(&dir, "a")]);
        assert_eq!(r.started, ["a"]);
        tx.send(&rec);
        drop(tx);
        let stats = f.finish();
        assert_eq!(stats.len(), 1, "the tap is not a sink");
        assert_eq!(stats[0].sent, 1);
        let lines: Vec<_> = rx.iter().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(*lines[0], serde_json::to_vec(&rec).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
