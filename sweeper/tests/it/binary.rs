//! The built `sweeper` binary: one local sweep, and one sweep per invocation under a Lambda
//! Runtime API fed an EventBridge Scheduler event.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use e2e::testing::{s, sdk_config, RuntimeApi, Stack};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::CallLimits;
use shared::event::AcceptedEvent;
use shared::time::now_millis;

fn sweeper_command(stack: &Stack) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sweeper"));
    command
        .env_clear()
        .envs(stack.binary_env())
        .env("GRACE_SECS", "60")
        .stdin(Stdio::null());
    command
}

async fn one_old_pending_row(stack: &Stack, id: &str) -> String {
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    let outbox = DynamoDbOutbox::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &stack.table,
        "market",
        4,
    );
    let event = AcceptedEvent::new(
        "market",
        id.to_owned(),
        None,
        Bytes::from_static(b"\x00binary"),
        now_millis() - 61_000,
    );
    outbox.insert_pending(&event).await.unwrap();
    event.key
}

#[tokio::test]
async fn one_local_sweep_sends_the_pending_row_and_prints_emf() {
    let stack = Stack::new().await;
    let key = one_old_pending_row(&stack, "evt-binary-local").await;

    let output = sweeper_command(&stack).output().unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let emf: serde_json::Value = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line.get("_aws").is_some())
        .expect("an EMF line");
    assert_eq!(emf["Resent"], 1.0);
    assert_eq!(emf["PendingCount"], 0.0);
    assert_eq!(emf["Source"], "market");
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].raw_body(), b"\x00binary");
    assert_eq!(
        s(&stack.row(&key).await.unwrap(), "status").as_deref(),
        Some("sent")
    );
}

#[tokio::test]
async fn migrate_legacy_keys_moves_the_row_and_reports_json() {
    let stack = Stack::new().await;
    let key = one_old_pending_row(&stack, "evt-binary-legacy").await;
    let legacy = format!("pending#{}", shared::event::shard_of(&key, 4));
    stack
        .set_row_attribute(&key, "unsent_key", AttributeValue::S(legacy))
        .await;

    let output = sweeper_command(&stack)
        .arg("--migrate-legacy-keys")
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .find(|line: &serde_json::Value| line.get("moved").is_some() && line.get("level").is_none())
        .expect("a JSON report line");
    assert_eq!(
        report,
        serde_json::json!({"moved": 1, "other_sources": 0, "changed_meanwhile": 0})
    );
    let row = stack.row(&key).await.unwrap();
    assert_eq!(
        s(&row, "unsent_key"),
        Some(format!(
            "pending#market#{}",
            shared::event::shard_of(&key, 4)
        ))
    );
}

#[tokio::test]
async fn bad_arguments_and_configuration_stop_with_a_clear_message() {
    let stack = Stack::new().await;
    let output = sweeper_command(&stack)
        .args(["--every", "soon"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--every takes a whole number of seconds")
    );

    let output = sweeper_command(&stack)
        .env_remove("QUEUE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("QUEUE_URL is required but not set"));

    let output = sweeper_command(&stack).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for name in sweeper::ENV_VARS {
        assert!(help.contains(name), "--help does not name {name}");
    }
}

#[tokio::test]
async fn each_scheduled_invocation_is_one_sweep_under_the_lambda_runtime() {
    let stack = Stack::new().await;
    let key = one_old_pending_row(&stack, "evt-lambda-sweep").await;
    let runtime = RuntimeApi::start().await;
    // What EventBridge Scheduler sends with its default (empty) input.
    runtime.invoke("sweep-1", "{}".to_owned());

    let mut child = sweeper_command(&stack)
        .envs(runtime.lambda_env("sweeper"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let answer = runtime.next_answer(Duration::from_secs(120)).await;
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(answer.kind, "response", "{answer:?}");
    let report: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(report["resent"], 1);
    assert_eq!(report["stopped_early"], false);
    assert_eq!(
        s(&stack.row(&key).await.unwrap(), "status").as_deref(),
        Some("sent")
    );
}

/// A listener that accepts connections, never answers, and counts them.
async fn counting_black_hole() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://{address}"), accepted)
}

/// Polls `done` every 50 ms; `false` if `guard` (only a hang guard) passed first.
async fn wait_for(guard: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = std::time::Instant::now();
    while !done() {
        if started.elapsed() > guard {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test]
async fn a_periodic_sweeper_stops_on_sigterm_even_in_the_middle_of_a_sweep() {
    let stack = Stack::new().await;
    // Every DynamoDB call hangs, so the first sweep is still running when the signal comes.
    let (hole, calls) = counting_black_hole().await;
    let mut child = sweeper_command(&stack)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &hole)
        .args(["--every", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The signal goes once a sweep is under way (its first call reached the hole), however long
    // the binary took to start: its handler is installed before the first sweep.
    assert!(
        wait_for(Duration::from_secs(120), || calls.load(Ordering::SeqCst)
            > 0)
        .await,
        "the sweeper never called DynamoDB"
    );

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let exited = wait_for(Duration::from_secs(120), || {
        matches!(child.try_wait(), Ok(Some(_)))
    })
    .await;
    if !exited {
        let _ = child.kill();
    }
    assert!(exited, "the sweeper did not exit after SIGTERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
