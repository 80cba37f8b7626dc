//! The write units and stored bytes per webhook that docs/COST.md prices, computed by the size
//! model (`shared::aws::dynamodb::item_size`) from the items the outbox really builds, for realistic
//! 1, 2, 8 and 32 KB webhooks: the legacy layout (every attribute repeated, raw body), the current
//! single compressed row with the long attribute names of the release before and with today's
//! short ones, and the split layout (immutable body item + small status item) that was considered
//! instead; then the 2.1 KB Stripe invoice event (spaced JSON, random ids) under both names.
//!
//!     cargo run -p bench --bin cost_model

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::samples::{
    legacy_pending_item, sample_event, stripe_invoice_event, with_long_names, Layout, Provider,
};
use shared::aws::dynamodb::item_size::{self, item_size, Item};
use shared::aws::dynamodb::{after_sent, pending_item, sent_changes, UNSENT_INDEX_KEYS};
use shared::cost;
use shared::event::{shard_of, AcceptedEvent};
use shared::message::DeliveredBy;

const SIZES: [usize; 4] = [1024, 2048, 8192, 32768];
const SEEDS: u64 = 3;
/// Seeds of the invoice event (as in the pinned test of `shared/tests/properties.rs`).
const INVOICE_SEEDS: u64 = 50;
/// How each provider sends its JSON: Stripe pretty-printed, GitHub and Shopify compact.
const NATIVE: [(Provider, Layout); 3] = [
    (Provider::Stripe, Layout::Pretty),
    (Provider::GitHub, Layout::Compact),
    (Provider::Shopify, Layout::Compact),
];
/// DynamoDB adds 100 bytes per item to the storage it bills.
const STORAGE_OVERHEAD: usize = 100;

/// Write units of one webhook's usual life, and the bytes its sent row keeps stored.
struct Life {
    units: u64,
    stored: usize,
}

/// Whether a row is written with the long attribute names of the releases before (`event_type`,
/// `message_id` as text, `delivered_by`) or today's short ones.
#[derive(Clone, Copy)]
enum Names {
    Long,
    Short,
}

fn single_row(build: fn(&AcceptedEvent, u16) -> Item, names: Names, event: &AcceptedEvent) -> Life {
    let pending = build(event, shard_of(&event.key, 8));
    let sent = after_sent(&pending, &changes());
    let (pending, sent) = match names {
        Names::Long => (with_long_names(&pending), with_long_names(&sent)),
        Names::Short => (pending, sent),
    };
    let units = item_size::put(&pending, &UNSENT_INDEX_KEYS).total()
        + item_size::update(&pending, &sent, &UNSENT_INDEX_KEYS).total();
    Life {
        units,
        stored: item_size(&sent) + STORAGE_OVERHEAD,
    }
}

/// The split layout: the body (compressed as now) in an item of its own under the same key in a
/// second table, written once, and the rest in a status item that the index and the mark-sent update touch. The body item cannot
/// carry a TTL while its event is unsent, so it is deleted (or given its TTL) by one more write
/// that bills its size again.
fn split_rows(event: &AcceptedEvent) -> Life {
    let whole = pending_item(event, shard_of(&event.key, 8));
    let body_names = ["id", "body", "codec"];
    let body: Item = whole
        .iter()
        .filter(|(name, _)| body_names.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let status: Item = whole
        .iter()
        .filter(|(name, _)| name.as_str() == "id" || !body_names.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let sent = after_sent(&status, &changes());
    let body_units = cost::write_units(item_size(&body));
    let units = 2 * body_units
        + item_size::put(&status, &UNSENT_INDEX_KEYS).total()
        + item_size::update(&status, &sent, &UNSENT_INDEX_KEYS).total();
    Life {
        units,
        stored: item_size(&body) + item_size(&sent) + 2 * STORAGE_OVERHEAD,
    }
}

fn changes() -> Vec<(&'static str, AttributeValue)> {
    changes_at(1_764_400_100_000)
}

fn changes_at(sent_at: i64) -> Vec<(&'static str, AttributeValue)> {
    sent_changes(
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        DeliveredBy::Ingress,
        sent_at,
        Duration::from_secs(14 * 86_400),
    )
}

/// Worst units and mean stored bytes over `shapes` and a few seeds.
fn summary(
    shapes: &[(Provider, Layout)],
    size: usize,
    life: impl Fn(&AcceptedEvent) -> Life,
) -> String {
    let lives: Vec<Life> = shapes
        .iter()
        .flat_map(|&(provider, layout)| {
            (0..SEEDS).map(move |seed| sample_event(provider, layout, size, seed))
        })
        .map(|event| life(&event))
        .collect();
    let worst = lives.iter().map(|l| l.units).max().unwrap_or(0);
    let stored = lives.iter().map(|l| l.stored).sum::<usize>() / lives.len().max(1);
    format!("{worst} WRU, {stored} B stored")
}

fn main() {
    let every: Vec<(Provider, Layout)> = Provider::ALL
        .iter()
        .flat_map(|p| Layout::ALL.iter().map(move |l| (*p, *l)))
        .collect();
    println!("| body | before (every shape) | long names, every shape | now, native layouts | now, every shape | split layout, native |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for size in SIZES {
        println!(
            "| {} KB | {} | {} | {} | {} | {} |",
            size / 1024,
            summary(&every, size, |e| single_row(
                legacy_pending_item,
                Names::Long,
                e
            )),
            summary(&every, size, |e| single_row(pending_item, Names::Long, e)),
            summary(&NATIVE, size, |e| single_row(pending_item, Names::Short, e)),
            summary(&every, size, |e| single_row(pending_item, Names::Short, e)),
            summary(&NATIVE, size, split_rows),
        );
    }
    println!();
    println!("| 2.1 KB Stripe invoice event, {INVOICE_SEEDS} seeds | WRU (worst) | pending row (largest) | sent row (largest) |");
    println!("| --- | --- | --- | --- |");
    for (label, names) in [("long names", Names::Long), ("now", Names::Short)] {
        let (mut units, mut pending_bytes, mut sent_bytes) = (0, 0, 0);
        for seed in 0..INVOICE_SEEDS {
            let event = stripe_invoice_event(seed);
            let pending = pending_item(&event, shard_of(&event.key, 8));
            // Sent 40 ms after its receipt, as the pinned test has it.
            let sent_at = event.received_at + 40;
            let sent = after_sent(&pending, &changes_at(sent_at));
            let (pending, sent) = match names {
                Names::Long => (with_long_names(&pending), with_long_names(&sent)),
                Names::Short => (pending, sent),
            };
            units = units.max(
                item_size::put(&pending, &UNSENT_INDEX_KEYS).total()
                    + item_size::update(&pending, &sent, &UNSENT_INDEX_KEYS).total(),
            );
            pending_bytes = pending_bytes.max(item_size(&pending));
            sent_bytes = sent_bytes.max(item_size(&sent));
        }
        println!("| {label} | {units} | {pending_bytes} B | {sent_bytes} B |");
    }
}
