//! Mutual TLS: with `cert_file` and `key_file` the HTTP sinks present a client certificate.
//! VictoriaMetrics and vmauth 1.79 do not check client certificates (`-mtls` is in their
//! enterprise edition) and ClickHouse's HTTPS (`openSSL.server`, `verificationMode`) was not set
//! up for it, so the server is a rustls server in the test that requires a certificate signed
//! by the test CA. Without the
//! client certificate the handshake fails: batches retried and kept; with it they are sent.

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::{bin, TempDir};
use pki::{forward, pki, Pki};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap");

/// An HTTPS server on loopback that requires a client certificate signed by the test CA
/// (rustls' WebPkiClientVerifier), answers every request 204 and counts the requests that
/// came with a verified client certificate. The stores here do not check client certificates
/// (VictoriaMetrics' `-mtls` is in its enterprise edition), hence this stand-in.
struct MtlsServer {
    port: u16,
    verified: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl MtlsServer {
    fn start(p: &Pki) -> MtlsServer {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&p.ca).expect("ca"))
            .expect("root");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .expect("verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from_pem_file(&p.cert).expect("cert")],
                PrivateKeyDer::from_pem_file(&p.key).expect("key"),
            )
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let verified = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (v, st) = (verified.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((tcp, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = serve(tcp, &config, &v);
            }
        });
        MtlsServer {
            port,
            verified,
            stop,
        }
    }
}

impl Drop for MtlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One connection: requests (head and `Content-Length` body) answered 204 until EOF.
fn serve(
    tcp: std::net::TcpStream,
    config: &Arc<rustls::ServerConfig>,
    verified: &AtomicU64,
) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() < end + length {
            continue;
        }
        buf.drain(..end + length);
        if tls.conn.peer_certificates().is_some_and(|c| !c.is_empty()) {
            verified.fetch_add(1, Ordering::Relaxed);
        }
        tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
        tls.flush()?;
    }
}

#[test]
fn a_client_certificate_is_presented_when_configured() {
    let tmp = TempDir::new("tls-mtls");
    let dir = &tmp.0;
    let p = pki(dir);
    let server = MtlsServer::start(&p);
    let file = dir.join("records.ndjson");
    let out = bin()
        .args(["replay", FIXTURE, "--format", "json", "--records"])
        .arg(&file)
        .output()
        .expect("rtcprobe replay");
    assert!(out.status.success());
    let records = pki::records(&file);
    let n = records.len() as u64;
    let sink = |client: &str| {
        format!(
            "[[sinks]]\ntype = \"clickhouse\"\nname = \"mtls\"\nurl = \"https://127.0.0.1:{}\"\n\
             [sinks.http]\nca_file = \"{}\"\n{client}[sinks.delivery]\nbatch_records = 16\n\
             batch_timeout_ms = 100\nretry_initial_ms = 100\nretry_max_ms = 400\n",
            server.port,
            p.ca.display()
        )
    };
    let state = dir.join("state");
    // Without a client certificate the server ends the handshake: retried, kept.
    let s = forward(&sink(""), &state, &records, Duration::from_secs(2));
    assert_eq!((s.sent, s.failed), (0, 0), "{s:?}");
    assert!(s.retried >= n && s.buffered_bytes > 0, "{s:?}");
    assert_eq!(server.verified.load(Ordering::Relaxed), 0);
    // With cert_file and key_file every buffered batch goes through.
    let client = format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        p.client_cert.display(),
        p.client_key.display()
    );
    let s = forward(&sink(&client), &state, &[], Duration::from_secs(20));
    assert_eq!((s.sent, s.failed, s.buffered_bytes), (n, 0, 0), "{s:?}");
    let requests = server.verified.load(Ordering::Relaxed);
    assert!(requests > 0);
    eprintln!(
        "mutual TLS: without a client certificate {n} records kept; with it {n} sent in \
         {requests} requests, each with a verified client certificate"
    );
}
