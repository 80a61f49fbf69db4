//! What the web configuration file makes of the endpoint (TLS, users, extra headers), and its
//! reloading: like the exporter toolkit, which reads the file and the certificates again for
//! every connection, the file, the certificate, the key and the client CA are looked at
//! (their size, modification time and inode) when a connection arrives, and everything is
//! built again when one has changed. A certificate replaced on disk is served from the next
//! connection, without a restart. A change that does not load (a key written before its
//! certificate, a typo) keeps the previous site and logs a warning; it is tried again at
//! the next change.

use super::auth::Users;
use super::web_config::{self, Loaded, WebProblem};
use arc_swap::ArcSwap;
use hyper::header::{HeaderName, HeaderValue};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the handlers and the acceptor need.
pub struct Site {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub users: Users,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Site {
    /// Plain HTTP, no authentication (no web configuration file).
    pub fn plain() -> Site {
        Site {
            tls: None,
            users: Users::new(Default::default()),
            headers: Vec::new(),
        }
    }

    /// The site of the file at `path`; the first problem if it cannot be served.
    pub fn load(path: &Path) -> Result<Site, WebProblem> {
        if let Some(p) = web_config::problems(path).into_iter().next() {
            return Err(p);
        }
        let l: Loaded = web_config::load(path)?;
        for w in web_config::ignored(&l.config) {
            tracing::warn!("{}: {w}", path.display());
        }
        let tls = match l.tls() {
            Some(t) => Some(super::tls::build(&l, t)?),
            None => None,
        };
        let headers = l
            .config
            .http_server_config
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        Ok(Site {
            tls,
            users: Users::new(l.config.basic_auth_users.clone()),
            headers,
        })
    }
}

/// A file's identity for change detection: (length, mtime ns, inode).
type Stamp = Option<(u64, i128, u64)>;

fn stamp(p: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((
        m.len(),
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        m.ino(),
    ))
}

/// The current site, reloaded when its files change.
pub struct Reloader {
    path: Option<PathBuf>,
    site: ArcSwap<Site>,
    /// The files watched and their stamps at the last load attempt.
    watched: Mutex<Vec<(PathBuf, Stamp)>>,
}

impl Reloader {
    /// Load the file (`None`: plain HTTP); an error names the key and the fix.
    pub fn new(path: Option<&Path>) -> Result<Reloader, WebProblem> {
        let site = match path {
            Some(p) => Site::load(p)?,
            None => Site::plain(),
        };
        let r = Reloader {
            path: path.map(Path::to_path_buf),
            site: ArcSwap::from_pointee(site),
            watched: Mutex::new(Vec::new()),
        };
        if let Ok(mut w) = r.watched.lock() {
            *w = r.files();
        }
        Ok(r)
    }

    /// The web configuration file and the TLS files it names, with their stamps now.
    fn files(&self) -> Vec<(PathBuf, Stamp)> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        let mut files = vec![path.clone()];
        if let Ok(l) = web_config::load(path) {
            if let Some(t) = l.tls() {
                for f in [&t.cert_file, &t.key_file, &t.client_ca_file] {
                    if !f.is_empty() {
                        files.push(l.resolve(f));
                    }
                }
            }
        }
        files
            .into_iter()
            .map(|f| {
                let s = stamp(&f);
                (f, s)
            })
            .collect()
    }

    /// The site to serve a new connection with, reloaded first if a file changed.
    pub fn current(&self) -> Arc<Site> {
        let Some(path) = &self.path else {
            return self.site.load_full();
        };
        let changed = match self.watched.lock() {
            Ok(mut w) => {
                let changed = w.iter().any(|(f, s)| stamp(f) != *s);
                if changed {
                    *w = self.files();
                }
                changed
            }
            Err(_) => false,
        };
        if changed {
            match Site::load(path) {
                Ok(s) => {
                    tracing::info!("{}: web configuration reloaded", path.display());
                    self.site.store(Arc::new(s));
                }
                Err(p) => tracing::warn!(
                    "{}: keeping the previous web configuration: {}: {}",
                    path.display(),
                    p.key,
                    p.fix
                ),
            }
        }
        self.site.load_full()
    }
}
