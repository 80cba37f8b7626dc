//! The local loops, used when no Lambda Runtime API is present: one run (`--once`), or a run
//! every few seconds until a shutdown signal (`--every N`).

use std::future::Future;
use std::time::{Duration, Instant};

use shared::time::now_millis;

use crate::{Reconciler, RunReport};

/// One run, as long as its lease allows.
pub async fn run_once(reconciler: &Reconciler) -> RunReport {
    reconciler
        .run_once(now_millis(), Instant::now() + reconciler.config().lease)
        .await
}

/// A run every `period` until `shutdown` completes. Stopping mid-run is safe: the checkpoint
/// moves only when a run ends, so the next run repeats what this one did not record.
pub async fn run_every(
    reconciler: &Reconciler,
    period: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = &mut shutdown => return,
            report = run_once(reconciler) => {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
        }
    }
}
