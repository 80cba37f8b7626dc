//! The reconciler: on a schedule, asks the provider's API which events it emitted and brings in
//! those the outbox lacks, exactly as `outboxctl backfill --yes` does (the same code, the
//! [`backfill`] crate), over a sliding window: from the stored checkpoint less an overlap to now
//! less a settle delay. The checkpoint is a row of the outbox table
//! ([`shared::checkpoint`]) taken with a lease (a conditional write): two overlapping runs never
//! both act, and the checkpoint moves only past what the run settled (recovered, present, or
//! refused for good by the provider), so a crash repeats work and never skips it.
//!
//! `main.rs` only wires configuration and clients; [`Reconciler::run_once`] is one run, called
//! alike by the Lambda adapter ([`lambda`]), the local loops ([`local`]) and the tests.

pub mod lambda;
pub mod local;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use backfill::api::{Sleeper, TokioSleeper};
use backfill::github::HookPath;
use backfill::gitlab::GitlabHook;
use backfill::{Act, Provider, Sink, Summary, Window};
use serde::Serialize;
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::{Queues, SqsQueue};
use shared::checkpoint::{window, LastRun, Lease};
use shared::config::{ConfigError, Env, OutboxSettings};
use shared::delivery::ClaimCheck;
use shared::metrics::{EmfEmitter, MetricSet, Unit};
use shared::ports::QueueSet;
use shared::primitives::EnvSource;
use shared::time::{now_millis, EpochMillis};
use tracing::{info, warn};

/// Every environment variable the deployed function reads (function.json and Terraform set
/// exactly these; tests/infra checks it).
pub const ENV_VARS: &[&str] = &[
    "SOURCE_NAME",
    "OUTBOX_TABLE",
    "QUEUE_URL",
    "PENDING_SHARDS",
    "RETENTION_DAYS",
    "METRICS_NAMESPACE",
    "ROUTES",
    "RECONCILE_PROVIDER",
    "RECONCILE_GITHUB_HOOK",
    "RECONCILE_LOOKBACK_SECS",
    "RECONCILE_SETTLE_SECS",
    "RECONCILE_OVERLAP_SECS",
    "RECONCILE_LEASE_SECS",
    "RECONCILE_STRIPE_VERSION",
    "BACKFILL_CREDENTIAL_PARAMETER",
    "STRIPE_API_BASE",
    "GITHUB_API_BASE",
    "RECONCILE_GITLAB_HOOK",
    "RECONCILE_PADDLE_DESTINATION",
    "GITLAB_API_BASE",
    "PADDLE_API_BASE",
    "LARGE_BODY_BUCKET",
    "LARGE_BODY_PREFIX",
    "LARGE_BODY_KMS_KEY",
];

/// The IAM actions the reconciler's AWS calls need: the checkpoint (GetItem, UpdateItem), the
/// outbox reads and writes of a recovered event (BatchGetItem, PutItem, UpdateItem), its send,
/// and the credential (`ssm:GetParameter`, plus `kms:Decrypt` on the parameter's key).
pub const IAM_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "sqs:SendMessage",
    "ssm:GetParameter",
];

/// What the S3 claim check adds (`LARGE_BODY_BUCKET`: a Stripe event over what a row holds), on
/// the bucket's objects only, as the ingress's: PutObject with tags, and the CopyObject onto
/// itself that re-tags a body sent (it reads the source). The KMS key needs `kms:GenerateDataKey`
/// and `kms:Decrypt`.
pub const LARGE_BODY_IAM_ACTIONS: &[&str] =
    &["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"];

pub const DEFAULT_LOOKBACK_SECS: u64 = 86_400;
pub const DEFAULT_SETTLE_SECS: u64 = 300;
pub const DEFAULT_OVERLAP_SECS: u64 = 900;
/// Longer than the longest Lambda invocation (15 minutes): a run never outlives its lease.
pub const DEFAULT_LEASE_SECS: u64 = 960;
/// The part of the lease a run keeps back: it starts no recovery that close to its end.
const LEASE_MARGIN_SHARE: u32 = 8;

