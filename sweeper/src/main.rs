//! The `sweeper` binary (`bootstrap` when packaged): invoked by EventBridge Scheduler under the
//! Lambda runtime, or run locally against the local stack.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lambda_runtime::{service_fn, LambdaEvent};
use shared::config::{ProcessEnv, SweeperConfig};
use shared::time::now_millis;
use sweeper::Sweeper;

const USAGE: &str = "\
usage: sweeper [--every SECONDS | --migrate-legacy-keys]

Re-sends every outbox row left pending for longer than GRACE_SECS, parks rows that failed
MAX_ATTEMPTS times, and prints EMF metrics (Resent, ResendFailed, Parked, PendingCount,
OldestPendingAgeSeconds).

Under the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) each invocation is one sweep that stops
before the invocation's deadline. Locally, without options: one sweep, then exit (status 1 if
an AWS call failed). With --every N: a sweep every N seconds until Ctrl-C or SIGTERM.

--migrate-legacy-keys moves this source's pending and parked rows from the index keys written
before sources were kept apart (`pending#<shard>`) to `pending#<source>#<shard>`, prints what it
did as JSON, and exits. Rows of other sources are left for their own source's migration. Safe to
repeat and to run beside live functions. See README.md, \"Upgrading a live table\".

Configuration comes from the environment: SOURCE_NAME, OUTBOX_TABLE, QUEUE_URL (required),
PENDING_SHARDS, RETENTION_DAYS, METRICS_NAMESPACE, GRACE_SECS, MAX_ATTEMPTS, SWEEP_CONCURRENCY
(shards swept at once, default 4), ROUTES (a row goes to the queue it recorded; the same list as
the ingress's), LARGE_BODY_BUCKET, LARGE_BODY_PREFIX, LARGE_BODY_KMS_KEY (a row whose body is in
S3 is re-sent as its pointer and its object re-tagged sent), and the standard AWS variables
(AWS_REGION, AWS_ENDPOINT_URL, profiles). See README.md.";

/// A local sweep gets as long as the deployed function's timeout allows (60 s, minus a margin).
const LOCAL_SWEEP_TIME: Duration = Duration::from_secs(55);
/// Time kept back from the Lambda deadline to return the report.
const LAMBDA_MARGIN: Duration = Duration::from_secs(2);

enum Mode {
    Once,
    Every(Duration),
    MigrateLegacyKeys,
}

fn mode_from_args() -> anyhow::Result<Option<Mode>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Ok(Some(Mode::Once)),
        ["--help" | "-h"] => Ok(None),
        ["--migrate-legacy-keys"] => Ok(Some(Mode::MigrateLegacyKeys)),
        ["--every", seconds] => {
            let seconds: u64 = seconds.parse().ok().filter(|s| *s > 0).with_context(|| {
                format!("--every takes a whole number of seconds above 0, not `{seconds}`")
            })?;
            Ok(Some(Mode::Every(Duration::from_secs(seconds))))
        }
        _ => anyhow::bail!("unexpected arguments: {}\n\n{USAGE}", args.join(" ")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(mode) = mode_from_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    shared::logging::init();
    let config = SweeperConfig::from_env(&ProcessEnv).context("invalid sweeper configuration")?;
    let sweeper = Arc::new(Sweeper::from_config(config).await);

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let sweeper = Arc::clone(&sweeper);
            async move {
                tracing::info!(request_id = %event.context.request_id, event = %event.payload, "scheduled invocation");
                let left = Duration::from_millis(event.context.deadline.saturating_sub(u64::try_from(now_millis()).unwrap_or(0)));
                let deadline = Instant::now() + left.saturating_sub(LAMBDA_MARGIN);
                let report = sweeper.sweep_once(now_millis(), deadline).await;
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        }))
        .await
        .map_err(|err| anyhow::anyhow!(err))
        .context("Lambda runtime loop failed");
    }

    match mode {
        Mode::MigrateLegacyKeys => {
            let report = sweeper
                .migrate_legacy_keys()
                .await
                .context("the migration stopped; it is safe to run it again")?;
            println!(
                "{}",
                serde_json::json!({
                    "moved": report.moved,
                    "other_sources": report.other_sources,
                    "changed_meanwhile": report.changed_meanwhile,
                })
            );
            Ok(())
        }
        Mode::Once => {
            let report = sweeper
                .sweep_once(now_millis(), Instant::now() + LOCAL_SWEEP_TIME)
                .await;
            anyhow::ensure!(
                report.errors == 0,
                "the sweep hit {} AWS errors (see the log)",
                report.errors
            );
            Ok(())
        }
        Mode::Every(period) => {
            let shutdown = shared::process::shutdown_signal();
            tokio::pin!(shutdown);
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let sweep_time = LOCAL_SWEEP_TIME.min(period.max(Duration::from_secs(5)));
            loop {
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    _ = ticks.tick() => {}
                }
                // Stopping mid-sweep is safe: every row is still pending or already marked sent.
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    _ = sweeper.sweep_once(now_millis(), Instant::now() + sweep_time) => {}
                }
            }
        }
    }
}
