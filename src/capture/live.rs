//! Live capture from a network interface through libpcap (`pcap(3PCAP)`).
//!
//! [`LiveSource`] opens a device (or `any`), optionally in a Linux `PACKET_FANOUT` group, applies a
//! BPF filter and hands out frames with nanosecond capture timestamps, the same [`Frame`] that
//! replay produces, so live capture and replay feed the engine identically. It does not decode
//! anything and does not spawn threads: several capture threads are several sources in one fanout
//! group.
//!
//! **Why nonblocking + `poll(2)`.** A blocking `pcap_next_ex(3PCAP)` does not return on an idle
//! interface: with `TPACKET_V3` the read timeout is the kernel's block retire time, and an empty
//! block is never retired, so the call sleeps until a packet arrives (measured with the `pcap`
//! crate's blocking read). Shutdown, the watchdog and expiry must not depend on traffic, so the
//! handle is put in nonblocking mode (`pcap_setnonblock(3PCAP)`) and [`LiveSource::next`] waits on
//! the selectable descriptor (`pcap_get_selectable_fd(3PCAP)`) with `poll(2)` for at most the
//! caller's budget. `timeout_ms` then only says how long the kernel may hold a partly filled block
//! (latency versus wake-ups); 0 lets the kernel pick.
//!
//! **Why a 64 MiB buffer by default** ([`DEFAULT_BUFFER_BYTES`], `pcap_set_buffer_size(3PCAP)`):
//! measured on a veth pair, a 2 MiB ring dropped packets from about 450 kpps on, while 64 MiB had
//! no drops up to 0.95 Mpps. The ring is what absorbs the capture thread's pauses; memory is cheap
//! next to lying about loss (the probe's own drops are reported apart, see [`LiveStats`]).
//!
//! **Timestamps.** We ask for nanosecond precision (`pcap_set_tstamp_precision(3PCAP)`); Linux
//! supports it for live capture. Where the platform refuses, libpcap keeps microseconds and we read
//! the precision actually in force (`pcap_get_tstamp_precision(3PCAP)`) and scale accordingly.
//!
//! **Fanout** (`packet(7)`, `PACKET_FANOUT`): every source in a group gets a share of the
//! interface's packets chosen by flow hash (`PACKET_FANOUT_HASH`), with IP fragments reassembled
//! first (`PACKET_FANOUT_FLAG_DEFRAG`) so a fragmented datagram's pieces meet in one source. One
//! flow always lands in one source, which is what per-stream statistics need. Linux only.
//!
//! The `pcap` crate keeps libpcap's raw bindings private, so the few calls it does not wrap (or
//! wraps with a borrow that cannot be returned conditionally from a loop) are declared in `ffi`
//! against the libpcap the crate already links.

use super::{CaptureError, Frame};
use pcap::{Active, Capture, Precision};
use std::ffi::CStr;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// Kernel capture buffer the probe uses unless configured otherwise: 64 MiB (see the module doc).
pub const DEFAULT_BUFFER_BYTES: u32 = 64 << 20;

/// `LINKTYPE_LINUX_SLL2`, asked for on `any`.
const LINKTYPE_LINUX_SLL2: i32 = 276;

/// How to open a live capture. See `pcap_create(3PCAP)` and `pcap_activate(3PCAP)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOptions {
    /// Device name, or `any` for every interface (Linux "cooked" SLL frames).
    pub interface: String,
    /// BPF expression (`pcap-filter(7)`), e.g. `udp`; empty means no filter.
    pub filter: String,
    /// Bytes kept of each packet (`pcap_set_snaplen(3PCAP)`).
    pub snaplen: u32,
    /// Kernel capture buffer in bytes (`pcap_set_buffer_size(3PCAP)`); clamped to `i32::MAX`.
    pub buffer_bytes: u32,
    /// Deliver each packet as it arrives instead of per filled block
    /// (`pcap_set_immediate_mode(3PCAP)`). On Linux this selects `TPACKET_V2`, whose ring slots
    /// are each snap-length sized: 4 MiB at a 65535 snap length on `lo` holds only 32 packets
    /// (measured). Block mode (`TPACKET_V3`, the default) packs packets tightly.
    pub immediate: bool,
    /// Read timeout in ms (`pcap_set_timeout(3PCAP)`): on Linux the `TPACKET_V3` block retire
    /// time. It does not bound [`LiveSource::next`], whose own `wait` does.
    pub timeout_ms: u32,
    /// Put the interface in promiscuous mode. On Linux `CAP_NET_RAW` suffices: libpcap joins
    /// `PACKET_MR_PROMISC` on its packet socket (`packet(7)`); measured with only `CAP_NET_RAW`.
    pub promiscuous: bool,
    /// Join a Linux `PACKET_FANOUT` group, for several capture threads on one interface.
    pub fanout: Option<Fanout>,
}

