//! The Prometheus exporter-toolkit web configuration file (`--web.config.file` of
//! node_exporter), read from `[exporter] web_config_file`, so an operator reuses the file they
//! already have.
//!
//! Honoured: `tls_server_config` (`cert_file`/`cert`, `key_file`/`key`,
//! `client_ca_file`/`client_ca`, `client_auth_type` with the toolkit's five values,
//! `min_version`/`max_version` `TLS12`/`TLS13`, `prefer_server_cipher_suites`),
//! `basic_auth_users` (bcrypt hashes) and `http_server_config.headers` (the toolkit's allow-list
//! of five security headers). Accepted but ignored with a warning, because rustls only offers
//! modern suites and groups and this endpoint is HTTP/1.1 only: `cipher_suites`,
//! `curve_preferences`, `http_server_config.http2`. Rejected, because ignoring them would
//! silently widen access: `client_allowed_sans`, `rate_limit`, `TLS10`/`TLS11`. Unknown keys
//! are errors, as in the toolkit (`yaml.UnmarshalStrict`). Relative paths are relative to the
//! file's directory, as in the toolkit.
//!
//! YAML is read with `serde_norway`, a maintained fork of the deprecated `serde_yaml`.
//! Problems name the key and the fix and never print a hash, a key or a password.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest web configuration file read (the toolkit's files are a few hundred bytes).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The headers `http_server_config.headers` may set, with their allowed values (empty: any).
/// The toolkit's own allow-list (exporter-toolkit `web/handler.go`, `extraHTTPHeaders`).
pub const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    pub tls_server_config: Option<TlsServerConfig>,
    pub http_server_config: HttpServerConfig,
    /// User name → bcrypt hash.
    pub basic_auth_users: BTreeMap<String, String>,
    /// The toolkit's rate limiter; rejected (see the module doc).
    pub rate_limit: Option<serde_norway::Value>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    pub cert_file: String,
    pub key_file: String,
    pub client_ca_file: String,
    /// Inline PEM alternatives of the three files.
    pub cert: String,
    pub key: String,
    pub client_ca: String,
    pub client_auth_type: String,
    pub min_version: String,
    pub max_version: String,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub prefer_server_cipher_suites: Option<bool>,
    pub client_allowed_sans: Option<Vec<String>>,
}

/// `http_server_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    pub http2: Option<bool>,
    pub headers: BTreeMap<String, String>,
}

/// How a client certificate is asked for (Go's `tls.ClientAuthType`, named as the toolkit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Never asked.
    None,
    /// Asked, not required, not verified.
    Request,
    /// Required, not verified against a CA.
    RequireAny,
    /// Not required; verified against `client_ca_file` if given.
    VerifyIfGiven,
    /// Required and verified against `client_ca_file`.
    RequireAndVerify,
}

impl ClientAuth {
    pub fn parse(s: &str) -> Option<ClientAuth> {
        Some(match s {
            "" | "NoClientCert" => ClientAuth::None,
            "RequestClientCert" => ClientAuth::Request,
            // "RequireClientCert" is the toolkit's old spelling, kept by it for compatibility.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAny,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
            _ => return None,
        })
    }

    /// Whether a client CA is needed to verify.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify
        )
    }
}

/// A TLS protocol version as the toolkit names it; `None` when not supported here.
pub fn tls_version(s: &str) -> Option<&'static rustls::SupportedProtocolVersion> {
    match s {
        "TLS12" => Some(&rustls::version::TLS12),
        "TLS13" => Some(&rustls::version::TLS13),
        _ => None,
    }
}

/// One problem of the file: the key, and what to do. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebProblem {
    pub key: String,
    pub fix: String,
}

/// A loaded file: where it is and what it says.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub config: WebConfig,
}

