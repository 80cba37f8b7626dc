//! Bodies as the outbox stores them: compressed (`codec` zstd-d1) when that lowers the billed
//! write units, raw otherwise, and rows written before compression existed (every attribute
//! repeated, raw body, hex hash). Whatever the layout, the sweep sends the exact bytes received
//! and a duplicate delivery recognises its body.

use std::time::Duration;

use bytes::Bytes;
use e2e::samples::{legacy_pending_item, webhook, Layout, Provider};
use e2e::testing::{s, sdk_config, Stack};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::CallLimits;
use shared::event::{shard_of, AcceptedEvent};
use shared::large_body::{object_key, BodyPointer, STATE_SENT, STATE_UNSENT};
use shared::outbox::InsertOutcome;
use shared::time::now_millis;

use crate::sweeps::{adapters, far_deadline, sweeper_for, GRACE_MS, SHARDS};

fn sample(id: &str, provider: Provider, size: usize, received_at: i64) -> AcceptedEvent {
    AcceptedEvent::new(
        "market",
        id.to_owned(),
        Some("sample.event".into()),
        Bytes::from(webhook(provider, Layout::Compact, size, 42)),
        received_at,
    )
}

#[tokio::test]
async fn compressed_raw_and_legacy_rows_are_all_resent_byte_for_byte() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);
    let now = now_millis();
    let old = now - GRACE_MS - 1_000;
    let compressed = sample("big", Provider::Shopify, 8192, old);
    let small = sample("small", Provider::GitHub, 700, old);
    let legacy = sample("legacy", Provider::Stripe, 4096, old);
    for event in [&compressed, &small] {
        assert_eq!(
            outbox.insert_pending(event).await.unwrap(),
            InsertOutcome::Inserted
        );
    }
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(legacy_pending_item(
            &legacy,
            shard_of(&legacy.key, SHARDS),
        )))
        .send()
        .await
        .expect("PutItem of a row in the old layout");

    let big_row = stack.row(&compressed.key).await.unwrap();
    assert_eq!(s(&big_row, "codec").as_deref(), Some("zstd-d1"));
    let stored = big_row["body"].as_b().unwrap().as_ref().len();
    assert!(stored * 2 < compressed.body.len(), "{stored} bytes stored");
    let small_row = stack.row(&small.key).await.unwrap();
    assert!(
        !small_row.contains_key("codec"),
        "a row already at the minimum stays raw"
    );
    assert_eq!(small_row["body"].as_b().unwrap().as_ref(), &small.body[..]);

    let report = sweeper.sweep_once(now, far_deadline()).await;

    assert_eq!((report.resent, report.errors), (3, 0), "{report:?}");
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 3);
    for sent in [&compressed, &small, &legacy] {
        let message = messages
            .iter()
            .find(|m| m.attribute("event-id") == Some(sent.event_id.as_str()))
            .unwrap();
        assert_eq!(message.raw_body(), sent.body.to_vec());
        assert_eq!(message.attribute("source"), Some("market"));
        assert_eq!(message.attribute("event-type"), Some("sample.event"));
    }
}

#[tokio::test]
async fn a_duplicate_recognises_a_compressed_body_and_tells_a_different_one() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let event = sample("dup", Provider::Stripe, 8192, now_millis());
    assert_eq!(
        outbox.insert_pending(&event).await.unwrap(),
        InsertOutcome::Inserted
    );

    let mut redelivered = event.clone();
    redelivered.received_at += 1;
    match outbox.insert_pending(&redelivered).await.unwrap() {
        InsertOutcome::AlreadyThere(existing) => {
            assert_eq!(existing.body_sha256, event.body_sha256);
        }
        other => panic!("expected the existing row, got {other:?}"),
    }
    let mut other_body = sample("dup", Provider::Stripe, 8192, now_millis());
    other_body.body = Bytes::from(webhook(Provider::Stripe, Layout::Compact, 8192, 43));
    other_body.body_sha256 = shared::event::sha256_hex(&other_body.body);
    match outbox.insert_pending(&other_body).await.unwrap() {
        InsertOutcome::AlreadyThere(existing) => {
            assert_eq!(
                existing.body_sha256, event.body_sha256,
                "the first body is kept"
            );
            assert_ne!(existing.body_sha256, other_body.body_sha256);
        }
        other => panic!("expected the existing row, got {other:?}"),
    }
    let row = stack.row(&event.key).await.unwrap();
    assert!(
        !row.contains_key("body_sha256"),
        "the hash is derived from the body"
    );
}