impl Default for LiveOptions {
    /// `any`, filter `udp`, full snap length, [`DEFAULT_BUFFER_BYTES`], block mode with a 100 ms
    /// retire time, not promiscuous, no fanout.
    fn default() -> Self {
        LiveOptions {
            interface: "any".to_owned(),
            filter: crate::config::DEFAULT_FILTER.to_owned(),
            snaplen: 65_535,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            immediate: false,
            timeout_ms: 100,
            promiscuous: false,
            fanout: None,
        }
    }
}

/// A Linux `PACKET_FANOUT` group, joined in mode `PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG`.
/// Group ids are per network namespace; every member must use the same mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fanout {
    pub group: u16,
}

/// What [`LiveSource::next`] found.
#[derive(Debug, Clone, Copy)]
pub enum Next<'a> {
    /// A frame, borrowed from the capture ring until the next call on the source.
    Frame(Frame<'a>),
    /// Nothing arrived within the wait budget.
    Idle,
}

/// Capture counters, cumulative since the source was opened (`pcap_stats(3PCAP)`).
///
/// On Linux `received` counts every packet that passed the kernel filter, including the ones the
/// ring had no room for, and, on `lo`, the outgoing copy libpcap discards; `dropped` counts packets
/// the ring had no room for (the probe's own loss); `if_dropped` the interface's drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// An open live capture in nonblocking mode.
pub struct LiveSource {
    cap: Capture<Active>,
    interface: String,
    linktype: i32,
    fd: c_int,
    /// Whether `tv_usec` holds nanoseconds (the precision libpcap actually granted).
    nano: bool,
    packets: u64,
    stats: Widened,
}

