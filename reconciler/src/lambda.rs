//! The Lambda entry point: each EventBridge Scheduler invocation is one run that starts no
//! recovery after the invocation's deadline less [`LAMBDA_MARGIN`]. The scheduler's event is only
//! logged; the run's report is the invocation's result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, LambdaEvent};
use shared::time::{now_millis, EpochMillis};

use crate::Reconciler;

/// Time kept back from the Lambda deadline to record the run and return its report.
pub const LAMBDA_MARGIN: Duration = Duration::from_secs(10);

/// Serves invocations from the Lambda Runtime API until the runtime stops the process.
pub async fn run(reconciler: Arc<Reconciler>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let reconciler = Arc::clone(&reconciler);
        async move {
            tracing::info!(request_id = %event.context.request_id, event = %event.payload, "scheduled invocation");
            let now = now_millis();
            let stop_by = Instant::now() + run_time(event.context.deadline, now);
            let report = reconciler.run_once(now, stop_by).await;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}

/// How long a run may go on at `now` in an invocation whose deadline is `deadline_ms` (epoch ms).
pub fn run_time(deadline_ms: u64, now: EpochMillis) -> Duration {
    let left = Duration::from_millis(deadline_ms.saturating_sub(u64::try_from(now).unwrap_or(0)));
    left.saturating_sub(LAMBDA_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stops_the_margin_before_the_invocation_deadline() {
        assert_eq!(run_time(61_000, 1_000), Duration::from_secs(50));
        assert_eq!(run_time(1_000, 2_000), Duration::ZERO);
        assert_eq!(run_time(5_000, 1_000), Duration::ZERO);
    }
}
