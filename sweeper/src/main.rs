//! The `sweeper` binary (`bootstrap` when packaged): invoked by EventBridge Scheduler under the
//! Lambda runtime, or run locally against the local stack.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use shared::aws::{load_sdk_config, CallLimits};
use shared::config::{ProcessEnv, SweeperConfig};
use sweeper::{lambda, local, Sweeper};

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
repeat and to run beside live functions. See docs/outbox-table.md, \"Upgrading a live table\".

Configuration comes from the environment: SOURCE_NAME, OUTBOX_TABLE, QUEUE_URL (required),
PENDING_SHARDS, RETENTION_DAYS, METRICS_NAMESPACE, GRACE_SECS, MAX_ATTEMPTS, SWEEP_CONCURRENCY
(shards swept at once, default 4), ROUTES (a row goes to the queue it recorded; the same list as
the ingress's), LARGE_BODY_BUCKET, LARGE_BODY_PREFIX, LARGE_BODY_KMS_KEY (a row whose body is in
S3 is re-sent as its pointer and its object re-tagged sent), and the standard AWS variables
(AWS_REGION, AWS_ENDPOINT_URL, profiles). See docs/configuration.md and docs/sweeper.md.";

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
        ["--every", seconds] => Ok(Some(Mode::Every(
            shared::process::every_interval(seconds).map_err(anyhow::Error::msg)?,
        ))),
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
    let sdk = load_sdk_config(CallLimits::background()).await;
    let outbox = sweeper::dynamodb_outbox(&config, &sdk);
    let sweeper = Arc::new(Sweeper::with_sdk(config, &sdk));
    sweeper.emit_cold_start();

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda::run(sweeper)
            .await
            .map_err(|err| anyhow::anyhow!(err))
            .context("Lambda runtime loop failed");
    }

    match mode {
        Mode::MigrateLegacyKeys => {
            let report = local::migrate_legacy_keys(&outbox)
                .await
                .context("the migration stopped; it is safe to run it again")?;
            println!("{report}");
            Ok(())
        }
        Mode::Once => {
            let report = local::sweep_once(&sweeper).await;
            anyhow::ensure!(
                report.errors == 0,
                "the sweep hit {} AWS errors (see the log)",
                report.errors
            );
            Ok(())
        }
        Mode::Every(period) => {
            local::sweep_every(&sweeper, period, shared::process::shutdown_signal()).await;
            Ok(())
        }
    }
}
