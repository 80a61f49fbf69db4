//! The HTTP side of `rtcprobe top`: GET `/streams` and `/metrics` from the daemon's endpoint
//! with ureq, over TLS when the URL is `https://` (the trust rules of src/forward/tls.rs:
//! `--ca-file` replaces the built-in roots; `--cert-file`/`--key-file` for mutual TLS) and
//! with basic authentication (RFC 7617) when a user is given.
//!
//! The password never comes from the command line (visible to every user in `ps`): it is read
//! from an environment variable or a file, and it appears in no error or log. Bodies are read
//! up to [`MAX_BODY`]: the endpoint is trusted to be ours, not to be small.

use crate::config::HttpConfig;
use std::io::Read;
use std::time::Duration;

/// The largest body read (a `/streams` of 100,000 streams is ~60 MB).
pub const MAX_BODY: u64 = 256 << 20;

/// Why a poll failed, in words safe to show (no credential).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Setup(String),
    #[error("GET {path}: {why}")]
    Get { path: &'static str, why: String },
}

/// Where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:10533` (a trailing `/` is fine).
    pub url: String,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// A connected poller.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
}

impl Client {
    pub fn new(e: &Endpoint) -> Result<Client, FetchError> {
        let base = e.url.trim_end_matches('/').to_string();
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| FetchError::Setup("--url must start with http:// or https://".into()))?;
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            return Err(FetchError::Setup(
                "--url must not carry credentials: use --user and RTCPROBE_PASSWORD or \
                 --password-file"
                    .into(),
            ));
        }
        let http = HttpConfig {
            ca_file: e.ca_file.clone(),
            cert_file: e.cert_file.clone(),
            key_file: e.key_file.clone(),
            ..HttpConfig::default()
        };
        let tls = crate::forward::tls::client_config(&http)
            .map_err(|t| FetchError::Setup(format!("--{}: {t}", t.key.replace('_', "-"))))?;
        let agent = ureq::AgentBuilder::new()
            .timeout(e.timeout)
            .tls_config(tls)
            .build();
        let auth = e.user.as_ref().map(|u| {
            let pair = format!("{u}:{}", e.password.as_deref().unwrap_or(""));
            format!("Basic {}", crate::forward::http::base64(pair.as_bytes()))
        });
        Ok(Client { agent, base, auth })
    }

    /// The body of `GET path`, as text.
    pub fn get(&self, path: &'static str) -> Result<String, FetchError> {
        let fail = |why: String| FetchError::Get { path, why };
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(a) = &self.auth {
            req = req.set("Authorization", a);
        }
        let resp = req.call().map_err(|e| match e {
            ureq::Error::Status(401, _) => {
                fail("401 unauthorized (check --user and the password)".into())
            }
            ureq::Error::Status(code, r) => fail(format!("HTTP {code} {}", r.status_text())),
            ureq::Error::Transport(t) => fail(t.to_string()),
        })?;
        let mut body = String::new();
        resp.into_reader()
            .take(MAX_BODY)
            .read_to_string(&mut body)
            .map_err(|e| fail(e.to_string()))?;
        Ok(body)
    }
}

/// The password for basic authentication: the file's first line, else the environment
/// variable. Errors name the file or variable, never the content.
pub fn password(file: Option<&str>, env: &str) -> Result<Option<String>, FetchError> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| FetchError::Setup(format!("--password-file {f}: {e}")))?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_string()));
    }
    Ok(std::env::var(env).ok())
}
