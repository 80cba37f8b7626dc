//! The Lambda entry point: each EventBridge Scheduler invocation is one sweep that stops before
//! the invocation's deadline, keeping [`LAMBDA_MARGIN`] to return its report. The scheduler's
//! event is only logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, LambdaEvent};
use shared::time::{now_millis, EpochMillis};

use crate::Sweeper;

/// Time kept back from the Lambda deadline to return the report.
pub const LAMBDA_MARGIN: Duration = Duration::from_secs(2);

/// Serves invocations from the Lambda Runtime API until the runtime stops the process.
pub async fn run(sweeper: Arc<Sweeper>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let sweeper = Arc::clone(&sweeper);
        async move {
            tracing::info!(request_id = %event.context.request_id, event = %event.payload, "scheduled invocation");
            let now = now_millis();
            let deadline = Instant::now() + sweep_time(event.context.deadline, now);
            let report = sweeper.sweep_once(now, deadline).await;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}

/// How long a sweep may run at `now` in an invocation whose deadline is `deadline_ms` (epoch ms).
pub fn sweep_time(deadline_ms: u64, now: EpochMillis) -> Duration {
    let left = Duration::from_millis(deadline_ms.saturating_sub(u64::try_from(now).unwrap_or(0)));
    left.saturating_sub(LAMBDA_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_ends_the_margin_before_the_invocation_deadline() {
        assert_eq!(sweep_time(61_000, 1_000), Duration::from_secs(58));
        // Already past, or within the margin: no time at all, never an underflow.
        assert_eq!(sweep_time(1_000, 2_000), Duration::ZERO);
        assert_eq!(sweep_time(2_500, 1_000), Duration::ZERO);
    }
}
