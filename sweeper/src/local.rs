//! The local loops, used when no Lambda Runtime API is present (`make run`, the end-to-end tests):
//! one sweep, a sweep every few seconds until a shutdown signal, or the one-off key migration.

use std::future::Future;
use std::time::{Duration, Instant};

use shared::aws::dynamodb::DynamoDbOutbox;
use shared::outbox::{MigrationReport, OutboxError};
use shared::time::now_millis;
use tracing::info;

use crate::{SweepReport, Sweeper};

/// A local sweep gets as long as the deployed function's timeout allows (60 s, minus a margin).
pub const LOCAL_SWEEP_TIME: Duration = Duration::from_secs(55);

/// One sweep, as long as a deployed one may take.
pub async fn sweep_once(sweeper: &Sweeper) -> SweepReport {
    sweeper
        .sweep_once(now_millis(), Instant::now() + LOCAL_SWEEP_TIME)
        .await
}

/// A sweep every `period` until `shutdown` completes. Stopping mid-sweep is safe: every row is
/// still pending or already marked sent.
pub async fn sweep_every(sweeper: &Sweeper, period: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sweep_time = LOCAL_SWEEP_TIME.min(period.max(Duration::from_secs(5)));
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = &mut shutdown => return,
            _ = sweeper.sweep_once(now_millis(), Instant::now() + sweep_time) => {}
        }
    }
}

/// Moves this source's rows from the legacy index keys; the report as the JSON line printed.
/// The legacy keys are DynamoDB's own layout, so this runs on the adapter, not on the ports.
pub async fn migrate_legacy_keys(
    outbox: &DynamoDbOutbox,
) -> Result<serde_json::Value, OutboxError> {
    let MigrationReport {
        moved,
        other_sources,
        changed_meanwhile,
    } = outbox.migrate_legacy_keys().await?;
    info!(
        moved,
        other_sources, changed_meanwhile, "legacy index keys migrated"
    );
    Ok(serde_json::json!({
        "moved": moved,
        "other_sources": other_sources,
        "changed_meanwhile": changed_meanwhile,
    }))
}