/// The reconciler's settings (docs/backfill.md, "The reconciler").
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub outbox: OutboxSettings,
    pub provider: Provider,
    /// GitHub: the hook whose deliveries are read.
    pub github_hook: Option<HookPath>,
    /// GitLab: the hook whose events are read.
    pub gitlab_hook: Option<GitlabHook>,
    /// Paddle: the notification destination whose notifications are read.
    pub paddle_destination: Option<String>,
    pub credential_parameter: String,
    pub stripe_api_base: String,
    pub github_api_base: String,
    pub gitlab_api_base: String,
    pub paddle_api_base: String,
    pub stripe_version: Option<String>,
    /// The first run's window reaches this far back.
    pub lookback: Duration,
    /// Events younger than this are left for a later run (the provider may still be retrying).
    pub settle: Duration,
    /// Each window starts this long before the checkpoint.
    pub overlap: Duration,
    /// How long a run holds the checkpoint.
    pub lease: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcilerConfigError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("RECONCILE_PROVIDER is invalid: {0}")]
    Provider(String),
    #[error("RECONCILE_GITHUB_HOOK is required with RECONCILE_PROVIDER=github (repos/OWNER/REPO/HOOK_ID, orgs/ORG/HOOK_ID or app)")]
    NoHook,
    #[error("RECONCILE_GITHUB_HOOK is invalid: {0}")]
    Hook(String),
    #[error("RECONCILE_GITLAB_HOOK is required with RECONCILE_PROVIDER=gitlab (projects/PROJECT_ID_OR_PATH/HOOK_ID or groups/GROUP_ID_OR_PATH/HOOK_ID)")]
    NoGitlabHook,
    #[error("RECONCILE_GITLAB_HOOK is invalid: {0}")]
    GitlabHook(String),
    #[error("RECONCILE_PADDLE_DESTINATION is required with RECONCILE_PROVIDER=paddle (the notification setting id, ntfset_...)")]
    NoPaddleDestination,
}

