//! Keeping a sink's credentials out of everything the probe prints: log lines, errors,
//! `validate` messages, metric labels and records.
//!
//! Two tools, used everywhere a sink is described:
//!
//! * [`SafeUrl`] displays a URL with its secrets masked: the password of the userinfo
//!   (RFC 3986 §3.2.1 deprecates `user:password@`, but stores accept it), a whole userinfo
//!   without a password (a token used as user name), and the values of query parameters whose
//!   name says they are secret (`password=`, `token=`, `key=`, `secret=`, `auth…`, `sig…`,
//!   e.g. ClickHouse's `?user=…&password=…`). It never shows more than the input and never
//!   fails: a string that is not a URL is shown with the same rules applied to what looks like
//!   a userinfo.
//! * [`Secrets`] holds every secret string of one sink's configuration (the URL's password and
//!   secret query values, `http.password`, `http.bearer_token`, the HEP `password`) and masks
//!   each of them in a text from outside: the HTTP client's transport errors (ureq writes the
//!   whole URL into them), a store's error body that echoes a request. Messages are built with
//!   [`SafeUrl`] first; [`Secrets::scrub`] is the backstop for text the probe did not write.
//!
//! What it does not do: decide what is secret in a record (records hold no configuration).

use super::{HttpConfig, SinkConfig};
use std::fmt;

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// A URL displayed with its credentials masked (module doc).
#[derive(Debug, Clone, Copy)]
pub struct SafeUrl<'a>(pub &'a str);

impl fmt::Display for SafeUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        let (scheme, rest) = match url.find("://") {
            Some(i) => url.split_at(i + 3),
            None => ("", url),
        };
        f.write_str(scheme)?;
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(auth_end);
        match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _)) => write!(f, "{user}:{MASK}{host}")?,
                    None => write!(f, "{MASK}{host}")?,
                }
            }
            None => f.write_str(authority)?,
        }
        let (before_fragment, fragment) = match tail.find('#') {
            Some(i) => tail.split_at(i),
            None => (tail, ""),
        };
        match before_fragment.split_once('?') {
            Some((path, query)) => {
                write!(f, "{path}?")?;
                for (i, pair) in query.split('&').enumerate() {
                    if i > 0 {
                        f.write_str("&")?;
                    }
                    match pair.split_once('=') {
                        Some((k, _)) if secret_param(k) => write!(f, "{k}={MASK}")?,
                        _ => f.write_str(pair)?,
                    }
                }
            }
            None => f.write_str(before_fragment)?,
        }
        f.write_str(fragment)
    }
}

/// Whether a query parameter's name says its value is a credential.
fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "token",
        "secret",
        "key",
        "auth",
        "sig",
        "credential",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `url` without its userinfo, and the userinfo's user and password (percent-decoded; the
/// password empty when absent): the HTTP client sends them as basic authentication itself, so
/// that the URL it hands to its HTTP library, which logs URLs at debug level, holds no
/// credentials.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => return (url.to_string(), None),
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (
                format!("{scheme}{host}{tail}"),
                Some((percent_decode(user), percent_decode(password))),
            )
        }
        None => (url.to_string(), None),
    }
}

/// The secret strings of a URL: the userinfo's password (or the whole userinfo when it has
/// none), and secret query values, raw and percent-decoded.
fn url_secrets(url: &str, out: &mut Vec<String>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        match userinfo.split_once(':') {
            Some((_, password)) => out.push(password.to_string()),
            None => out.push(userinfo.to_string()),
        }
    }
    let query = tail.split('#').next().unwrap_or("");
    if let Some((_, query)) = query.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if secret_param(k) {
                    out.push(v.to_string());
                }
            }
        }
    }
    let decoded: Vec<String> = out.iter().map(|s| percent_decode(s)).collect();
    out.extend(decoded);
}

/// `%XX` decoding (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every secret string of one sink's configuration (module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn of(cfg: &SinkConfig) -> Secrets {
        let mut out = Vec::new();
        match cfg {
            SinkConfig::File { .. } => {}
            SinkConfig::Clickhouse { url, http, .. }
            | SinkConfig::PrometheusRemoteWrite { url, http, .. } => {
                return Secrets::of_http(url, http)
            }
            SinkConfig::Hep { password, .. } => out.extend(password.iter().cloned()),
        }
        Secrets::new(out)
    }

    /// The secrets of an HTTP sink: its URL's and its `[sinks.http]` credentials.
    pub fn of_http(url: &str, http: &HttpConfig) -> Secrets {
        let mut out = Vec::new();
        url_secrets(url, &mut out);
        out.extend(http.password.iter().cloned());
        out.extend(http.bearer_token.iter().cloned());
        Secrets::new(out)
    }

    /// Only the secrets of `url` (a URL given on its own).
    pub fn of_url(url: &str) -> Secrets {
        let mut out = Vec::new();
        url_secrets(url, &mut out);
        Secrets::new(out)
    }

    fn new(mut v: Vec<String>) -> Secrets {
        v.retain(|s| !s.is_empty());
        // Longest first, so that a secret containing another is masked whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Secrets(v)
    }

    /// `text` with every occurrence of every secret replaced by [`MASK`].
    pub fn scrub(&self, text: &str) -> String {
        let mut s = text.to_string();
        for secret in &self.0 {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), MASK);
            }
        }
        s
    }
}