impl LiveSource {
    /// Open and activate `opts.interface`, apply the filter, switch to nonblocking mode and join
    /// the fanout group. Every failure (no permission, no such device, bad filter, fanout refused)
    /// is [`CaptureError::Open`] naming the interface, with libpcap's (or the kernel's) message.
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let open_err = |reason: String| CaptureError::Open {
            path: opts.interface.clone(),
            reason,
        };
        #[cfg(not(target_os = "linux"))]
        if opts.fanout.is_some() {
            return Err(open_err(
                "fanout (PACKET_FANOUT) is Linux-only; remove it from the configuration".into(),
            ));
        }
        let cap = Capture::from_device(opts.interface.as_str())
            .map_err(|e| open_err(reason(e)))?
            .snaplen(clamp_i32(opts.snaplen))
            .buffer_size(clamp_i32(opts.buffer_bytes))
            .immediate_mode(opts.immediate)
            .timeout(clamp_i32(opts.timeout_ms))
            .promisc(opts.promiscuous)
            .precision(Precision::Nano);
        let mut cap = cap.open().map_err(|e| open_err(reason(e)))?;
        // On `any`, Linux cooked v2 carries each frame's interface index: a forwarded packet is
        // seen arriving on one interface and leaving on another, two observation points
        // (crate::engine::obs). libpcap ≥ 1.10 offers it; older ones keep v1 and its direction.
        // Before the filter: BPF is compiled for the link type.
        if opts.interface == "any" {
            if let Err(e) = cap.set_datalink(pcap::Linktype(LINKTYPE_LINUX_SLL2)) {
                tracing::info!(
                    interface = %opts.interface,
                    "Linux cooked v2 headers refused ({e}): observation points by direction only"
                );
            }
        }
        if !opts.filter.is_empty() {
            cap.filter(&opts.filter, true)
                .map_err(|e| open_err(filter_reason(&opts.filter, e)))?;
        }
        let cap = cap.setnonblock().map_err(|e| open_err(reason(e)))?;
        let p = cap.as_ptr().cast::<ffi::PcapT>();
        // SAFETY: `p` is the live, activated handle owned by `cap`.
        let fd = unsafe { ffi::pcap_get_selectable_fd(p) };
        if fd < 0 {
            return Err(open_err(
                "libpcap offers no selectable descriptor for this device".into(),
            ));
        }
        // SAFETY: as above.
        let nano = unsafe { ffi::pcap_get_tstamp_precision(p) } == ffi::PCAP_TSTAMP_PRECISION_NANO;
        if !nano {
            tracing::info!(
                interface = %opts.interface,
                "nanosecond timestamps not supported, using microseconds"
            );
        }
        #[cfg(target_os = "linux")]
        if let Some(f) = opts.fanout {
            join_fanout(fd, f).map_err(open_err)?;
        }
        let linktype = cap.get_datalink().0;
        Ok(LiveSource {
            cap,
            interface: opts.interface.clone(),
            linktype,
            fd,
            nano,
            packets: 0,
            stats: Widened::default(),
        })
    }

    /// The pcap LINKTYPE_ of the frames (Ethernet on most devices and `lo`, SLL on `any`).
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The device name this source was opened on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Next frame, or Idle after waiting at most `wait` with nothing captured. Never blocks longer
    /// than `wait` (+ small slack) even on an idle interface, so shutdown and periodic work do not
    /// depend on traffic. `Duration::ZERO` only takes what is already there.
    pub fn next(&mut self, wait: Duration) -> Result<Next<'_>, CaptureError> {
        let start = Instant::now();
        loop {
            if let Some((hdr, data)) = self.read_raw()? {
                return Ok(Next::Frame(self.frame(hdr, data)));
            }
            let remaining = wait.saturating_sub(start.elapsed());
            if remaining.is_zero() || !self.wait_readable(remaining)? {
                return Ok(Next::Idle);
            }
        }
    }

    /// Capture counters since open, widened from libpcap's 32-bit counters. Call it at least once
    /// per 2³² packets (over an hour at 1 Mpps) so a wrap is not missed.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self.cap.stats().map_err(|e| CaptureError::Read {
            path: self.interface.clone(),
            packet: self.packets,
            reason: format!("pcap_stats: {}", reason(e)),
        })?;
        Ok(self.stats.update(s.received, s.dropped, s.if_dropped))
    }

    /// Replace the BPF filter on the open handle (used by SIGHUP reload). An empty string matches
    /// everything. On error the previous filter stays in force. libpcap filters packets already in
    /// the ring in user space, so no frame that fails the new filter is delivered afterwards.
    pub fn set_filter(&mut self, filter: &str) -> Result<(), CaptureError> {
        self.cap
            .filter(filter, true)
            .map_err(|e| CaptureError::Open {
                path: self.interface.clone(),
                reason: filter_reason(filter, e),
            })
    }

    /// One nonblocking `pcap_next_ex`: the header and data pointers, or `None` when the ring is
    /// empty. Raw pointers, so the caller's loop holds no borrow across iterations.
    fn read_raw(&mut self) -> Result<Option<(*const ffi::PktHdr, *const u8)>, CaptureError> {
        let mut hdr: *mut ffi::PktHdr = std::ptr::null_mut();
        let mut data: *const u8 = std::ptr::null();
        let p = self.cap.as_ptr().cast::<ffi::PcapT>();
        // SAFETY: `p` is our live handle; libpcap writes two pointers it owns.
        let rc = unsafe { ffi::pcap_next_ex(p, &mut hdr, &mut data) };
        match rc {
            1 if !hdr.is_null() && !data.is_null() => {
                self.packets += 1;
                Ok(Some((hdr.cast_const(), data)))
            }
            0 | ffi::PCAP_ERROR_BREAK => Ok(None),
            _ => Err(CaptureError::Read {
                path: self.interface.clone(),
                packet: self.packets + 1,
                reason: self.last_error(rc),
            }),
        }
    }

    /// The frame behind pointers `read_raw` just returned, borrowed for as long as `self` is.
    fn frame(&self, hdr: *const ffi::PktHdr, data: *const u8) -> Frame<'_> {
        // SAFETY: libpcap keeps the header and `caplen` bytes of data valid until the next read on
        // this handle, and the returned frame borrows `self`, so no read can happen while it lives.
        let (h, bytes) = unsafe {
            let h = &*hdr;
            let len = usize::try_from(h.caplen).unwrap_or(0);
            (h, std::slice::from_raw_parts(data, len))
        };
        let scale = if self.nano { 1 } else { 1_000 };
        // time_t and suseconds_t are i64 here; the conversions keep 32-bit targets building.
        #[allow(clippy::useless_conversion)]
        let ts_ns = i64::from(h.ts.tv_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(h.ts.tv_usec).saturating_mul(scale));
        Frame {
            ts_ns,
            orig_len: h.len,
            data: bytes,
            interface: 0,
            linktype: self.linktype,
        }
    }

    /// `poll(2)` the selectable descriptor for up to `budget`: `true` when it may be readable (or
    /// the wait was interrupted), `false` when the budget ran out.
    fn wait_readable(&self, budget: Duration) -> Result<bool, CaptureError> {
        // Round up so a sub-millisecond remainder still waits instead of spinning.
        let ms = budget.as_micros().div_ceil(1_000);
        let timeout = c_int::try_from(ms).unwrap_or(c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(true);
            }
            return Err(self.poll_error(err.to_string()));
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(self.poll_error("capture descriptor is no longer valid".into()));
        }
        // POLLERR/POLLHUP count as readable: the next read reports the error (e.g. the interface
        // went down) in libpcap's words.
        Ok(rc > 0)
    }

    fn poll_error(&self, what: String) -> CaptureError {
        CaptureError::Read {
            path: self.interface.clone(),
            packet: self.packets + 1,
            reason: format!("poll: {what}"),
        }
    }

    /// libpcap's message for the last failure on this handle (`pcap_geterr(3PCAP)`).
    fn last_error(&self, rc: c_int) -> String {
        let p = self.cap.as_ptr().cast::<ffi::PcapT>();
        // SAFETY: pcap_geterr returns a NUL-terminated buffer owned by the live handle.
        let msg = unsafe {
            let s = ffi::pcap_geterr(p);
            if s.is_null() {
                String::new()
            } else {
                CStr::from_ptr(s).to_string_lossy().into_owned()
            }
        };
        if msg.is_empty() {
            format!("pcap_next_ex returned {rc}")
        } else {
            msg
        }
    }
}

