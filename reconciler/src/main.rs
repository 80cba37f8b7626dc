//! The `reconciler` binary (`bootstrap` when packaged): invoked by EventBridge Scheduler under
//! the Lambda runtime, or run locally against the local stack.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use reconciler::{lambda, local, Reconciler, ReconcilerConfig, RunOutcome};
use shared::aws::{load_sdk_config, CallLimits};
use shared::config::ProcessEnv;

const USAGE: &str = "\
usage: reconciler [--once | --every SECONDS]

Asks the provider's API which events it emitted and brings in those this source's outbox lacks,
as `outboxctl backfill --yes` does: GitHub, GitLab and Paddle are asked to deliver again (the
delivery arrives signed, through the ingress); Stripe's events are recorded from the API and sent with
`delivered-by: backfill`. Each run covers a sliding window, from the checkpoint (a row of the
outbox table) less RECONCILE_OVERLAP_SECS to now less RECONCILE_SETTLE_SECS, and moves the
checkpoint only past what it settled: an event it could not recover is tried again next run. A
lease on the checkpoint keeps overlapping runs from both acting. Prints EMF metrics
(ReconcileListed, ReconcileMissing, ReconcileRecovered, ReconcileUnrecoverable, ReconcileFailed,
ReconcileErrors, ReconcileCheckpointAgeSeconds, and ReconcileOldestMissingAgeSeconds: the age of
the oldest missing event not yet recovered, to compare with the provider's horizon) and the
run's report as JSON.

Under the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) each invocation is one run. Locally:
--once (the default) runs once and exits 0, 3 when an event was not recovered, 1 when the run
failed; --every N runs every N seconds until Ctrl-C or SIGTERM.

Configuration comes from the environment:
  RECONCILE_PROVIDER             stripe, github, gitlab or paddle (required)
  RECONCILE_GITHUB_HOOK          github: repos/OWNER/REPO/HOOK_ID, orgs/ORG/HOOK_ID, or app
  RECONCILE_GITLAB_HOOK          gitlab: projects/PROJECT_ID_OR_PATH/HOOK_ID or
                                 groups/GROUP_ID_OR_PATH/HOOK_ID
  RECONCILE_PADDLE_DESTINATION   paddle: the notification setting that delivers here (ntfset_...)
  BACKFILL_CREDENTIAL_PARAMETER  the SSM SecureString holding the API credential (required):
                                 a Stripe restricted key with read access to Events, a GitHub
                                 token that may read and redeliver the hook's deliveries, or a
                                 GitHub App's {\"app_id\": ..., \"private_key\": \"<PEM>\"},
                                 a GitLab access token (api scope, Maintainer), or a Paddle API
                                 key (notification read and write)
  RECONCILE_LOOKBACK_SECS        the first run's window reaches this far back (default 86400)
  RECONCILE_SETTLE_SECS          events younger than this wait for a later run (default 300)
  RECONCILE_OVERLAP_SECS         each window starts this long before the checkpoint (default 900)
  RECONCILE_LEASE_SECS           how long a run holds the checkpoint (default 960)
  RECONCILE_STRIPE_VERSION       stripe: the API version to serialise events in (default the
                                 account's; set the webhook endpoint's own)
  STRIPE_API_BASE, GITHUB_API_BASE, GITLAB_API_BASE, PADDLE_API_BASE
                                 the APIs (default https://api.stripe.com, https://api.github.com,
                                 https://gitlab.com/api/v4, https://api.paddle.com; http:// only
                                 for a local test server)
  LARGE_BODY_BUCKET, LARGE_BODY_PREFIX, LARGE_BODY_KMS_KEY  the S3 claim check, as the
                                 ingress's: a Stripe event over what an outbox row holds (384 KiB)
                                 is stored in the bucket and sent as a pointer; without a bucket
                                 it is not recorded and the checkpoint waits before it
  SOURCE_NAME, OUTBOX_TABLE, QUEUE_URL (required), PENDING_SHARDS, RETENTION_DAYS,
  METRICS_NAMESPACE, ROUTES      as the ingress's
and the standard AWS variables (AWS_REGION, AWS_ENDPOINT_URL, profiles). See docs/backfill.md,
\"The reconciler\".";

enum Mode {
    Once,
    Every(Duration),
}

fn mode_from_args() -> anyhow::Result<Option<Mode>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--once"] => Ok(Some(Mode::Once)),
        ["--help" | "-h"] => Ok(None),
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
    let config =
        ReconcilerConfig::from_env(&ProcessEnv).context("invalid reconciler configuration")?;
    let sdk = load_sdk_config(CallLimits::background()).await;
    let reconciler = Arc::new(Reconciler::with_sdk(config, &sdk));

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda::run(reconciler)
            .await
            .map_err(|err| anyhow::anyhow!(err))
            .context("Lambda runtime loop failed");
    }

    match mode {
        Mode::Once => {
            let report = local::run_once(&reconciler).await;
            println!("{}", serde_json::to_string(&report)?);
            match report.outcome {
                RunOutcome::Failed => anyhow::bail!(
                    "the run failed: {}; the checkpoint did not move, so the next run repeats it",
                    report.error.as_deref().unwrap_or("see the log")
                ),
                _ if report.failed + report.unrecoverable > 0 => std::process::exit(3),
                _ => Ok(()),
            }
        }
        Mode::Every(period) => {
            local::run_every(&reconciler, period, shared::process::shutdown_signal()).await;
            Ok(())
        }
    }
}
