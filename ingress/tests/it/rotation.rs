//! Secret rotation without a restart: the SSM parameter changes under a running ingress binary.

use std::time::{Duration, Instant};

use shared::signature::{SignatureScheme, SigningKey};
use shared::time::now_millis;

use crate::binary::{http_post, start_http_with, RunningIngress};
use crate::support::Stack;

const OLD: &str = "github-secret-old-7f3a";
const NEW: &str = "github-secret-new-91c2";

/// POSTs `body` signed with `secret` as GitHub would; returns the status.
fn post_signed(ingress: &RunningIngress, secret: &str, delivery: &str, body: &[u8]) -> u16 {
    let key = SigningKey::from_bytes(secret.as_bytes().to_vec());
    let signed = SignatureScheme::GitHub.sign(&key, delivery, now_millis() / 1000, body);
    let headers: Vec<(&str, String)> = signed
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    http_post(ingress.address, "POST", &headers, body)
}

fn sleep_until(instant: Instant) {
    std::thread::sleep(instant.saturating_duration_since(Instant::now()));
}

#[tokio::test]
async fn a_rotated_secret_is_picked_up_by_a_running_binary_without_a_restart() {
    let stack = Stack::with_secret(OLD).await;
    let ingress = start_http_with(
        &stack,
        &[("SIGNATURE_SCHEME", "github"), ("SECRET_REFRESH_SECS", "1")],
    );
    // The binary read the parameter before it started listening, so before this instant.
    let started = Instant::now();
    // Every read of the parameter is at least 10 s after the previous one.
    let gap = Duration::from_millis(10_500);
    let body = br#"{"zen":"Keep it logically awesome."}"#;

    assert_eq!(post_signed(&ingress, OLD, "d-old-1", body), 200);

    // Step 1 of a rotation: both secrets. The new one verifies once 10 s have passed since the
    // last read. (That failures within those 10 s do not read SSM again depends on how fast
    // this test runs, so `SecretCache`'s unit tests prove it on a clock of their own.)
    stack.put_secret(&format!("{OLD} {NEW}")).await;
    sleep_until(started + gap);
    assert_eq!(post_signed(&ingress, NEW, "d-new-1", body), 200);
    assert_eq!(post_signed(&ingress, OLD, "d-old-2", body), 200);

    // Step 2: only the new secret. The old one stops working at the next read.
    let second_read = Instant::now();
    stack.put_secret(NEW).await;
    sleep_until(second_read + gap);
    assert_eq!(post_signed(&ingress, OLD, "d-old-3", body), 404);
    assert_eq!(post_signed(&ingress, NEW, "d-new-2", body), 200);

    let log = ingress.log_text();
    assert!(
        !log.contains(OLD) && !log.contains(NEW),
        "a secret reached the log"
    );
    let key_index_of = |delivery: &str| {
        log.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|line| line["event_id"] == delivery)
            .and_then(|line| line["key_index"].as_u64())
    };
    assert_eq!(key_index_of("d-old-1"), Some(0), "{log}");
    assert_eq!(key_index_of("d-new-1"), Some(1), "{log}");
    assert_eq!(key_index_of("d-old-2"), Some(0), "{log}");
    assert_eq!(key_index_of("d-new-2"), Some(0), "{log}");
    assert!(log.contains("signing secrets re-read"), "{log}");
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 4);
}