impl ReconcilerConfig {
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ReconcilerConfigError> {
        let env = Env::new(source);
        let provider: Provider = env
            .required("RECONCILE_PROVIDER")?
            .parse()
            .map_err(ReconcilerConfigError::Provider)?;
        let github_hook = match (provider, env.optional("RECONCILE_GITHUB_HOOK")) {
            (Provider::Github, None) => return Err(ReconcilerConfigError::NoHook),
            (_, Some(hook)) => Some(hook.parse().map_err(ReconcilerConfigError::Hook)?),
            (_, None) => None,
        };
        let gitlab_hook = match (provider, env.optional("RECONCILE_GITLAB_HOOK")) {
            (Provider::Gitlab, None) => return Err(ReconcilerConfigError::NoGitlabHook),
            (_, Some(hook)) => Some(hook.parse().map_err(ReconcilerConfigError::GitlabHook)?),
            (_, None) => None,
        };
        let paddle_destination = env.optional("RECONCILE_PADDLE_DESTINATION");
        if provider == Provider::Paddle && paddle_destination.is_none() {
            return Err(ReconcilerConfigError::NoPaddleDestination);
        }
        let base = |name: &'static str, default: &str| {
            env.optional(name).unwrap_or_else(|| default.to_owned())
        };
        let secs = |name, default, max| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(env.integer(name, default, 0..=max)?))
        };
        Ok(Self {
            outbox: OutboxSettings::from_env(&env)?,
            provider,
            github_hook,
            gitlab_hook,
            paddle_destination,
            credential_parameter: env.required("BACKFILL_CREDENTIAL_PARAMETER")?,
            stripe_api_base: env
                .optional("STRIPE_API_BASE")
                .unwrap_or_else(|| backfill::DEFAULT_STRIPE_API_BASE.to_owned()),
            github_api_base: env
                .optional("GITHUB_API_BASE")
                .unwrap_or_else(|| backfill::DEFAULT_GITHUB_API_BASE.to_owned()),
            gitlab_api_base: base("GITLAB_API_BASE", backfill::DEFAULT_GITLAB_API_BASE),
            paddle_api_base: base("PADDLE_API_BASE", backfill::DEFAULT_PADDLE_API_BASE),
            stripe_version: env.optional("RECONCILE_STRIPE_VERSION"),
            lookback: secs(
                "RECONCILE_LOOKBACK_SECS",
                DEFAULT_LOOKBACK_SECS,
                30 * 86_400,
            )?,
            settle: secs("RECONCILE_SETTLE_SECS", DEFAULT_SETTLE_SECS, 86_400)?,
            overlap: secs("RECONCILE_OVERLAP_SECS", DEFAULT_OVERLAP_SECS, 86_400)?,
            lease: Duration::from_secs(env.integer(
                "RECONCILE_LEASE_SECS",
                DEFAULT_LEASE_SECS,
                1..=86_400,
            )?),
        })
    }

    fn api_base(&self) -> &str {
        match self.provider {
            Provider::Github => &self.github_api_base,
            Provider::Stripe => &self.stripe_api_base,
            Provider::Gitlab => &self.gitlab_api_base,
            Provider::Paddle => &self.paddle_api_base,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// The window was read and every missing event it could recover recovered.
    Reconciled,
    /// Another run holds the checkpoint's lease: nothing done.
    Skipped,
    /// The checkpoint is already past what has settled: nothing to read yet.
    NothingToDo,
    /// An error stopped the run (the API, AWS, the credential); the checkpoint did not move.
    Failed,
}

/// What a run found and did (returned by the Lambda, printed by `--once`).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub outcome: RunOutcome,
    pub provider: &'static str,
    pub window_since: Option<EpochMillis>,
    pub window_until: Option<EpochMillis>,
    pub listed: u64,
    pub missing: u64,
    /// Redelivered (GitHub, GitLab, Paddle) or recorded and sent, or recorded for the sweeper
    /// (Stripe).
    pub recovered: u64,
    /// Refused for good by the provider (too old to redeliver).
    pub unrecoverable: u64,
    /// Not recovered this time; the checkpoint stays before them and a later run tries again.
    pub failed: u64,
    pub checkpoint_before: Option<EpochMillis>,
    pub checkpoint_after: Option<EpochMillis>,
    pub checkpoint_age_secs: Option<u64>,
    /// How long ago the oldest event this run found missing and could not recover (one a later
    /// run may still recover) was emitted or last delivered: 0 when there is none; `None` when the
    /// run did not read the provider's list. Compared with the provider's horizon (GitHub
    /// redelivers for 3 days, Stripe keeps events 30 days), it says how long is left to fix what
    /// keeps the event from being recovered.
    pub oldest_missing_age_secs: Option<u64>,
    /// The events not recovered, and why (the provider's words, as data).
    pub failures: Vec<String>,
    pub error: Option<String>,
}

impl RunReport {
    fn new(outcome: RunOutcome, provider: Provider) -> Self {
        Self {
            outcome,
            provider: provider.as_str(),
            window_since: None,
            window_until: None,
            listed: 0,
            missing: 0,
            recovered: 0,
            unrecoverable: 0,
            failed: 0,
            checkpoint_before: None,
            checkpoint_after: None,
            checkpoint_age_secs: None,
            oldest_missing_age_secs: None,
            failures: Vec::new(),
            error: None,
        }
    }
}

/// One source's reconciler, with its clients.
pub struct Reconciler {
    config: ReconcilerConfig,
    outbox: DynamoDbOutbox,
    queues: QueueSet,
    ssm: aws_sdk_ssm::Client,
    metrics: EmfEmitter,
    sleeper: Arc<dyn Sleeper>,
    /// Where a Stripe event over what a row holds is stored (`LARGE_BODY_BUCKET`).
    claim_check: Option<ClaimCheck>,
}

