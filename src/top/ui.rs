//! Drawing `rtcprobe top` with ratatui, and giving the terminal back.
//!
//! [`TerminalGuard`] puts the terminal in raw mode on the alternate screen and restores it when
//! dropped; [`install_panic_hook`] restores it before a panic message is printed, so a crash
//! never leaves the shell without echo.

use super::model::{Row, SortKey, View};
use crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};
use ratatui::Frame;

/// Raw mode and the alternate screen while alive.
pub struct TerminalGuard;

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leave raw mode and the alternate screen; harmless when not in them.
pub fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restore the terminal before the default hook prints a panic.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// What the screen shows besides the streams.
pub struct Status<'a> {
    pub url: &'a str,
    pub interval_secs: f64,
    pub sort: SortKey,
    /// Seconds since the last good poll, if any.
    pub age_secs: Option<f64>,
    pub error: Option<&'a str>,
    pub scroll: usize,
}

const COLUMNS: [(&str, Option<SortKey>, u16); 11] = [
    ("SOURCE → DESTINATION", None, 47),
    ("SSRC", None, 10),
    ("PT", None, 3),
    ("PKT/S", Some(SortKey::Packets), 8),
    ("KBIT/S", None, 7),
    ("PACKETS", None, 9),
    ("LOSS%NOW", Some(SortKey::Loss), 9),
    ("LOSS%", None, 6),
    ("JITTER ms", Some(SortKey::Jitter), 10),
    ("RTT ms", Some(SortKey::Rtt), 8),
    ("MOS", Some(SortKey::Mos), 6),
];

/// Draw one frame: a two-line header, the streams (rows already sorted), the key legend.
pub fn draw(f: &mut Frame, v: &View, rows: &[Row], s: &Status) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let rate = |r: Option<f64>| r.map_or("–".to_string(), |r| format!("{r:.0}"));
    let line1 = Line::from(vec![
        Span::styled("rtcprobe top ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "{}  every {} s · {} streams · capture {} frames/s · drops {}/s ({} total)",
            s.url,
            s.interval_secs,
            rows.len(),
            rate(v.frames_per_sec),
            rate(v.drops_per_sec),
            v.health.dropped
        )),
    ]);
    let line2 = match (s.error, s.age_secs) {
        (Some(e), _) => Line::styled(format!("poll failed: {e}"), Style::new().fg(Color::Red)),
        (None, Some(a)) => Line::raw(format!(
            "updated {a:.1} s ago · sorted by {} (worst first)",
            s.sort.name()
        )),
        (None, None) => Line::raw("connecting…"),
    };
    f.render_widget(Paragraph::new(vec![line1, line2]), head);

    let header = TableRow::new(COLUMNS.iter().map(|(name, key, _)| {
        let sorted = *key == Some(s.sort);
        let text = if sorted {
            format!("{name}▼")
        } else {
            (*name).to_string()
        };
        let style = Style::new().add_modifier(Modifier::BOLD);
        Cell::from(text).style(if sorted {
            style.fg(Color::Yellow)
        } else {
            style
        })
    }))
    .style(Style::new().add_modifier(Modifier::REVERSED));
    let num = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
    // Only the rows that fit: a daemon may have 100,000 streams.
    let visible = usize::from(body.height.saturating_sub(1));
    let lines = rows.iter().skip(s.scroll).take(visible).map(|r| {
        let bad = r.loss_now_pct.or(r.loss_pct).is_some_and(|l| l >= 3.0)
            || r.jitter_ms.is_some_and(|j| j >= 50.0)
            || r.mos.is_some_and(|m| m < 3.1);
        TableRow::new(vec![
            Cell::from(format!("{} → {}", r.src, r.dst)),
            Cell::from(format!("{:08x}", r.ssrc)),
            Cell::from(r.payload_type.map_or("–".into(), |p| p.to_string())),
            Cell::from(num(r.pps, 0)),
            Cell::from(num(r.kbps, 1)),
            Cell::from(r.packets.to_string()),
            Cell::from(num(r.loss_now_pct, 2)),
            Cell::from(num(r.loss_pct, 2)),
            Cell::from(num(r.jitter_ms, 1)),
            Cell::from(num(r.rtt_ms, 0)),
            Cell::from(num(r.mos, 2)),
        ])
        .style(if bad {
            Style::new().fg(Color::Red)
        } else {
            Style::new()
        })
    });
    let widths = COLUMNS.iter().map(|(_, _, w)| Constraint::Length(*w));
    f.render_widget(Table::new(lines, widths).header(header), body);
    let legend = Line::from(vec![
        Span::styled(" sort: ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw("l=loss j=jitter r=rtt m=mos p=packets/s · ↑↓ PgUp PgDn scroll · q quit"),
    ]);
    f.render_widget(Paragraph::new(legend), foot);
}
