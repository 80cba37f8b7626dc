//! Bodies as the outbox stores them: compressed (`codec` zstd-d1) when that lowers the billed
//! write units, raw otherwise, and rows written before compression existed (every attribute
//! repeated, raw body, hex hash). Whatever the layout, the sweep sends the exact bytes received
//! and a duplicate delivery recognises its body.

use std::time::Duration;

use bytes::Bytes;
use e2e::samples::{
    legacy_pending_item, stripe_invoice_event, webhook, with_long_names, Layout, Provider,
};
use e2e::testing::{s, sdk_config, Stack};
use shared::aws::dynamodb::item_size::{item_size, put, update, Item};
use shared::aws::dynamodb::{
    after_sent, pending_item, sent_changes, DynamoDbOutbox, UNSENT_INDEX_KEYS,
};
use shared::aws::s3::S3BodyStore;
use shared::aws::CallLimits;
use shared::event::{shard_of, AcceptedEvent};
use shared::large_body::{object_key, BodyPointer, STATE_SENT, STATE_UNSENT};
use shared::message::DeliveredBy;
use shared::outbox::{InsertOutcome, MarkOutcome, ReceivedWindow};
use shared::time::{now_millis, EpochMillis};

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

const RETENTION: Duration = Duration::from_secs(14 * 86_400);

/// The 2.1 KB Stripe invoice event of `seed` (spaced JSON, random ids: the densest 2 KB body we
/// know), under this stack's source, received at `received_at`.
fn invoice(seed: u64, received_at: EpochMillis) -> AcceptedEvent {
    let sample = stripe_invoice_event(seed);
    AcceptedEvent::new(
        "market",
        sample.event_id,
        sample.event_type,
        sample.body,
        received_at,
    )
}

/// A message id SQS really gave.
async fn sqs_message_id(stack: &Stack) -> String {
    let sent = stack
        .sqs
        .send_message()
        .queue_url(&stack.queue_url)
        .message_body("a message id")
        .send()
        .await
        .expect("SendMessage");
    sent.message_id().expect("a message id").to_owned()
}

async fn put_raw(stack: &Stack, item: Item) {
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(item))
        .send()
        .await
        .expect("PutItem of a row as an earlier release wrote it");
}

#[tokio::test]
async fn a_2_kb_invoice_event_is_written_and_marked_sent_in_one_write_unit_each() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    for seed in 0..3 {
        let event = invoice(seed, now_millis());
        assert_eq!(
            outbox.insert_pending(&event).await.unwrap(),
            InsertOutcome::Inserted
        );
        let pending = stack.row(&event.key).await.unwrap();
        // What the table holds is what the size model bills.
        assert_eq!(pending, pending_item(&event, shard_of(&event.key, SHARDS)));
        let message_id = sqs_message_id(&stack).await;
        let now = event.received_at + 40;
        assert_eq!(
            outbox
                .mark_sent(
                    &event.key,
                    event.received_at,
                    &message_id,
                    DeliveredBy::Ingress,
                    now,
                    RETENTION
                )
                .await
                .unwrap(),
            MarkOutcome::Marked
        );
        let sent = stack.row(&event.key).await.unwrap();
        let changes = sent_changes(&message_id, DeliveredBy::Ingress, now, RETENTION);
        assert_eq!(sent, after_sent(&pending, &changes));
        assert_eq!(sent["mid"].as_b().unwrap().as_ref().len(), 16);
        assert!(!sent.contains_key("sent_by"), "the ingress sent it");

        let (put, update) = (
            put(&pending, &UNSENT_INDEX_KEYS),
            update(&pending, &sent, &UNSENT_INDEX_KEYS),
        );
        assert!(
            item_size(&pending) <= 1024 && item_size(&sent) <= 1024,
            "seed {seed}: {} and {} bytes",
            item_size(&pending),
            item_size(&sent)
        );
        assert_eq!(put.total() + update.total(), 4, "seed {seed}");
        // The same row under the names the release before wrote crossed the KiB.
        assert!(item_size(&with_long_names(&sent)) > 1024, "seed {seed}");

        // On-call sees the long names and the message id as SQS gave it.
        let view = outbox.view(&event.key).await.unwrap().unwrap();
        assert_eq!(view.attribute("message_id"), Some(message_id.as_str()));
        assert_eq!(view.attribute("delivered_by"), Some("ingress"));
        assert_eq!(
            view.attribute("event_type"),
            Some("invoice.payment_succeeded")
        );
        assert_eq!(view.body.as_deref(), Some(&event.body[..]));
    }
}