impl Reconciler {
    pub fn new(
        config: ReconcilerConfig,
        outbox: DynamoDbOutbox,
        queues: QueueSet,
        ssm: aws_sdk_ssm::Client,
    ) -> Self {
        let metrics = EmfEmitter::new(&config.outbox.metrics_namespace, &config.outbox.source);
        Self {
            config,
            outbox,
            queues,
            ssm,
            metrics,
            sleeper: Arc::new(TokioSleeper),
            claim_check: None,
        }
    }

    /// Stores events the row cannot hold in `store`, when `LARGE_BODY_BUCKET` is configured, as
    /// the ingress does (without it such an event is a failure a later run retries).
    pub fn with_body_store(mut self, store: S3BodyStore) -> Self {
        self.claim_check =
            ClaimCheck::configured(self.config.outbox.large_bodies.as_ref(), Arc::new(store));
        self
    }

    /// The clients built from one SDK configuration.
    pub fn with_sdk(config: ReconcilerConfig, sdk: &SdkConfig) -> Self {
        let outbox = DynamoDbOutbox::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.outbox.table,
            &config.outbox.source,
            config.outbox.pending_shards,
        );
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.outbox.queue_url);
        let queues = Queues::new(queue, &config.outbox.routes).ports();
        let kms_key_id = config
            .outbox
            .large_bodies
            .as_ref()
            .and_then(|large| large.kms_key_id.clone());
        let store = S3BodyStore::new(shared::aws::s3_client(sdk), kms_key_id);
        Self::new(config, outbox, queues, aws_sdk_ssm::Client::new(sdk)).with_body_store(store)
    }

    /// Waits a rate limit asks for on `sleeper` (tests: a recording one that returns at once).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn config(&self) -> &ReconcilerConfig {
        &self.config
    }

    /// One run at `now` (epoch ms): takes the checkpoint's lease, reads the window, recovers
    /// what is missing (starting no recovery after `stop_by`, nor near the lease's end), moves
    /// the checkpoint past what it settled, releases the lease, and prints the EMF line.
    pub async fn run_once(&self, now: EpochMillis, stop_by: Instant) -> RunReport {
        let provider = self.config.provider;
        let owner = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let checkpoint = match self
            .outbox
            .acquire_checkpoint_lease(&owner, now, self.config.lease)
            .await
        {
            Ok(Lease::Acquired(checkpoint)) => checkpoint,
            Ok(Lease::Held { owner, until }) => {
                info!(
                    holder = owner.as_deref().unwrap_or("?"),
                    until, "another run holds the checkpoint; nothing to do"
                );
                return RunReport::new(RunOutcome::Skipped, provider);
            }
            Err(err) => {
                warn!(error = %err, "cannot take the checkpoint's lease");
                let mut report = RunReport::new(RunOutcome::Failed, provider);
                report.error = Some(err.to_string());
                self.emit(&report, None, now);
                return report;
            }
        };
        let margin = self.config.lease / LEASE_MARGIN_SHARE;
        let stop_by = stop_by.min(started + self.config.lease.saturating_sub(margin));
        let mut report = RunReport::new(RunOutcome::Reconciled, provider);
        report.checkpoint_before = checkpoint.at;
        let Some((since, until)) = window(
            checkpoint.at,
            now,
            millis(self.config.lookback),
            millis(self.config.overlap),
            millis(self.config.settle),
        ) else {
            report.outcome = RunOutcome::NothingToDo;
            report.checkpoint_after = checkpoint.at;
            self.finish(&owner, &mut report, None, now).await;
            return report;
        };
        let window = Window { since, until };
        report.window_since = Some(since);
        report.window_until = Some(until);
        match self.recover(window, stop_by).await {
            Ok(summary) => {
                record(&mut report, &summary);
                let retry_from = summary.retry_from(window);
                report.oldest_missing_age_secs = Some(age_secs(retry_from, now));
                let settled_to = retry_from.unwrap_or(window.until);
                report.checkpoint_after = Some(settled_to);
                self.finish(&owner, &mut report, Some(settled_to), now)
                    .await;
            }
            Err(error) => {
                warn!(error = %error, "the run stopped; the checkpoint stays where it was");
                report.outcome = RunOutcome::Failed;
                report.error = Some(error);
                report.checkpoint_after = checkpoint.at;
                self.finish(&owner, &mut report, None, now).await;
            }
        }
        report
    }

    /// Reads the credential and runs the provider's backfill over `window`.
    async fn recover(&self, window: Window, stop_by: Instant) -> Result<Summary, String> {
        let credential = backfill::read_credential(&self.ssm, &self.config.credential_parameter)
            .await
            .map_err(|err| err.to_string())?;
        let api = backfill::client(
            self.config.provider,
            &credential,
            self.config.github_hook.as_ref(),
            self.config.api_base(),
            self.config.stripe_version.as_deref(),
            Arc::clone(&self.sleeper),
        )
        .map_err(|err| err.to_string())?
        .with_wait_budget(stop_by.saturating_duration_since(Instant::now()));
        let sink = Sink {
            outbox: &self.outbox,
            queues: &self.queues,
            settings: &self.config.outbox,
            claim_check: self.claim_check.as_ref(),
        };
        let act = Act::Recover {
            stop_by: Some(stop_by),
        };
        let summary = match (self.config.provider, &self.config.github_hook) {
            (Provider::Github, Some(hook)) => {
                backfill::github(&api, hook, window, &sink, act, &|_| {}).await
            }
            (Provider::Github, None) => return Err("no GitHub hook configured".to_owned()),
            (Provider::Stripe, _) => {
                backfill::stripe(&api, window, false, &sink, act, &|_| {}).await
            }
            (Provider::Gitlab, _) => match &self.config.gitlab_hook {
                Some(hook) => backfill::gitlab(&api, hook, window, &sink, act, &|_| {}).await,
                None => return Err("no GitLab hook configured".to_owned()),
            },
            (Provider::Paddle, _) => match &self.config.paddle_destination {
                Some(to) => backfill::paddle(&api, to, window, &sink, act, &|_| {}).await,
                None => return Err("no Paddle destination configured".to_owned()),
            },
        };
        summary.map_err(|err| err.to_string())
    }

    /// Records the run on the checkpoint row (moving it to `settled_to` when given) and releases
    /// the lease, then prints the metrics.
    async fn finish(
        &self,
        owner: &str,
        report: &mut RunReport,
        settled_to: Option<EpochMillis>,
        started_at: EpochMillis,
    ) {
        let now = now_millis().max(started_at);
        let run = LastRun {
            at: now,
            window_since: report.window_since.unwrap_or(0),
            window_until: report.window_until.unwrap_or(0),
            listed: report.listed,
            missing: report.missing,
            recovered: report.recovered,
            unrecoverable: report.unrecoverable,
            failed: report.failed,
            error: report.error.clone(),
        };
        match self
            .outbox
            .finish_checkpoint_run(owner, now, settled_to, &run)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // The lease ran out and another run took it: its checkpoint, not ours.
                warn!("the checkpoint's lease ran out before the run ended; the checkpoint was not moved");
                report.checkpoint_after = report.checkpoint_before;
                if report.outcome == RunOutcome::Reconciled {
                    report.outcome = RunOutcome::Failed;
                    report.error = Some("the lease ran out before the run ended".to_owned());
                }
            }
            Err(err) => {
                warn!(error = %err, "cannot record the run on the checkpoint; the next run repeats it");
                report.checkpoint_after = report.checkpoint_before;
                report.outcome = RunOutcome::Failed;
                report.error = Some(err.to_string());
            }
        }
        let age_from = report.checkpoint_after.unwrap_or_else(|| {
            // Never settled: as old as the first window's start.
            started_at.saturating_sub(millis(self.config.lookback))
        });
        report.checkpoint_age_secs =
            Some(u64::try_from((now - age_from).max(0) / 1000).unwrap_or(0));
        self.emit(report, report.checkpoint_age_secs, now);
        info!(
            outcome = ?report.outcome,
            listed = report.listed,
            missing = report.missing,
            recovered = report.recovered,
            unrecoverable = report.unrecoverable,
            failed = report.failed,
            checkpoint = report.checkpoint_after,
            "reconciled"
        );
    }

    fn emit(&self, report: &RunReport, age_secs: Option<u64>, now: EpochMillis) {
        self.metrics.emit(&metrics_of(report, age_secs), now);
    }
}

