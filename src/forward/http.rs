//! The HTTP client shared by the ClickHouse and remote-write sinks: `ureq` (blocking, on the
//! sink's own sender thread) with rustls for `https://` URLs (trust and client certificates in
//! [`super::tls`]), basic (RFC 7617) or bearer (RFC 6750) authentication,
//! and the mapping of responses to [`Outcome`]s: 2xx sent; 408, 429, 5xx and transport errors
//! retried; other 4xx rejected (Prometheus remote-write 1.0 spec, "Retries & Backoff": 5xx and
//! 429 may be retried, 4xx must not).

use super::delivery::Outcome;
use crate::config::HttpConfig;
use std::time::Duration;

/// One endpoint with its credentials.
pub struct Client {
    agent: ureq::Agent,
    auth: Option<String>,
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
        Ok(Client { agent, auth })
    }

    /// POST `body` to `url` with extra headers.
    pub fn post(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Outcome {
        let mut req = self.agent.post(url);
        if let Some(a) = &self.auth {
            req = req.set("Authorization", a);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match req.send_bytes(body) {
            Ok(_) => Outcome::Sent,
            Err(ureq::Error::Status(code, resp)) => {
                let text: String = resp
                    .into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let why = format!("HTTP {code}: {}", text.trim());
                if code == 408 || code == 429 || code >= 500 {
                    Outcome::Retry(why)
                } else {
                    Outcome::Rejected(why)
                }
            }
            Err(e) => Outcome::Retry(e.to_string()),
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