/// A pending row whose body is in S3, as the ingress leaves it when SendMessage failed.
async fn pointer_row(
    stack: &Stack,
    outbox: &DynamoDbOutbox,
    id: &str,
    size: usize,
) -> AcceptedEvent {
    let old = now_millis() - GRACE_MS - 1_000;
    let event = sample(id, Provider::Shopify, size, old);
    let pointer = BodyPointer {
        bucket: stack.bucket.clone(),
        key: object_key("", &event.key, &event.body_sha256),
        size: event.body.len() as u64,
    };
    S3BodyStore::new(stack.s3.clone(), None)
        .put(&pointer, event.body.clone())
        .await
        .expect("PutObject");
    let event = event.with_claim_check(pointer);
    assert_eq!(
        outbox.insert_pending(&event).await.unwrap(),
        InsertOutcome::Inserted
    );
    event
}

#[tokio::test]
async fn a_row_pointing_to_s3_is_resent_as_its_pointer_and_its_object_restarts_its_age_as_sent() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue)
        .with_body_store(S3BodyStore::new(stack.s3.clone(), None));
    let event = pointer_row(&stack, &outbox, "large", 600_000).await;
    let key = event.claim_check.as_ref().unwrap().key.clone();
    assert_eq!(stack.object(&key).await.1.as_deref(), Some(STATE_UNSENT));
    let written = last_modified(&stack, &key).await;
    // LastModified has whole seconds: let one pass so the copy's age restart shows.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = sweeper.sweep_once(now_millis(), far_deadline()).await;

    assert_eq!(
        (report.resent, report.errors, report.large_body_retag_failed),
        (1, 0, 0),
        "{report:?}"
    );
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0]
        .body
        .starts_with(r#"["software.amazon.payloadoffloading.PayloadS3Pointer""#));
    assert_eq!(messages[0].attribute("delivered-by"), Some("sweeper"));
    assert!(stack.worker_body(&messages[0]).await == event.body.to_vec());
    let row = stack.row(&event.key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert_eq!(stack.object(&key).await.1.as_deref(), Some(STATE_SENT));
    let retagged = last_modified(&stack, &key).await;
    assert!(
        retagged > written,
        "CopyObject onto itself restarts the object's age: {written:?} -> {retagged:?}"
    );
}

#[tokio::test]
async fn a_failed_retag_after_the_mark_only_leaks_the_object_and_is_counted() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let once = CallLimits {
        max_attempts: 1,
        ..CallLimits::background()
    };
    let dead_s3 = shared::aws::s3_client(&sdk_config(&dead, once).await);
    let sweeper =
        sweeper_for(&stack, &[], &outbox, &queue).with_body_store(S3BodyStore::new(dead_s3, None));
    let event = pointer_row(&stack, &outbox, "leak", 450_000).await;
    let key = event.claim_check.as_ref().unwrap().key.clone();

    let report = sweeper.sweep_once(now_millis(), far_deadline()).await;

    assert_eq!(
        (report.resent, report.large_body_retag_failed),
        (1, 1),
        "{report:?}"
    );
    let row = stack.row(&event.key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    // Still tagged unsent: it never expires (a leak), and nothing was lost.
    assert_eq!(
        stack.object(&key).await,
        (event.body.to_vec(), Some(STATE_UNSENT.to_owned()))
    );
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 1);
}

async fn last_modified(stack: &Stack, key: &str) -> aws_sdk_s3::primitives::DateTime {
    stack
        .s3
        .head_object()
        .bucket(&stack.bucket)
        .key(key)
        .send()
        .await
        .expect("HeadObject")
        .last_modified()
        .copied()
        .expect("LastModified")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
