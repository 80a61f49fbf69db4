//! The TLS client configuration of the HTTP sinks (rustls, the version and *ring* provider
//! ureq 2 itself uses, TLS 1.2 and 1.3).
//!
//! Trust: without `ca_file` the server's chain must end at one of the Mozilla roots compiled in
//! (webpki-roots, as ureq does by default; the host's `/etc/ssl/certs` is not read). With
//! `ca_file` the PEM certificates in that file are the only trust anchors: the roots are
//! *replaced*, not extended, as `curl --cacert` and Prometheus' `tls_config.ca_file` do, so a
//! store behind a private CA is trusted for that CA alone and a public CA cannot vouch for a
//! name the operator pinned to their own. Host names and IP addresses are checked against the
//! certificate's subjectAltName (RFC 6125; rustls-webpki). `cert_file` and `key_file` add a
//! client certificate (mutual TLS, RFC 8446 §4.4.2) for stores that ask for one.
//!
//! The files are read when the sink starts and by `rtcprobe validate` ([`check`]), which reports
//! an unreadable or unusable file as a problem naming its key.

use crate::config::HttpConfig;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// A TLS file that cannot be used, with the `[sinks.http]` key that names it.
#[derive(Debug, thiserror::Error)]
#[error("{key} = {path:?}: {why}")]
pub struct TlsError {
    /// `ca_file`, `cert_file` or `key_file`.
    pub key: &'static str,
    pub path: String,
    pub why: String,
}

/// The client configuration `h` asks for.
pub fn client_config(h: &HttpConfig) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match &h.ca_file {
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs("ca_file", path)? {
                roots.add(cert).map_err(|e| TlsError {
                    key: "ca_file",
                    path: path.clone(),
                    why: format!("not a usable CA certificate: {e}"),
                })?;
            }
            roots
        }
    };
    // Cannot fail: ring's provider has cipher suites for both versions (ureq relies on it too).
    let builder =
        ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .map_err(|e| TlsError {
                key: "ca_file",
                path: String::new(),
                why: format!("rustls: {e}"),
            })?
            .with_root_certificates(roots);
    let config = match (&h.cert_file, &h.key_file) {
        (Some(c), Some(k)) => {
            let chain = certs("cert_file", c)?;
            let pem = read("key_file", k)?;
            let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError {
                key: "key_file",
                path: k.clone(),
                why: format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError {
                    key: "key_file",
                    path: k.clone(),
                    why: format!("not usable with cert_file: {e}"),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The first problem of the TLS files of `h`, if any: what `validate` reports.
pub fn check(h: &HttpConfig) -> Option<TlsError> {
    client_config(h).err()
}

fn read(key: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError {
        key,
        path: path.to_string(),
        why: format!("cannot read it: {e}"),
    })
}

/// The PEM `CERTIFICATE` sections of a file, at least one.
fn certs(key: &'static str, path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path)?;
    let bad = |why: String| TlsError {
        key,
        path: path.to_string(),
        why,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM CERTIFICATE in it".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(ca: Option<&str>) -> HttpConfig {
        HttpConfig {
            ca_file: ca.map(String::from),
            ..HttpConfig::default()
        }
    }

    #[test]
    fn default_roots_build() {
        assert!(client_config(&http(None)).is_ok());
    }

    #[test]
    fn unreadable_and_empty_ca_files_name_their_key() {
        let e = check(&http(Some("/nonexistent/ca.pem"))).expect("missing file");
        assert_eq!(e.key, "ca_file");
        assert!(e.why.contains("cannot read"), "{e}");
        let dir = std::env::temp_dir().join(format!("rtcprobe-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").expect("write");
        let e = check(&http(junk.to_str())).expect("no certificate");
        assert!(e.why.contains("no PEM CERTIFICATE"), "{e}");
        // A CERTIFICATE section whose body is not a certificate.
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = check(&http(junk.to_str())).expect("bad certificate");
        assert!(e.why.contains("not a usable CA certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
