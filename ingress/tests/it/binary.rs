//! End to end through the built `ingress` binary: its own HTTP server, a webhook signed by the
//! provider's own SDK, and cold-start failures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{repo_root, s, Stack};

/// A running ingress binary, killed when dropped.
pub struct RunningIngress {
    pub child: Child,
    pub address: SocketAddr,
    /// Where its stdout (JSON logs and EMF lines) goes.
    pub log: std::path::PathBuf,
}

impl RunningIngress {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningIngress {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary's environment for `stack`, as a deployment would set it.
pub fn binary_command(stack: &Stack, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingress"));
    command
        .env_clear()
        .envs(stack.binary_env())
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub fn start_http(stack: &Stack) -> RunningIngress {
    start_http_with(stack, &[])
}

/// The binary serving HTTP for `stack`, with `extra` settings (e.g. another signature scheme).
pub fn start_http_with(stack: &Stack, extra: &[(&str, &str)]) -> RunningIngress {
    let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::env::temp_dir().join(format!("ingress-it-{}.log", address.port()));
    let listen = address.to_string();
    let mut settings = vec![("INGRESS_LISTEN", listen.as_str())];
    settings.extend_from_slice(extra);
    let mut child = binary_command(stack, &settings)
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn the ingress binary");
    let started = Instant::now();
    while TcpStream::connect(address).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("ingress exited with {status}: {stderr}");
        }
        // A guard against a hang only: a loaded machine may take seconds to start it.
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "ingress did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    RunningIngress {
        child,
        address,
        log,
    }
}

/// A minimal HTTP/1.1 exchange; returns the status code.
pub fn http_post(
    address: SocketAddr,
    method: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> u16 {
    http_exchange(address, method, headers, body).0
}

/// A minimal HTTP/1.1 exchange; returns the status code and the response body.
pub fn http_exchange(
    address: SocketAddr,
    method: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    http_exchange_at(address, method, "/hook", headers, body)
}

/// [`http_exchange`] to the request target `target` (path and query).
pub fn http_exchange_at(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before the whole body is written.
    let _ = stream.write_all(body);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn send_webhook(address: SocketAddr, args: &[&str]) -> (bool, String) {
    let root = repo_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/send_webhook.py"))
        .args(["--url", &format!("http://{address}/")])
        .args(args)
        .env("WEBHOOK_SECRET", crate::support::STANDARD_SECRET)
        .env("SIGNATURE_SCHEME", "standard-webhooks")
        .output()
        .expect("run scripts/send_webhook.py");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn webhook_signed_by_the_standard_webhooks_sdk_is_accepted_by_the_binary() {
    let stack = Stack::new().await;
    let ingress = start_http(&stack);
    let body = r#"{"type":"product.review_status_changed","data":{"status":"approved","note":"caf\u00e9"}}"#;

    let (ok, out) = send_webhook(ingress.address, &["--id", "msg_sdk_1", body]);
    assert!(ok, "{out}");
    assert!(out.starts_with("200"), "{out}");
    let (forged_ok, forged) = send_webhook(
        ingress.address,
        &["--id", "msg_sdk_forged", "--forge", body],
    );
    assert!(!forged_ok && forged.starts_with("404"), "{forged}");

    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, body);
    assert_eq!(messages[0].attribute("event-id"), Some("msg_sdk_1"));
    assert_eq!(
        messages[0].attribute("event-type"),
        Some("product.review_status_changed")
    );
    let row = stack.row("market:msg_sdk_1").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert!(stack.row("market:msg_sdk_forged").await.is_none());

    // The log holds JSON lines and EMF records, never the body or the secret.
    let log = ingress.log_text();
    assert!(
        !log.contains("approved") && !log.contains(crate::support::STANDARD_SECRET),
        "{log}"
    );
    let emf: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert_eq!(
        emf.iter().filter(|m| m["Accepted"] == 1.0).count(),
        1,
        "{log}"
    );
    assert_eq!(
        emf.iter().filter(|m| m["Rejected"] == 1.0).count(),
        1,
        "{log}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains("\"event_id\":\"msg_sdk_1\"")),
        "{log}"
    );
}

#[tokio::test]
async fn binary_answers_405_and_413_without_reading_the_body() {
    let stack = Stack::new().await;
    let ingress = start_http(&stack);
    assert_eq!(http_post(ingress.address, "GET", &[], b""), 405);
    let huge = vec![b'a'; 262_145];
    assert_eq!(http_post(ingress.address, "POST", &[], &huge), 413);
    assert_eq!(http_post(ingress.address, "POST", &[], b"{}"), 404);
    assert_eq!(stack.row_count().await, 0);
}

fn exit_with_message(mut command: Command) -> (bool, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[tokio::test]
async fn cold_start_stops_with_a_message_naming_the_problem() {
    let stack = Stack::new().await;

    let mut missing = binary_command(&stack, &[]);
    missing.env_remove("OUTBOX_TABLE");
    let (ok, text) = exit_with_message(missing);
    assert!(!ok);
    assert!(
        text.contains("OUTBOX_TABLE is required but not set"),
        "{text}"
    );

    let (ok, text) = exit_with_message(binary_command(
        &stack,
        &[("SECRET_PARAMETER", "/no/such/parameter")],
    ));
    assert!(!ok);
    assert!(text.contains("/no/such/parameter"), "{text}");

    // A URL-signing scheme without PUBLIC_URL would have to trust the request's Host.
    for scheme in ["twilio", "square", "hubspot"] {
        let (ok, text) = exit_with_message(binary_command(&stack, &[("SIGNATURE_SCHEME", scheme)]));
        assert!(!ok, "{scheme}");
        assert!(
            text.contains("PUBLIC_URL is invalid")
                && text.contains(&format!("SIGNATURE_SCHEME={scheme} signs the URL")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_standard_webhooks_secret_that_is_not_one_stops_the_cold_start_naming_the_variable() {
    // The spec's example secret without its `whsec_` prefix, and one of 10 bytes.
    for (secret, expected) in [
        (
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "neither the `whsec_` prefix",
        ),
        ("whsec_b2xkLXNlY3JldA==", "is 10 bytes after `whsec_`"),
    ] {
        let stack = Stack::with_secret(secret).await;
        let (ok, text) = exit_with_message(binary_command(&stack, &[]));
        assert!(!ok, "{secret}");
        assert!(
            text.contains("(SECRET_PARAMETER)") && text.contains(expected),
            "{text}"
        );
        assert!(
            !text.contains(secret),
            "the secret reached the message: {text}"
        );
    }
}

#[test]
fn help_names_every_variable_and_an_unknown_argument_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_ingress"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for name in ingress::ENV_VARS.iter().chain(ingress::LOCAL_ONLY_ENV_VARS) {
        assert!(help.contains(name), "--help does not name {name}");
    }

    let output = Command::new(env!("CARGO_BIN_EXE_ingress"))
        .arg("--listen")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected arguments: --listen"));
}

#[tokio::test]
async fn a_route_on_an_unsigned_header_is_warned_about_at_cold_start() {
    let stack = Stack::new().await;
    let routes = format!(
        r#"[{{"name":"by-topic","header":"X-Topic","equals":"a","queue_url":"{}-routed"}},
           {{"name":"by-type","pointer":"/type","equals":"b","queue_url":"{}-typed"}}]"#,
        stack.queue_url, stack.queue_url
    );
    let ingress = start_http_with(&stack, &[("ROUTES", routes.as_str())]);

    let log = ingress.log_text();
    let warning = log
        .lines()
        .find(|line| line.contains("not covered by the signature"))
        .unwrap_or_else(|| panic!("no warning: {log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("by-topic") && warning.contains("x-topic"),
        "{warning}"
    );
    assert!(!log.contains("by-type"), "a pointer route is signed: {log}");
}
