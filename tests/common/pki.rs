//! Test PKI and in-process forwarding for tests/tls_auth.rs and tests/mtls.rs (included there
//! with `#[path]`, so the other test crates do not build it).

#![allow(dead_code)]

use rtcprobe::config::{Config, HttpConfig};
use rtcprobe::forward::{record::Record, Forwarder, Stats};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// PEM files of a fresh CA, of a server certificate it signed for 127.0.0.1 and of a client
/// certificate it signed.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub fn pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "rtcprobe test CA");
    let ca = ca.self_signed(&ca_key).expect("CA certificate");
    let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(names).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca, &ca_key).expect("certificate");
        (cert.pem(), key.serialize_pem())
    };
    let server = leaf(
        vec!["127.0.0.1".into()],
        "127.0.0.1",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = leaf(vec![], "probe-client", ExtendedKeyUsagePurpose::ClientAuth);
    let p = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    };
    for (path, pem) in [
        (&p.ca, ca.pem()),
        (&p.cert, server.0),
        (&p.key, server.1),
        (&p.client_cert, client.0),
        (&p.client_key, client.1),
    ] {
        std::fs::write(path, pem).expect("PEM file");
    }
    p
}

/// An HTTPS client that trusts only `ca` (rtcprobe's own TLS configuration).
pub fn client(ca: &Path) -> ureq::Agent {
    let tls = rtcprobe::forward::tls::client_config(&HttpConfig {
        ca_file: Some(ca.display().to_string()),
        ..HttpConfig::default()
    })
    .expect("client config");
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .tls_config(tls)
        .build()
}

/// Runs the one sink of `cfg` in-process on `records` with delivery grace `grace`: the
/// counters [`Forwarder::finish`] returns.
pub fn forward(cfg: &str, state: &Path, records: &[Record], grace: Duration) -> Stats {
    let cfg: Config = toml::from_str(cfg).expect("sink config");
    let f = Forwarder::start(&cfg.sinks, state, true, grace).expect("forwarder");
    let tx = f.sender();
    for r in records {
        tx.send(r);
    }
    drop(tx);
    f.finish().pop().expect("one sink")
}

/// The records of a file sink's NDJSON file.
pub fn records(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .expect("records")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect()
}