/// The run's EMF metrics (dimension `Source`).
pub fn metrics_of(report: &RunReport, age_secs: Option<u64>) -> MetricSet {
    let mut metrics = MetricSet::default();
    let count = |value: u64| value as f64;
    metrics.add("ReconcileListed", count(report.listed), Unit::Count);
    metrics.add("ReconcileMissing", count(report.missing), Unit::Count);
    metrics.add("ReconcileRecovered", count(report.recovered), Unit::Count);
    metrics.add(
        "ReconcileUnrecoverable",
        count(report.unrecoverable),
        Unit::Count,
    );
    metrics.add("ReconcileFailed", count(report.failed), Unit::Count);
    metrics.add(
        "ReconcileErrors",
        f64::from(u8::from(report.outcome == RunOutcome::Failed)),
        Unit::Count,
    );
    if let Some(age) = age_secs {
        metrics.set("ReconcileCheckpointAgeSeconds", age as f64, Unit::Seconds);
    }
    if let Some(age) = report.oldest_missing_age_secs {
        metrics.set(
            "ReconcileOldestMissingAgeSeconds",
            age as f64,
            Unit::Seconds,
        );
    }
    metrics
}

/// Whole seconds from `since` (an event's time, `None`: no such event, 0) to `now`.
pub fn age_secs(since: Option<EpochMillis>, now: EpochMillis) -> u64 {
    since.map_or(0, |at| u64::try_from((now - at).max(0) / 1000).unwrap_or(0))
}