/// libpcap's own message, without the `pcap` crate's "libpcap error: " prefix.
fn reason(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(msg) if !msg.is_empty() => msg,
        other => other.to_string(),
    }
}

fn filter_reason(filter: &str, e: pcap::Error) -> String {
    format!("filter {filter:?}: {}", reason(e))
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Join `group` in `PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG` mode (`packet(7)`).
#[cfg(target_os = "linux")]
fn join_fanout(fd: c_int, f: Fanout) -> Result<(), String> {
    // linux/if_packet.h; the libc crate does not export them on every version.
    const PACKET_FANOUT: c_int = 18;
    const PACKET_FANOUT_HASH: u32 = 0;
    const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
    // The kernel reads an int: group id in the low 16 bits, mode and flags in the high 16.
    let arg: u32 = u32::from(f.group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    // SAFETY: `fd` is the capture's packet socket; we pass a 4-byte int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_FANOUT,
            std::ptr::addr_of!(arg).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        Err(format!(
            "joining PACKET_FANOUT group {}: {err} (is the group used with another mode?)",
            f.group
        ))
    }
}

/// libpcap's 32-bit counters (which wrap) widened to totals since open.
#[derive(Debug, Default)]
struct Widened {
    last: [u32; 3],
    total: LiveStats,
}

impl Widened {
    fn update(&mut self, received: u32, dropped: u32, if_dropped: u32) -> LiveStats {
        let [r, d, i] = self.last;
        self.total.received += u64::from(received.wrapping_sub(r));
        self.total.dropped += u64::from(dropped.wrapping_sub(d));
        self.total.if_dropped += u64::from(if_dropped.wrapping_sub(i));
        self.last = [received, dropped, if_dropped];
        self.total
    }
}

/// The libpcap calls the `pcap` crate does not expose (its `raw` module is private). The crate
/// already links libpcap, so these resolve against the same library. See `pcap.h`.
mod ffi {
    use std::os::raw::{c_char, c_int};

    /// `pcap_t`, opaque.
    pub enum PcapT {}

    /// `struct pcap_pkthdr`.
    #[repr(C)]
    pub struct PktHdr {
        pub ts: libc::timeval,
        pub caplen: u32,
        pub len: u32,
    }

    pub const PCAP_TSTAMP_PRECISION_NANO: c_int = 1;
    pub const PCAP_ERROR_BREAK: c_int = -2;

    extern "C" {
        pub fn pcap_next_ex(p: *mut PcapT, hdr: *mut *mut PktHdr, data: *mut *const u8) -> c_int;
        pub fn pcap_geterr(p: *mut PcapT) -> *mut c_char;
        pub fn pcap_get_selectable_fd(p: *mut PcapT) -> c_int;
        pub fn pcap_get_tstamp_precision(p: *mut PcapT) -> c_int;
    }
}

#[cfg(test)]
mod tests;
