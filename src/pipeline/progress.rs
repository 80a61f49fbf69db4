//! Progress of a paced replay (`replay --realtime`, `--linger`) on stderr, so that a replay of
//! an hour-long capture is not an hour of silence.
//!
//! A reader thread, like the exporter: it loads the capture thread's published snapshot
//! ([`Board`]) and never touches the pipeline. On a terminal it draws an `indicatif` bar
//! (frames of the file, capture time, drops); otherwise (a pipe, a log file, journald) it
//! prints one plain line every `every`, and a last line when the replay ends. How many frames
//! the file holds comes from a quick read of the file beforehand ([`plan`]).

use super::snapshot::Board;
use crate::capture::{FileSource, PacketSource};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the file holds, read before the replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub frames: u64,
    pub first_ns: i64,
    pub last_ns: i64,
}

/// Count the frames of `path` and their time span; `None` when it cannot be opened (the
/// replay itself then reports why). Stops at the first damaged frame, as the replay does.
pub fn plan(path: &Path) -> Option<Plan> {
    let mut src = FileSource::open(path).ok()?;
    let mut p = Plan {
        frames: 0,
        first_ns: 0,
        last_ns: i64::MIN,
    };
    while let Ok(Some(f)) = src.next_frame() {
        if p.frames == 0 {
            p.first_ns = f.ts_ns;
        }
        p.frames += 1;
        p.last_ns = p.last_ns.max(f.ts_ns);
    }
    (p.frames > 0).then_some(p)
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// An `indicatif` bar, redrawn a few times a second (stderr is a terminal).
    Bar,
    /// A plain line every so often (stderr is a pipe or a file).
    Lines { every: Duration },
}

/// The running progress reporter; [`Progress::finish`] stops it and prints the last state.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start reporting on the replay of `file` whose pipeline publishes to `board`; `linger`
    /// is the wait after the last frame (shown as a countdown).
    pub fn start(
        board: Arc<Board>,
        file: String,
        plan: Option<Plan>,
        linger: Duration,
        style: Style,
    ) -> std::io::Result<Progress> {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("rtcprobe-progress".into())
            .spawn(move || {
                let mut view = View::new(file, plan, linger);
                match style {
                    Style::Bar => bar(&board, &mut view, &flag),
                    Style::Lines { every } => lines(&board, &mut view, &flag, every),
                }
            })?;
        Ok(Progress {
            done,
            thread: Some(thread),
        })
    }

    /// Stop the reporter; it prints its last line (or leaves the finished bar) first.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the reporter knows and how it words it.
struct View {
    file: String,
    plan: Option<Plan>,
    linger: Duration,
    started: Instant,
    /// When every frame of the plan had been read (the linger starts).
    fed_at: Option<Instant>,
}

/// One reading of the board.
struct Reading {
    frames: u64,
    capture_secs: f64,
    dropped: u64,
}

impl View {
    fn new(file: String, plan: Option<Plan>, linger: Duration) -> View {
        View {
            file,
            plan,
            linger,
            started: Instant::now(),
            fed_at: None,
        }
    }

    fn read(&mut self, board: &Board) -> Reading {
        let snap = board.captures.first().map(|c| c.load_full());
        let (frames, first, last, dropped) = snap.map_or((0, 0, 0, 0), |s| {
            (s.frames, s.first_ns, s.last_ns, s.pipeline_dropped)
        });
        if self.fed_at.is_none() && self.plan.is_some_and(|p| frames >= p.frames) {
            self.fed_at = Some(Instant::now());
        }
        Reading {
            frames,
            capture_secs: if frames > 0 {
                last.saturating_sub(first) as f64 / 1e9
            } else {
                0.0
            },
            dropped,
        }
    }

    /// Capture time of the whole file, seconds.
    fn total_secs(&self) -> Option<f64> {
        self.plan
            .map(|p| p.last_ns.saturating_sub(p.first_ns) as f64 / 1e9)
    }

    /// `12.0 of 59.9 s capture time, 0 dropped` (or the linger countdown once fed).
    fn detail(&self, r: &Reading) -> String {
        if let Some(at) = self.fed_at {
            let left = self.linger.saturating_sub(at.elapsed()).as_secs();
            if !self.linger.is_zero() {
                return format!(
                    "all frames replayed, {} dropped; lingering, {left} s left",
                    r.dropped
                );
            }
        }
        let of = self
            .total_secs()
            .map_or(String::new(), |t| format!(" of {t:.1}"));
        format!(
            "{:.1}{of} s capture time, {} dropped",
            r.capture_secs, r.dropped
        )
    }

    fn line(&self, r: &Reading) -> String {
        let frames = match self.plan {
            Some(p) if p.frames > 0 => format!(
                "{}/{} frames ({} %)",
                r.frames,
                p.frames,
                r.frames.min(p.frames) * 100 / p.frames
            ),
            _ => format!("{} frames", r.frames),
        };
        format!(
            "rtcprobe: replaying {}: {frames}, {} ({:.0} s elapsed)",
            self.file,
            self.detail(r),
            self.started.elapsed().as_secs_f64()
        )
    }
}

fn lines(board: &Board, view: &mut View, done: &AtomicBool, every: Duration) {
    let mut next = Instant::now() + every;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() >= next {
            let r = view.read(board);
            eprintln!("{}", view.line(&r));
            next += every;
        }
    }
    let r = view.read(board);
    eprintln!("{} [done]", view.line(&r));
}

fn bar(board: &Board, view: &mut View, done: &AtomicBool) {
    use indicatif::{ProgressBar, ProgressStyle};
    let pb = match view.plan {
        Some(p) => ProgressBar::new(p.frames),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} frames  {msg}",
    ) {
        pb.set_style(style);
    }
    while !done.load(Ordering::Relaxed) {
        let r = view.read(board);
        pb.set_position(r.frames);
        pb.set_message(view.detail(&r));
        pb.tick();
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = view.read(board);
    pb.set_position(r.frames);
    pb.set_message(view.detail(&r));
    pb.finish();
}