/// Credentials masked: `Debug` is what a stray `{:?}` in a log line would print.
impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| MASK);
        f.debug_struct("HttpConfig")
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("bearer_token", &set(&self.bearer_token))
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish()
    }
}

/// Type, name and where it sends (URL masked); an HTTP sink's `[sinks.http]` as above.
impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SinkConfig");
        d.field("type", &self.kind()).field("name", &self.name());
        match self {
            SinkConfig::File { path, .. } => d.field("path", path),
            SinkConfig::Clickhouse {
                url, table, http, ..
            } => d
                .field("url", &SafeUrl(url).to_string())
                .field("table", table)
                .field("http", http),
            SinkConfig::PrometheusRemoteWrite { url, http, .. } => d
                .field("url", &SafeUrl(url).to_string())
                .field("http", http),
            SinkConfig::Hep {
                address, password, ..
            } => d
                .field("address", address)
                .field("password", &password.as_ref().map(|_| MASK)),
        };
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(u: &str) -> String {
        SafeUrl(u).to_string()
    }

    #[test]
    fn userinfo_passwords_and_secret_query_values_are_masked() {
        assert_eq!(
            safe("https://probe:hunter2@ch.example:8443/x?a=1"),
            "https://probe:***@ch.example:8443/x?a=1"
        );
        assert_eq!(safe("http://tok3n@h/"), "http://***@h/");
        assert_eq!(
            safe("http://h:8123/?user=u&password=p%40ss&query=SELECT"),
            "http://h:8123/?user=u&password=***&query=SELECT"
        );
        assert_eq!(
            safe("http://h/w?access_token=abc#frag"),
            "http://h/w?access_token=***#frag"
        );
        // The '@' of a path is not a userinfo.
        assert_eq!(safe("http://h/a@b"), "http://h/a@b");
        for plain in ["http://127.0.0.1:9090/api/v1/write", "", "not a url", "x@"] {
            assert!(!safe(plain).contains("hunter2"));
        }
        assert_eq!(
            safe("http://127.0.0.1:9090/api/v1/write"),
            "http://127.0.0.1:9090/api/v1/write"
        );
    }

    #[test]
    fn any_text_is_handled_and_generated_secrets_never_show() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let alphabet: Vec<char> = "ab:/@?#&=%.9-_é[]".chars().collect();
        for _ in 0..5000 {
            let junk: String = (0..rnd(40))
                .map(|_| alphabet[rnd(alphabet.len())])
                .collect();
            let _ = (
                SafeUrl(&junk).to_string(),
                split_userinfo(&junk),
                Secrets::of_url(&junk),
            );
            let secret = format!("Zq{}x", rnd(1_000_000));
            let tail = if rnd(2) == 0 { "/p" } else { "" };
            for url in [
                format!("https://user:{secret}@h:1{tail}?{junk}"),
                format!("http://{secret}@h{tail}#{junk}"),
                format!("http://h/{tail}?a=1&api_key={secret}&b={junk}"),
            ] {
                let shown = SafeUrl(&url).to_string();
                assert!(!shown.contains(&secret), "{url} -> {shown}");
                let (bare, _) = split_userinfo(&url);
                assert!(
                    !Secrets::of_url(&url)
                        .scrub(&format!("{url} {bare}"))
                        .contains(&secret),
                    "{url}"
                );
            }
        }
    }

    #[test]
    fn userinfo_is_split_off() {
        assert_eq!(
            split_userinfo("https://u%40x:p%3Aw@h:1/a?b=c"),
            (
                "https://h:1/a?b=c".to_string(),
                Some(("u@x".to_string(), "p:w".to_string()))
            )
        );
        assert_eq!(
            split_userinfo("http://h/a@b"),
            ("http://h/a@b".to_string(), None)
        );
    }

    #[test]
    fn scrub_masks_every_secret_of_a_sink_config() {
        let cfg: SinkConfig = toml::from_str(
            "type = \"clickhouse\"\nurl = \"http://u:p%40ss@h:1/?password=qq1\"\n\
             [http]\nbearer_token = \"tk-123\"\n",
        )
        .unwrap();
        let s = Secrets::of(&cfg);
        let text = "http://u:p%40ss@h:1/: p@ss qq1 Bearer tk-123";
        let out = s.scrub(text);
        for secret in ["p%40ss", "p@ss", "qq1", "tk-123"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains("http://u:***@h:1/"), "{out}");
        let debug = format!("{cfg:?}");
        assert!(
            !debug.contains("p%40ss") && !debug.contains("tk-123") && !debug.contains("qq1"),
            "{debug}"
        );
        assert_eq!(Secrets::of_url("http://h/").scrub("http://h/"), "http://h/");
    }
}
