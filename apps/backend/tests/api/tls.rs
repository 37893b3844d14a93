//! HTTPS in the binary (`TLS_CERT_FILE`/`TLS_KEY_FILE`): real TLS handshakes against the
//! running server with certificates made by the test's own CA.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::helpers::{free_port, spawn_app_on, startup_error, TestApp, TestCa};

/// A server with HTTPS on its port, and where its certificate files are.
struct HttpsApp {
    _app: TestApp,
    port: u16,
    dir: tempfile::TempDir,
}

impl HttpsApp {
    async fn start(ca: &TestCa, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), ca.issue(&["localhost", "127.0.0.1"]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cert = dir.path().join("cert.pem").display().to_string();
        let key = dir.path().join("key.pem").display().to_string();
        let public_url = format!("https://localhost:{port}");
        let mut vars = vec![
            ("TLS_CERT_FILE", cert.as_str()),
            ("TLS_KEY_FILE", key.as_str()),
            ("PUBLIC_URL", public_url.as_str()),
        ];
        vars.extend_from_slice(extra);
        let app = spawn_app_on(listener, &vars).await;
        Self {
            _app: app,
            port,
            dir,
        }
    }

    /// A client that trusts only the test CA and reaches `localhost` at the server.
    fn client(&self, ca: &TestCa) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
            .resolve(
                "localhost",
                std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            )
            .https_only(true)
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

fn write_pair(dir: &Path, (cert, key): (String, String)) {
    // Written beside and renamed into place, as certbot and mounted secrets do.
    for (name, pem) in [("cert.pem", cert), ("key.pem", key)] {
        let part = dir.join(format!("{name}.part"));
        std::fs::write(&part, pem).unwrap();
        std::fs::rename(&part, dir.join(name)).unwrap();
    }
}

/// A TLS handshake with the server: the certificate it presented and the protocol agreed
/// by ALPN; `None` when the handshake fails.
async fn handshake(ca: &TestCa, port: u16) -> Option<(CertificateDer<'static>, Option<Vec<u8>>)> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
        .unwrap();
    // The client on ring, the server on aws-lc-rs: two implementations agree.
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .ok()?;
    let session = stream.get_ref().1;
    let cert = session.peer_certificates()?.first()?.clone().into_owned();
    Some((cert, session.alpn_protocol().map(<[u8]>::to_vec)))
}

fn der_of(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

#[tokio::test]
async fn the_app_is_served_over_https_with_hsts_and_secure_cookies() {
    let ca = TestCa::new();
    let https = HttpsApp::start(&ca, &[]).await;
    let client = https.client(&ca);

    let health = client.get(https.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );

    // A guest's session cookie is only ever sent back over https.
    let guest = client
        .post(https.url("/api/auth/guest"))
        .header("origin", format!("https://localhost:{}", https.port))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(guest.status(), 201, "{:?}", guest.text().await);
    let cookie = guest.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // HTTP/2 is offered first (ALPN), HTTP/1.1 still works (reqwest above).
    let (_, alpn) = handshake(&ca, https.port).await.expect("handshake");
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

    // Nothing is answered in plain text on the TLS port.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", https.port))
        .await
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "plain HTTP was served on the TLS port"
    );
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let ca = TestCa::new();
    let https = HttpsApp::start(&ca, &[]).await;
    let first = std::fs::read_to_string(https.dir.path().join("cert.pem")).unwrap();
    let (served, _) = handshake(&ca, https.port).await.expect("handshake");
    assert_eq!(served, der_of(&first));

    let renewed = ca.issue(&["localhost"]);
    let renewed_der = der_of(&renewed.0);
    write_pair(https.dir.path(), renewed);
    let mut served = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (cert, _) = handshake(&ca, https.port).await.expect("handshake");
        if cert == renewed_der {
            served = Some(cert);
            break;
        }
    }
    assert_eq!(
        served,
        Some(renewed_der.clone()),
        "the renewal was never served"
    );

    // A renewal gone wrong (a key that does not fit, then a truncated file) keeps the
    // working pair: people are never locked out by a bad certificate job.
    let stranger = ca.issue(&["localhost"]);
    std::fs::write(https.dir.path().join("key.pem"), stranger.1).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    std::fs::write(https.dir.path().join("cert.pem"), "-----BEGIN CERT").unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cert, _) = handshake(&ca, https.port).await.expect("handshake");
    assert_eq!(cert, renewed_der);
    let health = https
        .client(&ca)
        .get(https.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn plain_http_is_redirected_to_the_public_https_address() {
    let ca = TestCa::new();
    let redirect_port = free_port();
    let redirect = redirect_port.to_string();
    let https = HttpsApp::start(&ca, &[("HTTP_REDIRECT_PORT", redirect.as_str())]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let response = client
        .post(format!("http://127.0.0.1:{redirect_port}/about/?from=mail"))
        // The target comes from PUBLIC_URL, never from what the request claims.
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://localhost:{}/about/?from=mail", https.port).as_str()
    );

    // Following it lands on the app over https.
    let followed = https
        .client(&ca)
        .get(response.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
}

#[tokio::test]
async fn unusable_certificate_settings_stop_the_server_with_a_clear_line() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.issue(&["localhost"]);
    let (_, other_key) = ca.issue(&["localhost"]);
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("cert.pem"), cert).unwrap();
    std::fs::write(path("key.pem"), key).unwrap();
    std::fs::write(path("other.pem"), other_key).unwrap();
    std::fs::write(path("junk.pem"), "not a certificate").unwrap();
    let (cert, key, other, junk) = (
        path("cert.pem"),
        path("key.pem"),
        path("other.pem"),
        path("junk.pem"),
    );
    let https = ("PUBLIC_URL", "https://solace.example");

    let mismatched =
        startup_error(&[("TLS_CERT_FILE", &cert), ("TLS_KEY_FILE", &other), https]).await;
    assert!(
        mismatched.contains("TLS_KEY_FILE: does not fit the certificate"),
        "{mismatched}"
    );

    let no_cert = startup_error(&[("TLS_CERT_FILE", &junk), ("TLS_KEY_FILE", &key), https]).await;
    assert!(
        no_cert.contains("TLS_CERT_FILE: no certificate"),
        "{no_cert}"
    );

    let missing = startup_error(&[
        ("TLS_CERT_FILE", &path("absent.pem")),
        ("TLS_KEY_FILE", &key),
        https,
    ])
    .await;
    assert!(missing.contains("TLS_CERT_FILE: cannot read"), "{missing}");

    let config = |vars: &[(&str, &str)]| {
        solace_backend::Config::from_vars(
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .unwrap_err()
        .to_string()
    };
    assert!(config(&[("TLS_CERT_FILE", &cert)]).contains("must be set together"));
    assert!(config(&[
        ("TLS_CERT_FILE", &cert),
        ("TLS_KEY_FILE", &key),
        ("PUBLIC_URL", "http://solace.example"),
    ])
    .starts_with("PUBLIC_URL: must be https://"));
    assert!(config(&[("HTTP_REDIRECT_PORT", "80")]).contains("need TLS_CERT_FILE"));
}
