//! The HTTP client shared by the ClickHouse and remote-write sinks: `ureq` (blocking, on the
//! sink's own sender thread) with rustls for `https://` URLs (trust and client certificates in
//! [`super::tls`]), basic (RFC 7617) or bearer (RFC 6750) authentication,
//! and the mapping of responses to [`Outcome`]s: 2xx sent; 408, 429, 5xx and transport errors
//! retried; other 4xx rejected (Prometheus remote-write 1.0 spec, "Retries & Backoff": 5xx and
//! 429 may be retried, 4xx must not).

use super::delivery::Outcome;
use crate::config::redact::Secrets;
use crate::config::HttpConfig;
use std::time::Duration;

/// One endpoint with its credentials.
pub struct Client {
    agent: ureq::Agent,
    auth: Option<String>,
    /// Masked in every message this client returns (src/config/redact.rs).
    secrets: Secrets,
}

/// What a request came to, in detail (for `validate --connect`; [`Client::post`] maps it to an
/// [`Outcome`]). Every text is already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A 2xx status, with up to 300 characters of the body.
    Ok(String),
    /// Another status, with up to 300 characters of the body.
    Status(u16, String),
    /// No HTTP answer: connection refused, timeout, TLS handshake, DNS… with ureq's kind.
    Transport(ureq::ErrorKind, String),
}

impl Client {
    /// Fails when a TLS file (`ca_file`, `cert_file`, `key_file`) cannot be used.
    pub fn new(h: &HttpConfig) -> Result<Client, super::tls::TlsError> {
        let secs = if h.timeout_secs == 0 {
            10
        } else {
            h.timeout_secs
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(secs))
            .tls_config(super::tls::client_config(h)?)
            .build();
        let auth = match (&h.bearer_token, &h.username) {
            (Some(t), _) => Some(format!("Bearer {t}")),
            (None, Some(u)) => {
                let pair = format!("{u}:{}", h.password.as_deref().unwrap_or(""));
                Some(format!("Basic {}", base64(pair.as_bytes())))
            }
            (None, None) => None,
        };
        Ok(Client {
            agent,
            auth,
            secrets: Secrets::default(),
        })
    }

    /// The client of one sink's `url`, and the URL to request: without its userinfo, which
    /// becomes basic authentication unless `[sinks.http]` sets some (so that no URL given to
    /// ureq, which logs them at debug level, holds a password), and masking the sink's secrets
    /// in every message.
    pub fn for_url(h: &HttpConfig, url: &str) -> Result<(Client, String), super::tls::TlsError> {
        let mut c = Client::new(h)?.redacting(Secrets::of_http(url, h));
        let (bare, userinfo) = crate::config::redact::split_userinfo(url);
        if let (None, Some((u, p))) = (&c.auth, userinfo) {
            c.auth = Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        }
        Ok((c, bare))
    }

    /// Mask these secrets in every message (the sink's, [`Secrets::of_http`]).
    pub fn redacting(mut self, secrets: Secrets) -> Client {
        self.secrets = secrets;
        self
    }

    /// POST `body` to `url` with extra headers.
    pub fn post(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Outcome {
        match self.request("POST", url, headers, body) {
            Reply::Ok(_) => Outcome::Sent,
            Reply::Status(code, text) => {
                let why = format!("HTTP {code}: {text}");
                if code == 408 || code == 429 || code >= 500 {
                    Outcome::Retry(why)
                } else {
                    Outcome::Rejected(why)
                }
            }
            Reply::Transport(_, why) => Outcome::Retry(why),
        }
    }

    /// One request; the body is sent unless the method is GET.
    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut req = self.agent.request(method, url);
        if let Some(a) = &self.auth {
            req = req.set("Authorization", a);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let res = if method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        let text = |resp: ureq::Response| {
            let t: String = resp
                .into_string()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            self.secrets.scrub(t.trim())
        };
        match res {
            Ok(resp) => Reply::Ok(text(resp)),
            Err(ureq::Error::Status(code, resp)) => Reply::Status(code, text(resp)),
            Err(ureq::Error::Transport(t)) => {
                // Not ureq's Display, which starts with the whole URL, credentials included.
                let mut why = t.kind().to_string();
                if let Some(m) = t.message() {
                    why.push_str(": ");
                    why.push_str(m);
                }
                if let Some(s) = std::error::Error::source(&t) {
                    why.push_str(": ");
                    why.push_str(&s.to_string());
                }
                Reply::Transport(t.kind(), self.secrets.scrub(&why))
            }
        }
    }
}

/// RFC 4648 base64 (for the basic authentication header, RFC 7617).
pub(crate) fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
