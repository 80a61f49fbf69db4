//! TLS for the endpoint: a rustls `ServerConfig` (ring provider) built from the web
//! configuration file's `tls_server_config`, with the exporter toolkit's client certificate
//! policies.
//!
//! Go's `tls.ClientAuthType` values map onto rustls verifiers: the two verifying modes use
//! `WebPkiClientVerifier` with `client_ca_file` (required, as the toolkit requires it);
//! `RequestClientCert` and `RequireAnyClientCert` ask for a certificate without a CA and only
//! check that the client holds its key (the handshake signature), as Go does. Versions are
//! TLS 1.2 and 1.3 (rustls has no older ones). Building never prints key material.

use super::web_config::{tls_version, ClientAuth, Loaded, TlsServerConfig, WebProblem};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::sync::Arc;

fn problem(key: &str, fix: impl Into<String>) -> WebProblem {
    WebProblem {
        key: format!("tls_server_config.{key}"),
        fix: fix.into(),
    }
}

/// PEM text of `file` (resolved against the web config's directory) or the inline value.
fn pem(l: &Loaded, file_key: &str, file: &str, inline: &str) -> Result<Vec<u8>, WebProblem> {
    if !file.is_empty() {
        let p = l.resolve(file);
        return super::web_config::read_bounded(&p)
            .map(String::into_bytes)
            .map_err(|e| problem(file_key, format!("cannot read {p:?}: {e}")));
    }
    Ok(inline.as_bytes().to_vec())
}

/// Everything that stops [`build`], one problem each.
pub fn problems(l: &Loaded, t: &TlsServerConfig) -> Vec<WebProblem> {
    let mut out = Vec::new();
    if t.client_allowed_sans.is_some() {
        out.push(problem(
            "client_allowed_sans",
            "is not supported by rtcprobe: remove it, or issue client certificates from a \
             dedicated client_ca_file",
        ));
    }
    if let Err(p) = build(l, t) {
        out.push(p);
    }
    out
}