impl Loaded {
    /// A path of the file, relative to its directory (as the toolkit's `SetDirectory`).
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        self.path
            .parent()
            .map_or_else(|| p.to_path_buf(), |d| d.join(p))
    }

    pub fn tls(&self) -> Option<&TlsServerConfig> {
        self.config.tls_server_config.as_ref().filter(|t| {
            !(t.cert_file.is_empty()
                && t.cert.is_empty()
                && t.key_file.is_empty()
                && t.key.is_empty()
                && t.client_ca_file.is_empty()
                && t.client_ca.is_empty()
                && t.client_auth_type.is_empty())
        })
    }
}

/// Read and parse the file (bounded); the error names the file and the problem only.
pub fn load(path: &Path) -> Result<Loaded, WebProblem> {
    let problem = |fix: String| WebProblem {
        key: "exporter.web_config_file".into(),
        fix,
    };
    let text = read_bounded(path).map_err(|e| problem(format!("cannot read {path:?}: {e}")))?;
    let config: WebConfig = serde_norway::from_str(&text).map_err(|e| {
        // serde_norway's messages quote keys and positions, not values of secrets; keep only
        // the first line and cut it short to be sure.
        let msg: String = e
            .to_string()
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        problem(format!("{path:?} is not a valid web configuration: {msg}"))
    })?;
    Ok(Loaded {
        path: path.to_path_buf(),
        config,
    })
}

/// A file's text, at most [`MAX_FILE_BYTES`].
pub fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut s)?;
    if s.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 1 MiB",
        ));
    }
    Ok(s)
}

/// Everything wrong with the file at `path`: parse, files that exist and parse, bcrypt
/// hashes, a client CA for the verifying modes, headers. Empty when it can be served.
pub fn problems(path: &Path) -> Vec<WebProblem> {
    let loaded = match load(path) {
        Ok(l) => l,
        Err(p) => return vec![p],
    };
    let mut out = Vec::new();
    let mut add = |key: &str, fix: String| {
        out.push(WebProblem {
            key: key.into(),
            fix,
        })
    };
    let c = &loaded.config;
    for (user, hash) in &c.basic_auth_users {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            add(
                &format!("basic_auth_users.{user}"),
                "is not a bcrypt hash: write one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    .into(),
            );
        }
    }
    for (name, value) in &c.http_server_config.headers {
        match EXTRA_HEADERS.iter().find(|(h, _)| h == name) {
            None => add(
                &format!("http_server_config.headers.{name}"),
                format!(
                    "cannot be configured; allowed: {}",
                    EXTRA_HEADERS
                        .iter()
                        .map(|h| h.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some((_, allowed)) if !allowed.is_empty() && !allowed.contains(&value.as_str()) => add(
                &format!("http_server_config.headers.{name}"),
                format!("use one of {allowed:?}"),
            ),
            _ => {}
        }
        if value.contains(['\r', '\n']) {
            add(
                &format!("http_server_config.headers.{name}"),
                "a header value cannot hold a line break".into(),
            );
        }
    }
    if c.rate_limit.is_some() {
        add(
            "rate_limit",
            "is not supported by rtcprobe (its connection limits are [exporter] keys): remove it"
                .into(),
        );
    }
    if let Some(t) = loaded.tls() {
        for p in crate::export::tls::problems(&loaded, t) {
            out.push(p);
        }
    }
    out
}

/// Warnings for keys that are accepted but have no effect here.
pub fn ignored(c: &WebConfig) -> Vec<&'static str> {
    let mut w = Vec::new();
    if let Some(t) = &c.tls_server_config {
        if !t.cipher_suites.is_empty() {
            w.push(
                "tls_server_config.cipher_suites is ignored: rustls offers only modern AEAD suites",
            );
        }
        if !t.curve_preferences.is_empty() {
            w.push(
                "tls_server_config.curve_preferences is ignored: rustls' default groups are used",
            );
        }
    }
    if c.http_server_config.http2 == Some(true) {
        w.push("http_server_config.http2 is ignored: the endpoint serves HTTP/1.1 only");
    }
    w
}

#[cfg(test)]
#[path = "web_config_tests.rs"]
mod tests;
