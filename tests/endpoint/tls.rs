//! TLS, client certificates and basic authentication from a node_exporter-style web
//! configuration file, scraped by a real Prometheus over https with a client certificate and
//! a password; the wrong password gets 401, a client without a certificate is refused, and a
//! server certificate replaced on disk is served from the next connection, without a restart,
//! while Prometheus keeps scraping.

use super::pki::{pki, Pki};
use super::{have_prometheus, header, prometheus, query, scratch, serve, statuses};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "scrape-s3cret";

fn certs(p: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(p)
        .expect("PEM")
        .collect::<Result<_, _>>()
        .expect("certs")
}

/// A GET over TLS trusting `ca`, with a client certificate if given: the response text and
/// the server's certificate, or the error.
fn tls_get(
    addr: SocketAddr,
    ca: &Path,
    client: Option<(&Path, &Path)>,
    auth: Option<(&str, &str)>,
) -> Result<(String, CertificateDer<'static>), String> {
    use base64::Engine;
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca) {
        roots.add(c).expect("root");
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => b
            .with_client_auth_cert(certs(cert), PrivateKeyDer::from_pem_file(key).expect("key"))
            .expect("client cert"),
        None => b.with_no_client_auth(),
    };
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let authz = auth
        .map(|(u, p)| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
        .unwrap_or_default();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{authz}Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let r = s.read_to_end(&mut buf);
    let peer = s
        .conn
        .peer_certificates()
        .and_then(|c| c.first().cloned())
        .ok_or("no server certificate")?;
    if buf.is_empty() {
        return Err(format!("no response: {r:?}"));
    }
    Ok((String::from_utf8_lossy(&buf).into_owned(), peer))
}

fn web_config(dir: &Path, a: &Pki) -> std::path::PathBuf {
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    let p = dir.join("web.yml");
    std::fs::write(
        &p,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_ca_file: {}\n  \
             client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS12\n\
             basic_auth_users:\n  prometheus: {hash}\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
            a.cert.display(),
            a.key.display(),
            a.ca.display()
        ),
    )
    .expect("web.yml");
    p
}

#[test]
fn prometheus_scrapes_over_tls_with_client_cert_and_basic_auth_and_cert_reload() {
    if !have_prometheus() {
        return;
    }
    let dir = scratch("tls");
    let (da, db) = (dir.0.join("a"), dir.0.join("b"));
    std::fs::create_dir_all(&da).expect("dir");
    std::fs::create_dir_all(&db).expect("dir");
    let (a, b) = (pki(&da), pki(&db));
    // The served files start as A's and become B's.
    let (cert, key) = (dir.0.join("served.pem"), dir.0.join("served.key"));
    std::fs::copy(&a.cert, &cert).expect("copy");
    std::fs::copy(&a.key, &key).expect("copy");
    let served = Pki {
        ca: a.ca.clone(),
        cert: cert.clone(),
        key: key.clone(),
        client_cert: a.client_cert.clone(),
        client_key: a.client_key.clone(),
    };
    let web = web_config(&dir.0, &served);
    let (_probe, addr) = serve(
        &dir.0,
        &format!("web_config_file = \"{}\"", web.display()),
        2,
        90,
    );
    // Prometheus trusts both server CAs and presents A's client certificate and the password.
    let both = dir.0.join("both-ca.pem");
    let mut pem = std::fs::read(&a.ca).expect("ca");
    pem.extend(std::fs::read(&b.ca).expect("ca"));
    std::fs::write(&both, pem).expect("ca bundle");
    let (_prom, prom) = prometheus(
        &dir.0,
        &format!(
            "  - job_name: rtcprobe\n    scheme: https\n    tls_config:\n      ca_file: {}\n      \
             cert_file: {}\n      key_file: {}\n    basic_auth:\n      username: prometheus\n      \
             password: {PASSWORD}\n    static_configs:\n      - targets: ['{addr}']\n",
            both.display(),
            a.client_cert.display(),
            a.client_key.display()
        ),
    );
    super::common::wait_for("an https scrape", Duration::from_secs(30), || {
        (query(prom, "up{job=\"rtcprobe\"}") == Some(1.0)).then_some(())
    });
    let client = Some((a.client_cert.as_path(), a.client_key.as_path()));

    let (ok, first) = tls_get(addr, &a.ca, client, Some(("prometheus", PASSWORD))).expect("GET");
    assert_eq!(statuses(&ok), vec![200], "{ok:.300}");
    assert_eq!(header(&ok, "X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(first, certs(&a.cert)[0]);
    for auth in [
        Some(("prometheus", "wrong")),
        Some(("nobody", PASSWORD)),
        None,
    ] {
        let (resp, _) = tls_get(addr, &a.ca, client, auth).expect("GET");
        assert_eq!(statuses(&resp), vec![401], "{auth:?}: {resp}");
        assert_eq!(header(&resp, "WWW-Authenticate"), Some("Basic"));
    }
    match tls_get(addr, &a.ca, None, Some(("prometheus", PASSWORD))) {
        Err(_) => {}
        Ok((resp, _)) => assert!(
            statuses(&resp).is_empty(),
            "served without a certificate: {resp}"
        ),
    }
    // B's client certificate is from another CA: refused too.
    let other = Some((b.client_cert.as_path(), b.client_key.as_path()));
    if let Ok((resp, _)) = tls_get(addr, &a.ca, other, Some(("prometheus", PASSWORD))) {
        assert!(
            statuses(&resp).is_empty(),
            "served a foreign certificate: {resp}"
        );
    }

    // Replace the certificate on disk (key first, then certificate, each by rename).
    for (from, to) in [(&b.key, &key), (&b.cert, &cert)] {
        let tmp = to.with_extension("tmp");
        std::fs::copy(from, &tmp).expect("copy");
        std::fs::rename(&tmp, to).expect("rename");
    }
    let (resp, now) = tls_get(addr, &b.ca, client, Some(("prometheus", PASSWORD))).expect("GET");
    assert_eq!(statuses(&resp), vec![200]);
    assert_eq!(now, certs(&b.cert)[0], "the new certificate is not served");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        query(prom, "min_over_time(up{job=\"rtcprobe\"}[4s])"),
        Some(1.0),
        "Prometheus stopped scraping after the certificate changed"
    );
}
