//! systemd service notifications (`sd_notify(3)`) without libsystemd or a crate.
//!
//! The protocol is one datagram of newline-separated `KEY=VALUE` assignments sent to the
//! `AF_UNIX` socket named by `$NOTIFY_SOCKET`: a path, or an abstract-namespace name written with a
//! leading `@` (`sd_notify(3)`, "Notes"; systemd's `NOTIFY_SOCKET` documentation). We send
//! `READY=1` once the capture is open, `RELOADING=1` with `MONOTONIC_USEC` while applying SIGHUP
//! (the `Type=notify-reload` handshake of systemd ≥ 253; older versions ignore it), `STOPPING=1`
//! on shutdown, `STATUS=` lines for `systemctl status`, and `WATCHDOG=1` keep-alives at half of
//! `$WATCHDOG_USEC` (`sd_watchdog_enabled(3)`).
//!
//! Notification is best effort: a failed send is logged once with `tracing::warn!` and never
//! stops the probe. We do not unset `$NOTIFY_SOCKET` (that would mutate the environment of a
//! multi-threaded process) because we start no children. `vsock:` addresses (systemd ≥ 254, for
//! VMs) are not supported and are reported as such.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    /// Set after the first failed send, so a missing manager is logged once, not per ping.
    warned: AtomicBool,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` asks for, or `None` when it is unset (not run by systemd, or
    /// not `Type=notify`). An unusable value is logged and also gives `None`.
    pub fn from_env() -> Option<Notifier> {
        let value = std::env::var_os("NOTIFY_SOCKET")?;
        let parsed = match value.to_str() {
            Some(v) => Self::from_value(v),
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "not UTF-8")),
        };
        match parsed {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(notify_socket = ?value, error = %e, "ignoring NOTIFY_SOCKET");
                None
            }
        }
    }

    /// A notifier sending to the socket at `path`.
    pub fn to_path(path: &Path) -> io::Result<Notifier> {
        Self::to_addr(SocketAddr::from_pathname(path)?)
    }

    /// A notifier sending to the abstract socket `name` (without the leading `@` or NUL).
    #[cfg(target_os = "linux")]
    pub fn to_abstract(name: &[u8]) -> io::Result<Notifier> {
        use std::os::linux::net::SocketAddrExt;
        Self::to_addr(SocketAddr::from_abstract_name(name)?)
    }

    /// `$NOTIFY_SOCKET`'s syntax: `/path` or `@abstract`.
    fn from_value(v: &str) -> io::Result<Notifier> {
        if let Some(name) = v.strip_prefix('@') {
            #[cfg(target_os = "linux")]
            return Self::to_abstract(name.as_bytes());
            #[cfg(not(target_os = "linux"))]
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("abstract socket @{name} is Linux-only"),
            ));
        }
        if v.starts_with('/') {
            return Self::to_path(Path::new(v));
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "only absolute paths and @abstract names are supported",
        ))
    }

    fn to_addr(addr: SocketAddr) -> io::Result<Notifier> {
        Ok(Notifier {
            sock: UnixDatagram::unbound()?,
            addr,
            warned: AtomicBool::new(false),
        })
    }

    /// Startup finished: `READY=1` and a status line.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// Configuration reload started (SIGHUP); send [`Notifier::ready`] when it is done.
    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    /// Shutdown started.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// A free-form status line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// Watchdog keep-alive; send at half of [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// The watchdog interval systemd expects pings within (`$WATCHDOG_USEC`), when it is meant for
    /// this process (`$WATCHDOG_PID` unset or our pid). Callers ping at half of it.
    pub fn watchdog_interval() -> Option<Duration> {
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        parse_watchdog(usec.as_deref(), pid.as_deref(), std::process::id())
    }

    fn send(&self, msg: &str) {
        if let Err(e) = self.sock.send_to_addr(msg.as_bytes(), &self.addr) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    error = %e,
                    "cannot notify the service manager (further failures are not logged)"
                );
            }
        }
    }
}

/// `$WATCHDOG_USEC` / `$WATCHDOG_PID` as `sd_watchdog_enabled(3)` reads them: `None` when the
/// interval is missing, unparsable or zero, or the pid is set and is not `my_pid`.
pub fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, my_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != my_pid {
            return None;
        }
    }
    let usec = usec?.trim().parse::<u64>().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// A value must not contain a newline, which would start a new assignment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// `CLOCK_MONOTONIC` in µs, the clock systemd compares `MONOTONIC_USEC` against.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill; CLOCK_MONOTONIC always exists on Linux.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}

#[cfg(test)]
mod tests;
