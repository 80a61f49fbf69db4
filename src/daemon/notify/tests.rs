//! Tests for [`super::Notifier`]: the exact datagrams, on path and abstract sockets, and the
//! watchdog variables. No environment variable is touched (tests run in parallel).

use super::*;
use std::path::PathBuf;

/// A private directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("rtcprobe-notify-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn listener(path: &Path) -> UnixDatagram {
    let s = UnixDatagram::bind(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

#[test]
fn sends_the_exact_datagrams_to_a_path() {
    let dir = TempDir::new("path");
    let path = dir.0.join("notify");
    let rx = listener(&path);
    let n = Notifier::to_path(&path).unwrap();
    n.ready("capturing on eth0");
    assert_eq!(recv(&rx), "READY=1\nSTATUS=capturing on eth0");
    n.status("2 streams\nline two");
    assert_eq!(recv(&rx), "STATUS=2 streams line two");
    n.watchdog();
    assert_eq!(recv(&rx), "WATCHDOG=1");
    n.stopping();
    assert_eq!(recv(&rx), "STOPPING=1");

    let before = monotonic_usec();
    n.reloading();
    let msg = recv(&rx);
    let usec: u64 = msg
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(usec >= before && usec <= monotonic_usec(), "{msg}");
}

#[test]
fn notify_socket_value_forms() {
    let dir = TempDir::new("value");
    let path = dir.0.join("n");
    let rx = listener(&path);
    Notifier::from_value(path.to_str().unwrap())
        .unwrap()
        .watchdog();
    assert_eq!(recv(&rx), "WATCHDOG=1");
    assert!(Notifier::from_value("relative/path").is_err());
    assert!(Notifier::from_value("vsock:2:1234").is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn sends_to_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("rtcprobe-test-notify-{}", std::process::id());
    let rx =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = Notifier::from_value(&format!("@{name}")).unwrap();
    n.ready("ok");
    assert_eq!(recv(&rx), "READY=1\nSTATUS=ok");
}

#[test]
fn a_missing_manager_is_logged_once_and_never_panics() {
    let dir = TempDir::new("gone");
    let n = Notifier::to_path(&dir.0.join("nobody-listens")).unwrap();
    assert!(!n.warned.load(Ordering::Relaxed));
    n.ready("x");
    assert!(n.warned.load(Ordering::Relaxed));
    n.watchdog();
    n.stopping();
}

#[test]
fn watchdog_variables() {
    let d = |us| Some(Duration::from_micros(us));
    assert_eq!(parse_watchdog(Some("30000000"), None, 42), d(30_000_000));
    assert_eq!(
        parse_watchdog(Some("30000000"), Some("42"), 42),
        d(30_000_000)
    );
    // Meant for another process (e.g. inherited from our parent).
    assert_eq!(parse_watchdog(Some("30000000"), Some("41"), 42), None);
    assert_eq!(parse_watchdog(Some("30000000"), Some("x"), 42), None);
    assert_eq!(parse_watchdog(None, Some("42"), 42), None);
    assert_eq!(parse_watchdog(Some("0"), None, 42), None);
    assert_eq!(parse_watchdog(Some("-5"), None, 42), None);
    assert_eq!(parse_watchdog(Some("soon"), None, 42), None);
}
