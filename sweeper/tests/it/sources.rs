//! Sources sharing one outbox table: each sweeper reads only its own source's index partitions
//! and sends only its own rows, to its own queue; rows written under the legacy, source-less index
//! keys are moved per source by the one-off migration.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::testing::{s, unique, ReceivedMessage, Stack};
use shared::event::{shard_of, AcceptedEvent};
use shared::outbox::{unsent_key, MigrationReport, RowStatus};
use shared::time::now_millis;

use crate::sweeps::{far_deadline, pending_rows, source_adapters, sweeper_for, GRACE_MS, SHARDS};

async fn second_queue(stack: &Stack) -> String {
    stack
        .sqs
        .create_queue()
        .queue_name(unique("rival-events"))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL")
}

fn event_ids(messages: &[ReceivedMessage]) -> BTreeSet<String> {
    messages
        .iter()
        .filter_map(|m| m.attribute("event-id").map(str::to_owned))
        .collect()
}

fn ids(events: &[AcceptedEvent]) -> BTreeSet<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

/// Rewrites a row's index key as a bug or a hand edit might have left it.
async fn set_index_key(stack: &Stack, key: &str, index_key: &str) {
    stack
        .set_row_attribute(key, "unsent_key", AttributeValue::S(index_key.to_owned()))
        .await;
}

#[tokio::test]
async fn sources_sharing_a_table_each_reach_only_their_own_queue() {
    let stack = Stack::new().await;
    let rival_queue_url = second_queue(&stack).await;
    let (market_outbox, market_queue) = source_adapters(&stack, "market", &stack.queue_url).await;
    let (rival_outbox, rival_queue) = source_adapters(&stack, "rival", &rival_queue_url).await;
    let market = sweeper_for(&stack, &[], &market_outbox, &market_queue);
    let rival = sweeper_for(
        &stack,
        &[("SOURCE_NAME", "rival"), ("QUEUE_URL", &rival_queue_url)],
        &rival_outbox,
        &rival_queue,
    );
    let now = now_millis();
    let old = now - GRACE_MS - 1_000;
    let market_events = pending_rows(&market_outbox, "shared-id", 25, old).await;
    // The same event ids under the other source: distinct rows, distinct keys.
    let rival_events = pending_rows(&rival_outbox, "shared-id", 25, old).await;
    let row = stack.row(&market_events[0].key).await.unwrap();
    let shard = shard_of(&market_events[0].key, SHARDS);
    assert_eq!(
        s(&row, "unsent_key"),
        Some(unsent_key(RowStatus::Pending, "market", shard))
    );
    assert_eq!(
        unsent_key(RowStatus::Pending, "market", shard),
        format!("pending#market#{shard}")
    );

    let (market_report, rival_report) = tokio::join!(
        market.sweep_once(now, far_deadline()),
        rival.sweep_once(now, far_deadline())
    );

    assert_eq!(market_report.resent, 25, "{market_report:?}");
    assert_eq!(rival_report.resent, 25, "{rival_report:?}");
    assert_eq!(market_report.pending_after, Some(0));
    let on_market = stack.drain(&stack.queue_url).await;
    let on_rival = stack.drain(&rival_queue_url).await;
    assert_eq!(event_ids(&on_market), ids(&market_events));
    assert_eq!(event_ids(&on_rival), ids(&rival_events));
    assert!(on_market
        .iter()
        .all(|m| m.attribute("source") == Some("market")));
    assert!(on_rival
        .iter()
        .all(|m| m.attribute("source") == Some("rival")));
    assert_eq!(on_market.len() + on_rival.len(), 50);
}

#[tokio::test]
async fn a_row_of_another_source_under_this_sources_index_key_is_left_alone() {
    let stack = Stack::new().await;
    let (market_outbox, market_queue) = source_adapters(&stack, "market", &stack.queue_url).await;
    let (rival_outbox, _) = source_adapters(&stack, "rival", &stack.queue_url).await;
    let market = sweeper_for(&stack, &[], &market_outbox, &market_queue);
    let now = now_millis();
    let stray = pending_rows(&rival_outbox, "stray", 1, now - GRACE_MS - 1_000).await;
    let key = &stray[0].key;
    set_index_key(
        &stack,
        key,
        &unsent_key(RowStatus::Pending, "market", shard_of(key, SHARDS)),
    )
    .await;

    let report = market.sweep_once(now, far_deadline()).await;

    assert_eq!(report.resent, 0, "{report:?}");
    assert!(stack.drain(&stack.queue_url).await.is_empty());
    let row = stack.row(key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));
}

#[tokio::test]
async fn legacy_index_keys_are_migrated_per_source_then_swept() {
    let stack = Stack::new().await;
    let rival_queue_url = second_queue(&stack).await;
    let (market_outbox, market_queue) = source_adapters(&stack, "market", &stack.queue_url).await;
    let (rival_outbox, _) = source_adapters(&stack, "rival", &rival_queue_url).await;
    let market = sweeper_for(&stack, &[], &market_outbox, &market_queue);
    let now = now_millis();
    let old = now - GRACE_MS - 1_000;
    let market_events = pending_rows(&market_outbox, "legacy", 12, old).await;
    let rival_events = pending_rows(&rival_outbox, "legacy", 7, old).await;
    for event in market_events.iter().chain(&rival_events) {
        let legacy = format!("pending#{}", shard_of(&event.key, SHARDS));
        set_index_key(&stack, &event.key, &legacy).await;
    }

    let before = market.sweep_once(now, far_deadline()).await;
    assert_eq!(before.resent, 0, "legacy keys are not swept: {before:?}");

    let report = market_outbox.migrate_legacy_keys().await.unwrap();
    assert_eq!(
        report,
        MigrationReport {
            moved: 12,
            other_sources: 7,
            changed_meanwhile: 0
        }
    );
    let again = market_outbox.migrate_legacy_keys().await.unwrap();
    assert_eq!(again.moved, 0, "the migration is idempotent: {again:?}");

    let after = market.sweep_once(now, far_deadline()).await;
    assert_eq!(after.resent, 12, "{after:?}");
    assert_eq!(
        event_ids(&stack.drain(&stack.queue_url).await),
        ids(&market_events)
    );
    assert!(stack.drain(&rival_queue_url).await.is_empty());
    for event in &rival_events {
        let row = stack.row(&event.key).await.unwrap();
        assert_eq!(s(&row, "status").as_deref(), Some("pending"));
        assert!(s(&row, "unsent_key").unwrap().starts_with("pending#"));
        assert!(!s(&row, "unsent_key").unwrap().contains("rival"));
    }
}
