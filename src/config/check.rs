//! `rtcprobe validate`: every problem of a configuration file at once.
//!
//! The TOML parser and serde stop at the first error, which makes fixing a file a loop of
//! edit-and-retry. Here each error's line is set aside (blanked, so line numbers stay true) and
//! the file parsed again, up to [`MAX_PARSE_ERRORS`] times: syntax errors, unknown keys and
//! values of the wrong type are all listed. When what is left parses, the semantic checks of
//! [`Config::settings`] run on it too (their results may include consequences of the lines set
//! aside; the listed parse errors come first). Interfaces that do not exist on this host are
//! warnings, not errors: the file may be meant for another machine, and an interface may
//! appear later (a VLAN, a bridge).

use super::{Config, Settings};
use std::path::Path;

/// Parse errors listed at most; past it the rest of the file is not parsed.
pub const MAX_PARSE_ERRORS: usize = 32;

/// What `validate` found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Every problem, one line each; empty when the file is valid.
    pub problems: Vec<String>,
    /// Things that do not make the file invalid but probably are mistakes.
    pub warnings: Vec<String>,
    /// The settings, when there is no problem.
    pub settings: Option<Settings>,
}

/// Read and check `path`; every problem found is in the result.
pub fn check_file(path: &Path) -> Checked {
    match std::fs::read_to_string(path) {
        Ok(text) => check_text(&text),
        Err(e) => Checked {
            problems: vec![format!("cannot read it: {e}")],
            ..Checked::default()
        },
    }
}

/// [`check_file`] on the file's text.
pub fn check_text(text: &str) -> Checked {
    let (cfg, mut problems) = parse_all(text);
    let mut out = Checked::default();
    let Some((mut cfg, recovered)) = cfg else {
        out.problems = problems;
        return out;
    };
    cfg.sinks_given = recovered
        .parse::<toml::Table>()
        .map_or(true, |t| t.contains_key("sinks"));
    out.warnings = missing_interfaces(&cfg.capture.interfaces);
    match cfg.settings() {
        Ok(s) if problems.is_empty() => out.settings = Some(s),
        Ok(_) => {}
        Err(p) => problems.extend(p.iter().map(ToString::to_string)),
    }
    out.problems = problems;
    out
}

/// Parse, setting aside each erroneous line, until the rest parses or the errors run out.
/// Returns the config of what parsed (with the text it came from) and every error.
fn parse_all(text: &str) -> (Option<(Config, String)>, Vec<String>) {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // (line, message): syntax errors surface before the others; the list is in line order.
    let mut errors: Vec<(usize, String)> = Vec::new();
    let listed = |mut errors: Vec<(usize, String)>| {
        errors.sort_by_key(|(line, _)| *line);
        errors.into_iter().map(|(_, m)| m).collect()
    };
    while errors.len() < MAX_PARSE_ERRORS {
        let current = lines.join("\n");
        let e = match toml::from_str::<Config>(&current) {
            Ok(cfg) => return (Some((cfg, current)), listed(errors)),
            Err(e) => e,
        };
        let message = e.message().trim().to_string();
        let Some(span) = e.span() else {
            errors.push((usize::MAX, message));
            break;
        };
        let line = current
            .get(..span.start)
            .map_or(0, |before| before.matches('\n').count());
        let column = current.get(..span.start).map_or(0, |before| {
            before.len() - before.rfind('\n').map_or(0, |i| i + 1)
        });
        errors.push((
            line,
            format!("line {}, column {}: {message}", line + 1, column + 1),
        ));
        if !set_aside(&mut lines, line) {
            break;
        }
    }
    (None, listed(errors))
}

/// Blank line `at`, and what belongs to it: a whole table after a `[table]` header, the rest of
/// a value that spans lines (open brackets or braces). False when nothing was left to blank.
fn set_aside(lines: &mut [String], at: usize) -> bool {
    let Some(first) = lines.get(at) else {
        return false;
    };
    if first.trim().is_empty() {
        return false;
    }
    if first.trim_start().starts_with('[') {
        // A table header: the keys under it would otherwise land in the table above.
        lines[at].clear();
        for l in lines.iter_mut().skip(at + 1) {
            if l.trim_start().starts_with('[') {
                break;
            }
            l.clear();
        }
        return true;
    }
    let mut depth = 0i64;
    for l in lines.iter_mut().skip(at) {
        depth += nesting(l);
        l.clear();
        if depth <= 0 {
            break;
        }
    }
    true
}

/// Open minus closed brackets and braces on a line, outside strings and comments.
fn nesting(line: &str) -> i64 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => break,
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth
}

/// `capture.interfaces` that this host does not have (`any` always exists), as warnings.
pub fn missing_interfaces(names: &[String]) -> Vec<String> {
    names
        .iter()
        .enumerate()
        // Names that cannot be interface names are errors already (`Config::settings`).
        .filter(|(_, n)| {
            let name_ok = !n.is_empty() && n.len() <= 15 && !n.contains(['/', ' ', '\0']);
            n.as_str() != "any" && name_ok && !interface_exists(n)
        })
        .map(|(i, n)| {
            format!(
                "capture.interfaces[{i}] = {n:?}: no such interface on this host (`ip link` \
                 lists them); capture will fail here unless it appears"
            )
        })
        .collect()
}

fn interface_exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parse_error_is_listed() {
        let text = "\
[engine]
max_stream = 10
idle_timeout_secs = \"soon\"
bad line here
[enginee]
max_streams = 5
[capture]
interfaces = [
  \"eth0\",
]
filterr = [
  \"udp\",
]
";
        let c = check_text(text);
        let p = &c.problems;
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(p[0].starts_with("line 2, column 1:") && p[0].contains("max_stream"));
        assert!(p[1].starts_with("line 3,"), "{}", p[1]);
        assert!(p[2].starts_with("line 4,"), "{}", p[2]);
        assert!(
            p[3].starts_with("line 5,") && p[3].contains("enginee"),
            "{}",
            p[3]
        );
        assert!(
            p[4].starts_with("line 11,") && p[4].contains("filterr"),
            "{}",
            p[4]
        );
        assert!(c.settings.is_none());
    }

    #[test]
    fn semantic_problems_follow_parse_errors() {
        let c = check_text("[engine]\nmax_streams = 0\nnope = 1\n");
        assert_eq!(c.problems.len(), 2, "{:#?}", c.problems);
        assert!(c.problems[0].contains("nope"));
        assert!(c.problems[1].contains("engine.max_streams"));
    }

    #[test]
    fn valid_text_gives_settings() {
        let c = check_text("[engine]\nmax_streams = 10\n");
        assert!(c.problems.is_empty(), "{:#?}", c.problems);
        assert!(c.settings.is_some());
    }

    #[test]
    fn interfaces_that_do_not_exist_are_warnings() {
        let names = vec!["any".to_string(), "lo".to_string(), "nosuch0x9".to_string()];
        let w = missing_interfaces(&names);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("capture.interfaces[2]") && w[0].contains("nosuch0x9"));
    }

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("a = [ \"]\", '[' # ]"), 1);
        assert_eq!(nesting("a = { b = [1] }"), 0);
    }
}
