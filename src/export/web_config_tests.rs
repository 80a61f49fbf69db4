use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rtcprobe-webcfg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn keys(p: &[WebProblem]) -> Vec<&str> {
    p.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn a_toolkit_file_with_users_and_headers_is_accepted() {
    let d = scratch("ok");
    let hash = bcrypt::hash("pw", 4).unwrap();
    let f = write(
        &d,
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    \
             X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        ),
    );
    assert_eq!(problems(&f), vec![]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn problems_name_the_key_and_never_print_the_secret() {
    let d = scratch("bad");
    let f = write(
        &d,
        "web.yml",
        "basic_auth_users:\n  alice: plaintext-secret\nhttp_server_config:\n  headers:\n    \
         Server: x\n    X-Frame-Options: allow\nrate_limit:\n  burst: 1\n",
    );
    let p = problems(&f);
    assert_eq!(
        keys(&p),
        vec![
            "basic_auth_users.alice",
            "http_server_config.headers.Server",
            "http_server_config.headers.X-Frame-Options",
            "rate_limit"
        ]
    );
    assert!(p.iter().all(|p| !p.fix.contains("plaintext-secret")));
    let f = write(&d, "typo.yml", "basic_auth_user:\n  a: b\n");
    assert_eq!(keys(&problems(&f)), vec!["exporter.web_config_file"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn tls_needs_cert_key_and_a_client_ca_to_verify() {
    let d = scratch("tls");
    let f = write(
        &d,
        "web.yml",
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    );
    let p = problems(&f);
    assert_eq!(keys(&p), vec!["tls_server_config.cert_file"]);
    assert!(p[0].fix.contains("missing.crt"), "{}", p[0].fix);
    let f = write(
        &d,
        "web2.yml",
        "tls_server_config:\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    assert_eq!(keys(&problems(&f)), vec!["tls_server_config.cert_file"]);
    let f = write(
        &d,
        "web3.yml",
        "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Maybe\n",
    );
    assert_eq!(keys(&problems(&f)), vec!["tls_server_config.cert_file"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn client_auth_types_are_the_toolkits() {
    for (s, v) in [
        ("", ClientAuth::None),
        ("NoClientCert", ClientAuth::None),
        ("RequestClientCert", ClientAuth::Request),
        ("RequireAnyClientCert", ClientAuth::RequireAny),
        ("VerifyClientCertIfGiven", ClientAuth::VerifyIfGiven),
        ("RequireAndVerifyClientCert", ClientAuth::RequireAndVerify),
    ] {
        assert_eq!(ClientAuth::parse(s), Some(v));
    }
    assert_eq!(ClientAuth::parse("requireandverifyclientcert"), None);
    assert!(tls_version("TLS10").is_none());
}