#[tokio::test]
async fn rows_with_the_long_attribute_names_are_swept_shown_and_found_for_a_replay() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);
    let now = now_millis();
    let old = now - GRACE_MS - 1_000;
    // As the release before wrote them (live tables are not migrated): a pending row its
    // ingress could not send, and a row it sent.
    let unsent = invoice(0, old);
    put_raw(
        &stack,
        with_long_names(&pending_item(&unsent, shard_of(&unsent.key, SHARDS))),
    )
    .await;
    let sent_before = invoice(1, old);
    let first_id = "5fea7756-0ea4-451a-a703-a558b933e274";
    let before_changes = sent_changes(first_id, DeliveredBy::Ingress, old + 30, RETENTION);
    put_raw(
        &stack,
        with_long_names(&after_sent(
            &pending_item(&sent_before, shard_of(&sent_before.key, SHARDS)),
            &before_changes,
        )),
    )
    .await;
    // And rows of this layout, one of another type.
    let sent_now = invoice(2, old);
    let mut other_type = invoice(3, old);
    other_type.event_type = Some("invoice.created".into());
    for event in [&sent_now, &other_type] {
        outbox.insert_pending(event).await.unwrap();
        let id = sqs_message_id(&stack).await;
        let marked = outbox
            .mark_sent(
                &event.key,
                old,
                &id,
                DeliveredBy::Ingress,
                old + 30,
                RETENTION,
            )
            .await
            .unwrap();
        assert_eq!(marked, MarkOutcome::Marked);
    }

    let report = sweeper.sweep_once(now, far_deadline()).await;

    assert_eq!((report.resent, report.errors), (1, 0), "{report:?}");
    let messages = stack.drain(&stack.queue_url).await;
    let swept = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some(unsent.event_id.as_str()))
        .expect("the long-named pending row is sent");
    assert_eq!(swept.raw_body(), unsent.body.to_vec());
    assert_eq!(
        swept.attribute("event-type"),
        Some("invoice.payment_succeeded")
    );
    let row = stack.row(&unsent.key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert_eq!(s(&row, "sent_by").as_deref(), Some("sweeper"));
    assert_eq!(
        s(&row, "event_type").as_deref(),
        Some("invoice.payment_succeeded")
    );

    let view = outbox.view(&sent_before.key).await.unwrap().unwrap();
    assert_eq!(view.attribute("message_id"), Some(first_id));
    assert_eq!(view.attribute("delivered_by"), Some("ingress"));
    assert_eq!(
        view.attribute("event_type"),
        Some("invoice.payment_succeeded")
    );
    let view = outbox.view(&unsent.key).await.unwrap().unwrap();
    assert_eq!(view.attribute("delivered_by"), Some("sweeper"));

    // A replay of one type finds that type's sent rows in either layout, with their first
    // delivery's message id.
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let page = outbox
            .scan_sent(
                0,
                1,
                ReceivedWindow::before(now),
                Some("invoice.payment_succeeded"),
                start,
            )
            .await
            .unwrap();
        assert!(page.malformed.is_empty());
        found.extend(
            page.rows
                .into_iter()
                .map(|r| (r.row.key, r.message_id, r.row.event.event_type)),
        );
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    found.sort();
    let typed = Some("invoice.payment_succeeded".to_owned());
    let sent_now_id = outbox.view(&sent_now.key).await.unwrap().unwrap();
    let mut expected = vec![
        (
            sent_before.key.clone(),
            Some(first_id.to_owned()),
            typed.clone(),
        ),
        (
            sent_now.key.clone(),
            sent_now_id.attribute("message_id").map(str::to_owned),
            typed.clone(),
        ),
        (
            unsent.key.clone(),
            view.attribute("message_id").map(str::to_owned),
            typed,
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
    assert!(found
        .iter()
        .all(|(_, id, _)| id.as_ref().is_some_and(|id| id.len() == 36)));
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
