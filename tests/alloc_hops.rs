//! Steady-state hop matching allocates nothing: a counting global allocator watches replay's
//! whole path (decode, engine, hop matcher) over the 1→3 fan-out scenario with loss, jitter
//! and reordering inside the middlebox, once every stream exists and every hop is paired.

use rtcprobe::config::Resolved;
use rtcprobe::replay::Run;
use rtcprobe::wire::LinkType;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set only on the thread under test: the test harness's own threads allocate too.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_hop_matching_does_not_allocate() {
    let (cap, truth) = rtcprobe::synth::hop::named("fanout").unwrap().build();
    let mut run = Run::new(Resolved {
        hops: true,
        ..Resolved::default()
    });
    // Warm-up: the first third (every stream created, every hop paired); then count until the
    // receivers' final reports (RTCP creates per-stream report state: not steady state).
    let rtp = cap
        .frames
        .iter()
        .filter(|f| matches!(f.kind, rtcprobe::synth::FrameKind::Rtp { .. }))
        .count();
    let warm = rtp / 3;
    ALLOCS.store(0, Ordering::Relaxed);
    let mut counted = 0;
    for (n, f) in cap.frames.iter().enumerate() {
        let on = n >= warm && matches!(f.kind, rtcprobe::synth::FrameKind::Rtp { .. });
        COUNTING.with(|c| c.set(on));
        run.frame(LinkType::Ethernet, f.ts_ns, &f.bytes);
        COUNTING.with(|c| c.set(false));
        counted += usize::from(on);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    // Control: the counter sees an allocation made on this thread.
    COUNTING.with(|c| c.set(true));
    let probe = std::hint::black_box(Box::new(7u64));
    COUNTING.with(|c| c.set(false));
    drop(probe);
    assert_eq!(
        ALLOCS.load(Ordering::Relaxed),
        allocs + 1,
        "the counter works"
    );
    let report = run.finish("alloc".into(), 1, None);
    assert_eq!(report.hops.len(), truth.hops.len(), "every hop paired");
    assert!(counted > 3000, "{counted}");
    assert_eq!(allocs, 0, "allocations over {counted} steady-state packets");
}