fn record(report: &mut RunReport, summary: &Summary) {
    report.listed = summary.listed as u64;
    report.missing = summary.missing.len() as u64;
    report.recovered = (summary.recovered.len() + summary.left_to_sweeper.len()) as u64;
    report.unrecoverable = summary.unrecoverable() as u64;
    report.failed = (summary.failures.len() - summary.unrecoverable()) as u64;
    report.failures = summary.failed();
    for failure in &summary.failures {
        warn!(event_id = %failure.id, permanent = failure.permanent, reason = %failure.reason, "not recovered");
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ReconcilerConfig, ReconcilerConfigError> {
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("SOURCE_NAME", "shop"),
            ("OUTBOX_TABLE", "t"),
            ("QUEUE_URL", "http://q/1"),
            ("BACKFILL_CREDENTIAL_PARAMETER", "/shop/backfill"),
        ]);
        env.extend(pairs.iter().copied());
        ReconcilerConfig::from_env(&env)
    }

    #[test]
    fn settings_default_as_documented_and_github_needs_its_hook() {
        let stripe = config(&[("RECONCILE_PROVIDER", "stripe")]).unwrap();
        assert_eq!(stripe.lookback, Duration::from_secs(86_400));
        assert_eq!(stripe.settle, Duration::from_secs(DEFAULT_SETTLE_SECS));
        assert_eq!(stripe.overlap, Duration::from_secs(DEFAULT_OVERLAP_SECS));
        assert_eq!(stripe.stripe_api_base, "https://api.stripe.com");
        assert!(
            stripe.lease > Duration::from_secs(900),
            "outlives an invocation"
        );
        assert!(matches!(
            config(&[("RECONCILE_PROVIDER", "github")]),
            Err(ReconcilerConfigError::NoHook)
        ));
        let github = config(&[
            ("RECONCILE_PROVIDER", "github"),
            ("RECONCILE_GITHUB_HOOK", "orgs/acme/7"),
            ("GITHUB_API_BASE", "http://127.0.0.1:9"),
            ("RECONCILE_LOOKBACK_SECS", "3600"),
        ])
        .unwrap();
        assert_eq!(github.api_base(), "http://127.0.0.1:9");
        assert_eq!(github.lookback, Duration::from_secs(3600));
        assert!(config(&[("RECONCILE_PROVIDER", "paypal")]).is_err());
        assert!(matches!(
            config(&[("RECONCILE_PROVIDER", "gitlab")]),
            Err(ReconcilerConfigError::NoGitlabHook)
        ));
        let gitlab = config(&[
            ("RECONCILE_PROVIDER", "gitlab"),
            ("RECONCILE_GITLAB_HOOK", "projects/acme/shop/42"),
        ])
        .unwrap();
        assert_eq!(gitlab.api_base(), "https://gitlab.com/api/v4");
        assert!(matches!(
            config(&[("RECONCILE_PROVIDER", "paddle")]),
            Err(ReconcilerConfigError::NoPaddleDestination)
        ));
        let paddle = config(&[
            ("RECONCILE_PROVIDER", "paddle"),
            ("RECONCILE_PADDLE_DESTINATION", "ntfset_01"),
            ("PADDLE_API_BASE", "http://127.0.0.1:9"),
        ])
        .unwrap();
        assert_eq!(paddle.api_base(), "http://127.0.0.1:9");
        assert!(config(&[]).is_err(), "the provider is required");
        let err = config(&[
            ("RECONCILE_PROVIDER", "stripe"),
            ("RECONCILE_LOOKBACK_SECS", "99999999"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("RECONCILE_LOOKBACK_SECS"), "{err}");
    }

    #[test]
    fn a_failed_run_counts_as_an_error_and_every_figure_is_a_metric() {
        let mut report = RunReport::new(RunOutcome::Reconciled, Provider::Stripe);
        report.listed = 5;
        report.missing = 3;
        report.recovered = 2;
        report.unrecoverable = 1;
        let metrics = metrics_of(&report, Some(600));
        assert_eq!(metrics.get("ReconcileListed"), 5.0);
        assert_eq!(metrics.get("ReconcileMissing"), 3.0);
        assert_eq!(metrics.get("ReconcileRecovered"), 2.0);
        assert_eq!(metrics.get("ReconcileUnrecoverable"), 1.0);
        assert_eq!(metrics.get("ReconcileErrors"), 0.0);
        assert_eq!(metrics.get("ReconcileCheckpointAgeSeconds"), 600.0);
        let emf = metrics.to_emf("Webhooks", "shop", 0);
        assert!(
            emf.get("ReconcileOldestMissingAgeSeconds").is_none(),
            "not emitted before the list was read: {emf}"
        );
        report.oldest_missing_age_secs = Some(7_200);
        assert_eq!(
            metrics_of(&report, None).get("ReconcileOldestMissingAgeSeconds"),
            7_200.0
        );
        report.outcome = RunOutcome::Failed;
        assert_eq!(metrics_of(&report, None).get("ReconcileErrors"), 1.0);
    }

    #[test]
    fn the_oldest_missing_event_s_age_is_whole_seconds_and_zero_without_one() {
        let now = 1_700_000_000_000;
        assert_eq!(age_secs(None, now), 0);
        assert_eq!(age_secs(Some(now - 129_600_999), now), 129_600);
        assert_eq!(age_secs(Some(now + 5_000), now), 0, "never negative");
    }
}