/// The server configuration of `t`.
pub fn build(l: &Loaded, t: &TlsServerConfig) -> Result<Arc<ServerConfig>, WebProblem> {
    if t.cert_file.is_empty() && t.cert.is_empty() {
        return Err(problem(
            "cert_file",
            "missing: set cert_file (a PEM certificate chain)",
        ));
    }
    if t.key_file.is_empty() && t.key.is_empty() {
        return Err(problem(
            "key_file",
            "missing: set key_file (the PEM private key)",
        ));
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem(l, "cert_file", &t.cert_file, &t.cert)?)
            .collect::<Result<_, _>>()
            .map_err(|_| problem("cert_file", "is not a PEM certificate chain"))?;
    if certs.is_empty() {
        return Err(problem("cert_file", "holds no PEM CERTIFICATE block"));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&pem(l, "key_file", &t.key_file, &t.key)?).map_err(|_| {
            problem(
                "key_file",
                "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            )
        })?;
    let auth = ClientAuth::parse(&t.client_auth_type).ok_or_else(|| {
        problem(
            "client_auth_type",
            "use NoClientCert, RequestClientCert, RequireAnyClientCert, \
             VerifyClientCertIfGiven or RequireAndVerifyClientCert",
        )
    })?;
    let has_ca = !t.client_ca_file.is_empty() || !t.client_ca.is_empty();
    if auth.verifies() && !has_ca {
        return Err(problem(
            "client_ca_file",
            "required with client_auth_type VerifyClientCertIfGiven or \
             RequireAndVerifyClientCert: set the CA that issues client certificates",
        ));
    }
    if has_ca && auth == ClientAuth::None {
        return Err(problem(
            "client_auth_type",
            "client_ca_file is set without a client_auth_type: use \
             RequireAndVerifyClientCert (or remove client_ca_file)",
        ));
    }
    let min = version(&t.min_version, "min_version", &rustls::version::TLS12)?;
    let max = version(&t.max_version, "max_version", &rustls::version::TLS13)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [min, max]
        .into_iter()
        .chain([&rustls::version::TLS12, &rustls::version::TLS13])
        .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
        .fold(Vec::new(), |mut acc, v| {
            if !acc.iter().any(|a| a.version == v.version) {
                acc.push(v);
            }
            acc
        });
    if versions.is_empty() {
        return Err(problem("min_version", "is above max_version"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_verifier(l, t, auth, &provider)?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| problem("min_version", format!("{e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| problem("key_file", format!("does not fit cert_file: {e}")))?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The client certificate verifier of `auth` (Go's `tls.ClientAuthType` semantics).
fn client_verifier(
    l: &Loaded,
    t: &TlsServerConfig,
    auth: ClientAuth,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, WebProblem> {
    Ok(match auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::Request | ClientAuth::RequireAny => Arc::new(AnyClientCert {
            mandatory: auth == ClientAuth::RequireAny,
            algs: provider.signature_verification_algorithms,
        }),
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let mut roots = RootCertStore::empty();
            let ca = pem(l, "client_ca_file", &t.client_ca_file, &t.client_ca)?;
            for c in CertificateDer::pem_slice_iter(&ca) {
                let c = c.map_err(|_| problem("client_ca_file", "is not PEM"))?;
                roots.add(c).map_err(|_| {
                    problem("client_ca_file", "holds a certificate that is not a CA")
                })?;
            }
            if roots.is_empty() {
                return Err(problem("client_ca_file", "holds no PEM CERTIFICATE block"));
            }
            let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let b = if auth == ClientAuth::VerifyIfGiven {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build()
                .map_err(|e| problem("client_ca_file", format!("cannot be used: {e}")))?
        }
    })
}

fn rank(v: &rustls::SupportedProtocolVersion) -> u8 {
    match v.version {
        rustls::ProtocolVersion::TLSv1_3 => 3,
        _ => 2,
    }
}

fn version(
    s: &str,
    key: &str,
    default: &'static rustls::SupportedProtocolVersion,
) -> Result<&'static rustls::SupportedProtocolVersion, WebProblem> {
    if s.is_empty() {
        return Ok(default);
    }
    tls_version(s).ok_or_else(|| {
        problem(
            key,
            "use TLS12 or TLS13 (TLS10 and TLS11 are not offered: they are deprecated, RFC 8996)",
        )
    })
}

/// `RequestClientCert` / `RequireAnyClientCert`: any certificate, but the client must prove it
/// holds the key (the handshake signature is verified), like Go's crypto/tls.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::web_config::WebConfig;

    fn loaded(t: TlsServerConfig) -> Loaded {
        Loaded {
            path: "/nonexistent/web.yml".into(),
            config: WebConfig {
                tls_server_config: Some(t),
                ..WebConfig::default()
            },
        }
    }

    fn tls(auth: &str, with_ca: bool) -> TlsServerConfig {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        TlsServerConfig {
            cert: c.cert.pem(),
            key: c.key_pair.serialize_pem(),
            client_ca: if with_ca { c.cert.pem() } else { String::new() },
            client_auth_type: auth.into(),
            ..TlsServerConfig::default()
        }
    }

    fn built(t: TlsServerConfig) -> Result<Arc<ServerConfig>, String> {
        let l = loaded(t);
        let t = l.tls().unwrap().clone();
        build(&l, &t).map_err(|p| p.key)
    }

    #[test]
    fn every_client_auth_type_builds_and_asks_as_go_does() {
        for (auth, ca, offered, mandatory) in [
            ("", false, false, false),
            ("NoClientCert", false, false, false),
            ("RequestClientCert", false, true, false),
            ("RequireAnyClientCert", false, true, true),
            ("VerifyClientCertIfGiven", true, true, false),
            ("RequireAndVerifyClientCert", true, true, true),
        ] {
            built(tls(auth, ca)).unwrap_or_else(|k| panic!("{auth}: {k}"));
            let t = tls(auth, ca);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let kind = ClientAuth::parse(auth).unwrap();
            let v = client_verifier(&loaded(t.clone()), &t, kind, &provider)
                .unwrap_or_else(|p| panic!("{auth}: {}", p.key));
            assert_eq!(v.offer_client_auth(), offered, "{auth}");
            assert_eq!(
                v.offer_client_auth() && v.client_auth_mandatory(),
                mandatory,
                "{auth}"
            );
        }
    }

    #[test]
    fn the_toolkits_errors_are_kept() {
        let no_ca = built(tls("RequireAndVerifyClientCert", false));
        assert_eq!(no_ca.unwrap_err(), "tls_server_config.client_ca_file");
        let ca_without_policy = built(tls("NoClientCert", true));
        assert_eq!(
            ca_without_policy.unwrap_err(),
            "tls_server_config.client_auth_type"
        );
        let mut t = tls("", false);
        t.min_version = "TLS10".into();
        assert_eq!(built(t).unwrap_err(), "tls_server_config.min_version");
        let mut t = tls("", false);
        t.min_version = "TLS13".into();
        t.max_version = "TLS12".into();
        assert_eq!(built(t).unwrap_err(), "tls_server_config.min_version");
        let mut t = tls("", false);
        t.key = tls("", false).key;
        assert_eq!(built(t).unwrap_err(), "tls_server_config.key_file");
    }
}
