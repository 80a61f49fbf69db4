//! `rtcprobe top`'s HTTP client against an HTTPS endpoint with basic authentication on
//! loopback (a rustls server in the test, a throwaway CA from tests/common/pki.rs): it trusts
//! the endpoint through `--ca-file`, sends the credentials, and says what went wrong without
//! ever showing the password.

mod common;
#[path = "common/pki.rs"]
mod pki;

use rtcprobe::top::client::{password, Client, Endpoint};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER: &str = "ops";
const PASSWORD: &str = "s3cret-9f2";

/// An HTTPS server on 127.0.0.1 answering `/streams` to requests with the right basic
/// credentials and 401 to others; returns its port and the Authorization header of every
/// request it received (a connection whose handshake failed sent none).
fn serve(p: &pki::Pki) -> (u16, Arc<Mutex<Vec<String>>>) {
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(&p.cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&p.key).unwrap();
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let conn = rustls::ServerConnection::new(Arc::clone(&cfg)).unwrap();
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            let mut auth = String::new();
            let mut request = false;
            loop {
                let mut line = String::new();
                match tls.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {
                        request = true;
                        if let Some(v) = line
                            .strip_prefix("authorization: ")
                            .or(line.strip_prefix("Authorization: "))
                        {
                            auth = v.trim().to_string();
                        }
                    }
                }
            }
            if !request {
                continue; // no HTTP request came through (a failed handshake)
            }
            log.lock().unwrap().push(auth.clone());
            // base64("ops:s3cret-9f2")
            let (status, body) = if auth == "Basic b3BzOnMzY3JldC05ZjI=" {
                ("200 OK", "[{\"ssrc\": 7}]")
            } else {
                ("401 Unauthorized", "")
            };
            let s = tls.get_mut();
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.flush();
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    });
    (port, seen)
}

fn endpoint(port: u16, ca: Option<&std::path::Path>, pass: &str) -> Endpoint {
    Endpoint {
        url: format!("https://127.0.0.1:{port}/"),
        ca_file: ca.map(|c| c.display().to_string()),
        user: Some(USER.into()),
        password: Some(pass.into()),
        timeout: Duration::from_secs(5),
        ..Endpoint::default()
    }
}

#[test]
fn top_reaches_an_https_endpoint_with_basic_auth() {
    let dir = common::TempDir::new("top-client");
    let p = pki::pki(&dir.0);
    let (port, seen) = serve(&p);

    let ok = Client::new(&endpoint(port, Some(&p.ca), PASSWORD)).unwrap();
    assert_eq!(ok.get("/streams").unwrap(), "[{\"ssrc\": 7}]");
    assert_eq!(
        seen.lock().unwrap().last().map(String::as_str),
        Some("Basic b3BzOnMzY3JldC05ZjI=")
    );

    let wrong = Client::new(&endpoint(port, Some(&p.ca), "not-it-4471")).unwrap();
    let e = wrong.get("/streams").unwrap_err().to_string();
    assert!(e.contains("401"), "{e}");
    assert!(!e.contains("not-it-4471") && !e.contains(PASSWORD), "{e}");

    // Without --ca-file the test CA is unknown: the TLS handshake fails, nothing is sent.
    let before = seen.lock().unwrap().len();
    let untrusted = Client::new(&endpoint(port, None, PASSWORD)).unwrap();
    let e = untrusted.get("/streams").unwrap_err().to_string();
    assert!(!e.contains(PASSWORD), "{e}");
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "credentials sent to an untrusted server"
    );
}

#[test]
fn credentials_never_come_from_the_url_and_the_password_file_wins() {
    let e = Client::new(&Endpoint {
        url: "http://ops:pw@127.0.0.1:1".into(),
        ..Endpoint::default()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("must not carry credentials") && !e.contains("pw@"),
        "{e}"
    );
    assert!(Client::new(&Endpoint {
        url: "ftp://127.0.0.1".into(),
        ..Endpoint::default()
    })
    .is_err());

    let dir = common::TempDir::new("top-password");
    let f = dir.0.join("pw");
    std::fs::write(&f, "from-file\nignored\n").unwrap();
    let var = "RTCPROBE_TOP_TEST_PASSWORD";
    std::env::set_var(var, "from-env");
    assert_eq!(
        password(Some(f.to_str().unwrap()), var).unwrap().as_deref(),
        Some("from-file")
    );
    assert_eq!(password(None, var).unwrap().as_deref(), Some("from-env"));
    let missing = dir.0.join("missing");
    let e = password(Some(missing.to_str().unwrap()), var)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--password-file"), "{e}");
}

#[test]
fn top_refuses_credentials_in_the_url_and_a_non_terminal() {
    let run = |url: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
            .args(["top", "--url", url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("http://ops:hunter2@127.0.0.1:1");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("must not carry credentials") && !err.contains("hunter2"),
        "{err}"
    );
    let (code, err) = run("http://127.0.0.1:1");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("not a terminal") || err.contains("stdout is not one"),
        "{err}"
    );
}
