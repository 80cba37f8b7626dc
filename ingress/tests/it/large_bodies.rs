//! The S3 claim check (`LARGE_BODY_BUCKET`): bodies the row cannot hold go to S3 first, the row
//! and the message carry the pointer, and every failure keeps the promise.

use http::StatusCode;
use ingress::{Conflicted, Delivery, DuplicateOf, Outcome};
use shared::large_body::{STATE_SENT, STATE_UNSENT};
use shared::signature::SignatureScheme;

use crate::binary::{http_exchange, start_http_with};
use crate::rules::{post, signed};
use crate::support::{has, s, IngressStack, Stack};

/// A JSON webhook of exactly `size` bytes.
pub fn json_of_size(size: usize, seed: &str) -> Vec<u8> {
    let head = format!(r#"{{"type":"catalog.exported","seed":"{seed}","data":""#);
    let tail = r#""}"#;
    let mut body = head.into_bytes();
    let filler = size - body.len() - tail.len();
    body.extend((0..filler).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]));
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), size);
    body
}

const SCHEME: SignatureScheme = SignatureScheme::StandardWebhooks;

#[tokio::test]
async fn a_3_mb_body_reaches_the_queue_as_an_extended_client_pointer_to_its_exact_bytes() {
    let stack = Stack::new().await;
    let ingress = stack.ingress_with_bucket(None).await;
    let body = json_of_size(3_000_000, "3mb");

    let handled = post(&ingress, &signed(&SCHEME, "msg_large_1", &body), &body).await;

    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(handled.metrics.get("LargeBodyStored"), 1.0);
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let key = format!("market:msg_large_1/{}", shared::event::sha256_hex(&body));
    assert_eq!(
        message.body,
        format!(
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{{"s3BucketName":"{}","s3Key":"{key}"}}]"#,
            stack.bucket
        )
    );
    assert_eq!(message.attribute("ExtendedPayloadSize"), Some("3000000"));
    assert_eq!(message.attribute("event-id"), Some("msg_large_1"));
    assert_eq!(message.attribute("event-type"), Some("catalog.exported"));
    assert_eq!(message.attribute("body-encoding"), None);
    assert!(
        stack.worker_body(message).await == body,
        "the object is byte-exact"
    );

    let row = stack.row("market:msg_large_1").await.expect("outbox row");
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert!(
        !has(&row, "body"),
        "the row holds the pointer, not the body"
    );
    assert_eq!(s(&row, "body_s3_bucket"), Some(stack.bucket.clone()));
    assert_eq!(s(&row, "body_s3_key"), Some(key.clone()));
    assert_eq!(row["body_size"].as_n().unwrap(), "3000000");
    let row_bytes = shared::aws::dynamodb::item_size::item_size(&row);
    assert!(
        row_bytes < 1024,
        "a pointer row stays small: {row_bytes} bytes"
    );
    // Sent: the object may now expire (its age restarted when it was re-tagged).
    assert_eq!(stack.object(&key).await.1.as_deref(), Some(STATE_SENT));
}

#[tokio::test]
async fn bodies_up_to_what_the_row_holds_stay_inline_and_one_byte_more_goes_to_s3() {
    let stack = Stack::new().await;
    let ingress = stack.ingress_with_bucket(None).await;
    let limit = shared::large_body::MAX_INLINE_BODY_BYTES;
    let under = json_of_size(limit, "under");
    let over = json_of_size(limit + 1, "over");

    post(&ingress, &signed(&SCHEME, "msg_under", &under), &under).await;
    post(&ingress, &signed(&SCHEME, "msg_over", &over), &over).await;

    let messages = stack.drain(&stack.queue_url).await;
    let by_id = |id: &str| {
        messages
            .iter()
            .find(|m| m.attribute("event-id") == Some(id))
            .unwrap()
    };
    assert_eq!(by_id("msg_under").body.as_bytes(), under.as_slice());
    assert_eq!(by_id("msg_under").attribute("ExtendedPayloadSize"), None);
    assert!(stack.worker_body(by_id("msg_over")).await == over);
    let under_row = stack.row("market:msg_under").await.unwrap();
    assert!(has(&under_row, "body") && !has(&under_row, "body_s3_key"));
    let over_row = stack.row("market:msg_over").await.unwrap();
    assert!(!has(&over_row, "body") && has(&over_row, "body_s3_key"));
    assert_eq!(stack.object_keys().await.len(), 1);
}

