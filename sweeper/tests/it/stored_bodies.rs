//! Bodies as the outbox stores them: compressed (`codec` zstd-d1) when that lowers the billed
//! write units, raw otherwise, and rows written before compression existed (every attribute
//! repeated, raw body, hex hash). Whatever the layout, the sweep sends the exact bytes received
//! and a duplicate delivery recognises its body.

use bytes::Bytes;
use shared::event::{shard_of, AcceptedEvent};
use shared::outbox::InsertOutcome;
use shared::samples::{legacy_pending_item, webhook, Layout, Provider};
use shared::testing::{s, Stack};
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

    match outbox.insert_pending(&event).await.unwrap() {
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
