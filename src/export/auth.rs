//! HTTP Basic authentication (RFC 7617) against the web configuration's `basic_auth_users`
//! (bcrypt hashes), as the exporter toolkit does it: an unknown user is checked against a
//! dummy hash of the same cost so that timing does not tell which users exist, and results
//! are cached so that a scrape every few seconds does not pay bcrypt (tens of milliseconds)
//! each time. The cache is keyed by a SHA-256 of user, hash and password (no password kept
//! in memory), bounded, and emptied when full.

use base64::Engine;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

/// Cached verdicts at most; the cache is emptied when it is full.
pub const CACHE_ENTRIES: usize = 256;
/// Longest `Authorization` header considered (a user and a password of a few hundred bytes).
pub const MAX_HEADER_BYTES: usize = 1024;

/// The configured users.
pub struct Users {
    users: BTreeMap<String, String>,
    /// The highest configured cost, and a hash of a fixed password at that cost for unknown
    /// users, made at the first unknown user (bcrypt is slow: not at load, which runs when a
    /// connection arrives).
    cost: u32,
    dummy: OnceLock<String>,
    cache: Mutex<HashMap<[u8; 32], bool>>,
}

impl Users {
    /// From `basic_auth_users`; hashes that are not bcrypt never match (validate reports them).
    pub fn new(users: BTreeMap<String, String>) -> Users {
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Users {
            users,
            cost,
            dummy: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// No user configured: no authentication.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether the `Authorization` header value admits the request. Blocking (bcrypt): call
    /// it off the async threads.
    pub fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (
                self.dummy
                    .get_or_init(|| {
                        bcrypt::hash("rtcprobe-no-such-user", self.cost).unwrap_or_default()
                    })
                    .as_str(),
                false,
            ),
        };
        let key = cache_key(&user, hash, &pass);
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).copied());
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let ok = bcrypt::verify(pass.as_bytes(), hash).unwrap_or(false);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_ENTRIES {
                        c.clear();
                    }
                    c.insert(key, ok);
                }
                ok
            }
        };
        ok && known
    }
}

fn cache_key(user: &str, hash: &str, pass: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, hash, pass] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(v: &[u8]) -> Option<(String, String)> {
    if v.len() > MAX_HEADER_BYTES {
        return None;
    }
    let v = std::str::from_utf8(v).ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    #[test]
    fn right_password_passes_wrong_and_unknown_fail() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let u = Users::new(BTreeMap::from([("prom".to_string(), hash)]));
        assert!(u.check(Some(&b64("prom:s3cret"))));
        assert!(u.check(Some(&b64("prom:s3cret"))), "cached verdict");
        assert!(!u.check(Some(&b64("prom:wrong"))));
        assert!(!u.check(Some(&b64("other:s3cret"))));
        assert!(!u.check(None));
        assert!(!u.check(Some(b"Bearer abc")));
        assert!(!u.check(Some(b"Basic !!!")));
        assert_eq!(u.cache.lock().unwrap().len(), 3);
    }
}