#[tokio::test]
async fn without_a_bucket_a_body_over_what_the_row_holds_gets_413_and_nothing_is_written() {
    let stack = Stack::new().await;
    let ingress = stack
        .ingress_with(&[("MAX_BODY_BYTES", "393216")], None, None)
        .await;
    let over = json_of_size(shared::large_body::MAX_INLINE_BODY_BYTES + 1, "nobucket");

    let handled = post(&ingress, &signed(&SCHEME, "msg_nobucket", &over), &over).await;

    assert_eq!(handled.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn s3_failing_answers_500_and_writes_no_row_and_no_message() {
    let stack = Stack::new().await;
    let dead = format!("http://127.0.0.1:{}", crate::binary::free_port());
    let ingress = stack.ingress_with_bucket(Some(&dead)).await;
    let body = json_of_size(500_000, "s3down");

    let handled = post(&ingress, &signed(&SCHEME, "msg_s3_down", &body), &body).await;

    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(handled.outcome, Outcome::Failed);
    assert_eq!(handled.metrics.get("LargeBodyWriteFailed"), 1.0);
    assert_eq!(
        stack.row_count().await,
        0,
        "nothing the sweeper could take for an event"
    );
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn with_the_table_down_the_pointer_still_reaches_the_queue() {
    let stack = Stack::new().await;
    let overrides = [
        ("LARGE_BODY_BUCKET", stack.bucket.as_str()),
        ("MAX_BODY_BYTES", "6291456"),
        ("OUTBOX_TABLE", "no-such-table"),
    ];
    let ingress = stack.ingress_with(&overrides, None, None).await;
    let body = json_of_size(700_000, "notable");

    let handled = post(&ingress, &signed(&SCHEME, "msg_no_table", &body), &body).await;

    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
    );
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert!(stack.worker_body(&messages[0]).await == body);
    // A row may exist after all (a PutItem that failed after writing): the object stays unsent.
    let key = format!("market:msg_no_table/{}", shared::event::sha256_hex(&body));
    assert_eq!(stack.object(&key).await.1.as_deref(), Some(STATE_UNSENT));
}

#[tokio::test]
async fn a_second_body_under_the_same_id_gets_its_own_object_row_and_message() {
    let stack = Stack::new().await;
    let ingress = stack.ingress_with_bucket(None).await;
    let first = json_of_size(450_000, "first");
    let second = json_of_size(450_000, "second");

    post(&ingress, &signed(&SCHEME, "msg_conflict", &first), &first).await;
    let again = post(&ingress, &signed(&SCHEME, "msg_conflict", &first), &first).await;
    let conflict = post(&ingress, &signed(&SCHEME, "msg_conflict", &second), &second).await;

    assert_eq!(again.outcome, Outcome::Duplicate(DuplicateOf::Sent));
    assert_eq!(
        conflict.outcome,
        Outcome::IdConflict(Conflicted::Accepted(Delivery::Enqueued))
    );
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 2);
    let mut bodies = Vec::new();
    for message in &messages {
        bodies.push(stack.worker_body(message).await);
    }
    assert!(bodies.contains(&first) && bodies.contains(&second));
    let row = stack.row("market:msg_conflict").await.unwrap();
    let first_key = format!("market:msg_conflict/{}", shared::event::sha256_hex(&first));
    assert_eq!(s(&row, "body_s3_key"), Some(first_key.clone()));
    assert!(stack.object(&first_key).await.0 == first);
    let second_row = stack
        .row(&format!(
            "market:msg_conflict#{}",
            shared::event::sha256_hex(&second)
        ))
        .await
        .expect("the second body's row");
    let second_key = format!("market:msg_conflict/{}", shared::event::sha256_hex(&second));
    assert_eq!(s(&second_row, "body_s3_key"), Some(second_key.clone()));
    // Both objects belong to rows marked sent, so both may expire.
    assert_eq!(
        stack.object(&first_key).await.1.as_deref(),
        Some(STATE_SENT)
    );
    assert_eq!(
        stack.object(&second_key).await.1.as_deref(),
        Some(STATE_SENT)
    );
}

#[tokio::test]
async fn the_built_binary_takes_a_3_mb_signed_body_over_http() {
    let stack = Stack::new().await;
    let ingress = start_http_with(
        &stack,
        &[
            ("LARGE_BODY_BUCKET", stack.bucket.as_str()),
            ("MAX_BODY_BYTES", "6291456"),
        ],
    );
    let body = json_of_size(3 * 1024 * 1024, "binary");
    let signed_headers = signed(&SCHEME, "msg_binary_3mb", &body);
    let headers: Vec<(&str, String)> = signed_headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap().to_owned()))
        .collect();

    let (status, _) = http_exchange(ingress.address, "POST", &headers, &body);

    assert_eq!(status, 200, "{}", ingress.log_text());
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert!(stack.worker_body(&messages[0]).await == body);
    let row = stack.row("market:msg_binary_3mb").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    let log = ingress.log_text();
    assert!(
        !log.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "no body in the log"
    );
}
