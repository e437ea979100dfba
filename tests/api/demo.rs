//! `commonplace demo` posts through the real xAPI API, over http or https, and fills
//! every mode; an endpoint it cannot reach is named with the reason; it shows its
//! progress on a terminal.

use std::io::Write;

use commonplace::demo::DemoOptions;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use commonplace::auth::{NewSecret, Scope};

use crate::helpers::{spawn_app_with, TestApp};

#[tokio::test]
async fn a_small_demo_run_populates_every_mode() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let options = commonplace::demo::DemoOptions {
        endpoint: app.url("/xapi/"),
        key: app.key.clone(),
        secret: app.secret.clone(),
        learners: 16,
        weeks: 3,
        seed: 5,
    };
    let posted = commonplace::demo::run(&options).await.unwrap();
    let client = app.pool.get().await.unwrap();
    let stored: i64 = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, posted);
    let body: Value = app
        .report("/reports/modes?bucket=month")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut modes: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    modes.sort();
    modes.dedup();
    assert_eq!(
        modes,
        ["directed", "guided", "self_directed", "self_planned"]
    );
    let teams: Value = app
        .report("/reports/teams")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 16 learners in 8 teams, known from `context.team` alone.
    let names: Vec<&str> = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"Design"), "{names:?}");
}

/// A TLS front for the app: a self-signed certificate for 127.0.0.1, in a PEM file a
/// client can be told to trust, and a listener that relays each connection to the app.
struct TlsFront {
    port: u16,
    certificate: tempfile::NamedTempFile,
}

async fn tls_front(app: &TestApp) -> TlsFront {
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::ServerConfig;

    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_pair.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![issued.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let mut certificate = tempfile::NamedTempFile::new().unwrap();
    certificate.write_all(issued.cert.pem().as_bytes()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = app.address;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to relay.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront { port, certificate }
}

fn options(app: &TestApp, endpoint: String) -> DemoOptions {
    DemoOptions {
        endpoint,
        key: app.key.clone(),
        secret: app.secret.clone(),
        learners: 2,
        weeks: 1,
        seed: 3,
    }
}

#[tokio::test]
async fn the_demo_posts_over_https_to_a_trusted_certificate() {
    let app = spawn_app_with(|_| {}).await;
    let front = tls_front(&app).await;
    let endpoint = format!("https://127.0.0.1:{}/xapi/", front.port);

    // The certificate is trusted through SSL_CERT_FILE, as an operator would trust a
    // private CA: the real command posts through TLS to the LRS behind it.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args([
            "demo",
            "--endpoint",
            &endpoint,
            "--learners",
            "2",
            "--weeks",
            "1",
        ])
        .args(["--key", &app.key, "--secret", &app.secret])
        .env("SSL_CERT_FILE", front.certificate.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = app.stored_statements().await;
    assert!(count > 0);
    assert!(
        stdout.contains(&format!("posted {count} Statements")),
        "{stdout}"
    );

    // Without that trust, the same endpoint is refused for its certificate, and nothing
    // more is stored.
    let error = commonplace::demo::run(&options(&app, endpoint.clone()))
        .await
        .unwrap_err();
    assert!(
        error.starts_with(&format!("cannot reach {endpoint}statements: "))
            && error.contains("certificate"),
        "{error}"
    );
    assert_eq!(app.stored_statements().await, count);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_with_the_reason() {
    let app = spawn_app_with(|_| {}).await;
    // A port that was just free and is closed again: the connection is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("https://127.0.0.1:{port}/xapi");
    let error = commonplace::demo::run(&options(&app, endpoint))
        .await
        .unwrap_err();
    assert!(
        error.starts_with(&format!(
            "cannot reach https://127.0.0.1:{port}/xapi/statements: "
        )) && error.to_lowercase().contains("connection refused")
            && error.contains("is the LRS running"),
        "{error}"
    );
    assert!(!error.contains("scheme"), "{error}");

    let error = commonplace::demo::run(&options(&app, "ftp://127.0.0.1/xapi/".into()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        "the endpoint 'ftp://127.0.0.1/xapi/' is not an http:// or https:// URL"
    );
}

/// The real command, posting to `app` with `credential`.
fn demo_command(app: &TestApp, credential: &NewSecret) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"));
    command
        .args(["demo", "--endpoint", &app.url("/xapi/")])
        .args(["--learners", "8", "--weeks", "2"])
        .args(["--key", &credential.key, "--secret", &credential.secret])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null());
    command
}

#[tokio::test]
async fn the_demo_draws_progress_on_a_terminal_and_ends_with_a_summary_either_way() {
    use std::io::Read;

    let app = spawn_app_with(|_| {}).await;
    // A key and secret beginning with `-`, as a generated (base64url) one now and then
    // does: the command line must take them as values, not as flags.
    let credential = app
        .chosen_credential(
            "-demo-writer",
            "-Ia-secret-that-looks-like-a-flag-0123456789",
            &[Scope::StatementsWrite],
        )
        .await;

    // stderr a pipe (a log file, CI): no progress drawn, only the summary on stdout.
    let piped = tokio::task::spawn_blocking({
        let mut command = demo_command(&app, &credential);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&piped.stdout);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stdout}{stderr}");
    let first = app.stored_statements().await;
    assert!(
        stdout.starts_with(&format!("posted {first} Statements for 8 learners")),
        "{stdout}"
    );
    assert!(
        !stderr.contains("statements,"),
        "progress drawn into a pipe: {stderr}"
    );

    // stderr a terminal: the bar counts the Statements posted, then the same summary.
    let terminal = nix::pty::openpty(None, None).unwrap();
    let child = {
        let mut command = demo_command(&app, &credential);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::from(terminal.slave));
        // The command (and with it this process's end of the terminal) is dropped here,
        // so reading the terminal ends when the demo exits.
        command.spawn().unwrap()
    };
    let (drawn, output) = tokio::task::spawn_blocking(move || {
        let mut screen = std::fs::File::from(terminal.master);
        let mut drawn = Vec::new();
        let mut chunk = [0u8; 4096];
        // Linux answers EIO once the other end is closed.
        while let Ok(n @ 1..) = screen.read(&mut chunk) {
            drawn.extend_from_slice(&chunk[..n]);
        }
        (drawn, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    let drawn = String::from_utf8_lossy(&drawn);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{drawn}");
    let posted = app.stored_statements().await - first;
    assert_eq!(posted, first, "the same seed posts the same data set");
    assert!(
        drawn.contains("posting [") && drawn.contains(&format!("{posted}/{posted} statements")),
        "{drawn}"
    );
    assert!(
        stdout.starts_with(&format!("posted {posted} Statements for 8 learners")),
        "{stdout}"
    );
}
