//! `rtcprobe top`: a live terminal view of a running daemon.
//!
//! A poller thread GETs `/streams` and `/metrics` every `--interval` ([`client`]) and hands
//! each result to the screen thread over a one-slot channel; the screen thread turns two
//! successive polls into current rates ([`model`]), sorts worst first by the key the user
//! pressed, and draws ([`ui`]). Keys are read between polls, so the screen answers at once
//! even when the daemon is slow. What it does not do: change anything in the daemon; show
//! calls or hops (the endpoint has none yet: `/calls` and `/hops` will get their own panes).

pub mod client;
pub mod model;
pub mod ui;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use model::{Health, Previous, SortKey, StreamJson, View};
use std::time::{Duration, Instant};

/// `rtcprobe top`'s settings (the command line, src/main.rs).
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: client::Endpoint,
    pub interval: Duration,
    pub sort: SortKey,
}

/// One poll's result.
type Poll = Result<(Vec<StreamJson>, Health), String>;

/// Run until the user quits (q, Esc, Ctrl-C). The terminal is restored on every way out.
pub fn run(opts: &Options) -> Result<(), client::FetchError> {
    let c = client::Client::new(&opts.endpoint)?;
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(client::FetchError::Setup(
            "top draws on a terminal, and stdout is not one (for scripts: GET /streams)".into(),
        ));
    }
    let (tx, rx) = bounded::<(Instant, Poll)>(1);
    let interval = opts.interval;
    std::thread::Builder::new()
        .name("rtcprobe-top-poll".into())
        .spawn(move || loop {
            let started = Instant::now();
            if tx.send((started, poll(&c))).is_err() {
                return; // the screen is gone
            }
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        })
        .map_err(|e| client::FetchError::Setup(format!("starting the poller: {e}")))?;
    ui::install_panic_hook();
    let _guard =
        ui::TerminalGuard::enter().map_err(|e| client::FetchError::Setup(e.to_string()))?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut term =
        ratatui::Terminal::new(backend).map_err(|e| client::FetchError::Setup(e.to_string()))?;
    screen(&mut term, &rx, opts).map_err(|e| client::FetchError::Setup(e.to_string()))
}

fn poll(c: &client::Client) -> Poll {
    let streams = c.get("/streams").map_err(|e| e.to_string())?;
    let streams: Vec<StreamJson> = serde_json::from_str(&streams)
        .map_err(|e| format!("/streams: not the JSON expected: {e}"))?;
    let metrics = c.get("/metrics").map_err(|e| e.to_string())?;
    Ok((streams, model::health(&metrics)))
}

fn screen<B: ratatui::backend::Backend>(
    term: &mut ratatui::Terminal<B>,
    rx: &Receiver<(Instant, Poll)>,
    opts: &Options,
) -> std::io::Result<()> {
    let mut prev = Previous::default();
    let mut view = View::default();
    let mut last_ok: Option<Instant> = None;
    let mut error: Option<String> = None;
    let mut sort = opts.sort;
    let mut scroll = 0usize;
    let mut rows = Vec::new();
    let mut dirty = true;
    loop {
        if dirty {
            rows.clone_from(&view.rows);
            model::sort(&mut rows, sort);
            dirty = false;
        }
        scroll = scroll.min(rows.len().saturating_sub(1));
        let status = ui::Status {
            url: &opts.endpoint.url,
            interval_secs: opts.interval.as_secs_f64(),
            sort,
            age_secs: last_ok.map(|t| t.elapsed().as_secs_f64()),
            error: error.as_deref(),
            scroll,
        };
        term.draw(|f| ui::draw(f, &view, &rows, &status))?;
        // Keys first (without waiting), then a poll result for up to 100 ms.
        while event::poll(Duration::ZERO)? {
            let Event::Key(k) = event::read()? else {
                continue;
            };
            if k.kind != KeyEventKind::Press {
                continue;
            }
            let page = usize::from(term.size()?.height.saturating_sub(4)).max(1);
            match k.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
                KeyCode::Char(c) => {
                    if let Some(s) = SortKey::from_key(c) {
                        sort = s;
                        scroll = 0;
                        dirty = true;
                    }
                }
                KeyCode::Down => scroll = scroll.saturating_add(1),
                KeyCode::Up => scroll = scroll.saturating_sub(1),
                KeyCode::PageDown => scroll = scroll.saturating_add(page),
                KeyCode::PageUp => scroll = scroll.saturating_sub(page),
                KeyCode::Home => scroll = 0,
                _ => {}
            }
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((at, Ok((streams, health)))) => {
                let secs = last_ok.map_or(0.0, |t| at.saturating_duration_since(t).as_secs_f64());
                view = model::view(streams, health, secs, &mut prev);
                dirty = true;
                last_ok = Some(at);
                error = None;
            }
            Ok((_, Err(e))) => error = Some(e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}
