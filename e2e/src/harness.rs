//! The end-to-end fault-injection run that checks the ingress's one promise: every webhook it
//! answered 2xx ends up on the queue, byte-exact.
//!
//! A run provisions its own table and queues on moto, puts a [`FaultProxy`] in front of DynamoDB
//! and SQS for each binary, starts the real `ingress` binary, and lets a [`Provider`] send
//! distinct signed webhooks concurrently, retrying like a real provider, while a killer SIGKILLs
//! and restarts the ingress with requests in flight and [`Consumers`] drain the queue. Then the
//! `sweeper` binary (behind its own faulty proxy) runs until no row is pending, the queue is
//! drained to empty, and every event the provider saw a 2xx for is looked up on the queue by
//! event id and SHA-256 of its bytes. Anything missing is *lost*; the [`Report`] says how many and,
//! for each, what the provider saw, what its outbox row holds and what the logs say.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::testing::unique;
use shared::outbox::RowStatus;

use crate::consumer::{Consumed, Consumers, Delivered};
use crate::processes::{
    ingress_binary, sweep_once, sweeper_binary, IngressProcess, ProcessError, SweeperSchedule,
};
use crate::provider::{
    generate, BodyKind, Progress, Provider, ProviderConfig, ProviderError, ProviderResult, Webhook,
};
use crate::proxy::{Fault, FaultProxy, FaultRules, ProxyConfig, ProxyError, ProxyStats};
use crate::rng::XorShift64;
use crate::stack::{Stack, StackError};

/// The second source whose sweeper races on the run's table.
const RIVAL_SOURCE: &str = "rival";

/// The sweeper's part of a run.
#[derive(Debug, Clone)]
pub struct SweeperPlan {
    /// Run the sweeper after the send phase. Without it, rows left pending count as lost.
    pub enabled: bool,
    /// Most one-shot runs before giving up on pending rows.
    pub max_runs: u32,
    /// `MAX_ATTEMPTS` for the sweeper: failed re-sends before a row is parked.
    pub max_attempts: u32,
    /// Limit on one run; a run past it is killed and counted as failed.
    pub run_limit: Duration,
    /// The sweeper's fault rates relative to the ingress's (1.0: the same, 0.0: none).
    pub fault_scale: f64,
    /// Also run `sweeper --every N` beside the ingress during the send phase, as the schedule
    /// does in production (the ingress and the sweeper then race for the same rows).
    pub schedule_every: Option<Duration>,
    /// `GRACE_SECS` of that scheduled sweeper (the final runs use 0).
    pub schedule_grace_secs: u64,
    /// Run a second source's sweeper (`SOURCE_NAME=rival`, its own queue, `GRACE_SECS=0`) every
    /// N through the send and sweep phases, on the same table: it must never send this source's
    /// events, so its queue must stay empty.
    pub rival_every: Option<Duration>,
}

/// Everything a run can vary. [`SoakConfig::soak`] and [`SoakConfig::small`] are the two presets.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Distinct webhooks to send.
    pub events: usize,
    /// Concurrent provider deliveries.
    pub concurrency: usize,
    /// Probability that a SendMessage / SendMessageBatch call gets a fault.
    pub send_fault_rate: f64,
    /// Probability that a DynamoDB call (PutItem, UpdateItem; for the sweeper also Query and
    /// BatchGetItem) gets a fault.
    pub dynamodb_fault_rate: f64,
    /// Probability that an S3 call (the ingress's PutObject and the re-tagging CopyObject of
    /// the ingress and the sweeper) gets a fault.
    pub s3_fault_rate: f64,
    /// The fault kinds the rates are split over, evenly.
    pub fault_kinds: Vec<Fault>,
    /// SIGKILLs of the ingress during the send phase.
    pub kills: usize,
    pub seed: u64,
    pub provider_attempts: u32,
    pub provider_timeout: Duration,
    /// Percent of events whose body is over what an outbox row holds (S3 claim check).
    pub claim_check_percent: u64,
    /// Share of events the provider sends twice on purpose.
    pub duplicate_rate: f64,
    pub consumers: usize,
    pub pending_shards: u16,
    pub response_budget_ms: u64,
    /// How long a hung call is held before the proxy drops it.
    pub hang_for: Duration,
    pub sweeper: SweeperPlan,
    /// Longest wait for the queue to be empty at the end.
    pub drain_limit: Duration,
    /// Keep the binaries' logs even when nothing was lost. (The table and queues on moto are
    /// deleted after a run that lost nothing, kept after one that did.)
    pub keep_logs: bool,
    /// After a run that lost events, keep its logs and its table and queues on moto for
    /// inspection (the default; a test that loses events on purpose turns it off).
    pub keep_evidence: bool,
    /// Print a progress line to stderr every few seconds.
    pub progress: bool,
}

impl SoakConfig {
    /// The soak: 5,000 webhooks, 33% SendMessage faults, 12% DynamoDB faults (a margin over the 30% / 10% the brief asks, since drawn faults vary), 20 kills.
    pub fn soak(seed: u64) -> Self {
        Self {
            events: 5000,
            concurrency: 16,
            send_fault_rate: 0.33,
            dynamodb_fault_rate: 0.12,
            s3_fault_rate: 0.25,
            fault_kinds: Fault::ALL.to_vec(),
            kills: 20,
            seed,
            provider_attempts: 8,
            provider_timeout: Duration::from_secs(5),
            duplicate_rate: 0.02,
            claim_check_percent: 2,
            consumers: 2,
            pending_shards: 4,
            response_budget_ms: 3000,
            hang_for: Duration::from_secs(20),
            sweeper: SweeperPlan {
                enabled: true,
                max_runs: 20,
                max_attempts: 10,
                run_limit: Duration::from_secs(300),
                fault_scale: 1.0,
                schedule_every: None,
                schedule_grace_secs: 10,
                rival_every: Some(Duration::from_secs(3)),
            },
            drain_limit: Duration::from_secs(120),
            keep_logs: true,
            keep_evidence: true,
            progress: true,
        }
    }

    /// The version `make test` runs: the same fault mix, 200 webhooks, 3 kills.
    pub fn small(seed: u64) -> Self {
        Self {
            events: 200,
            concurrency: 8,
            kills: 3,
            // Enough bodies through S3 that its faults and the sweeper's re-tags surely happen.
            claim_check_percent: 8,
            // Only a guard against a hang: the drain ends as soon as the queue is empty.
            drain_limit: Duration::from_secs(600),
            keep_logs: false,
            progress: false,
            ..Self::soak(seed)
        }
    }

    fn validate(&self) -> Result<(), HarnessError> {
        let rate = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(HarnessError::Config(format!(
                    "{name} must be between 0 and 1, not {value}"
                )))
            }
        };
        rate("the send fault rate", self.send_fault_rate)?;
        rate("the DynamoDB fault rate", self.dynamodb_fault_rate)?;
        rate("the S3 fault rate", self.s3_fault_rate)?;
        rate("the duplicate rate", self.duplicate_rate)?;
        rate("the sweeper fault scale", self.sweeper.fault_scale)?;
        if self.events == 0 || self.concurrency == 0 || self.provider_attempts == 0 {
            return Err(HarnessError::Config(
                "events, concurrency and provider attempts must be at least 1".to_owned(),
            ));
        }
        if self.pending_shards == 0 {
            return Err(HarnessError::Config(
                "pending shards must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The ingress proxy's rules: the calls the ingress makes on its request path.
    pub fn ingress_rules(&self) -> FaultRules {
        self.rules(
            1.0,
            &["sqs:SendMessage"],
            &["dynamodb:PutItem", "dynamodb:UpdateItem"],
        )
        .spread("s3:PutObject", self.s3_fault_rate, &self.fault_kinds)
        .spread("s3:CopyObject", self.s3_fault_rate, &self.fault_kinds)
    }

    /// The sweeper proxy's rules: its reads too, so a sweep itself can fail half-way.
    pub fn sweeper_rules(&self) -> FaultRules {
        self.rules(
            self.sweeper.fault_scale,
            &["sqs:SendMessageBatch", "sqs:SendMessage"],
            &[
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
            ],
        )
        .spread(
            "s3:CopyObject",
            self.s3_fault_rate * self.sweeper.fault_scale,
            &self.fault_kinds,
        )
    }

    fn rules(&self, scale: f64, sends: &[&str], dynamodb: &[&str]) -> FaultRules {
        let mut rules = FaultRules::none();
        for operation in sends {
            rules = rules.spread(operation, self.send_fault_rate * scale, &self.fault_kinds);
        }
        for operation in dynamodb {
            rules = rules.spread(
                operation,
                self.dynamodb_fault_rate * scale,
                &self.fault_kinds,
            );
        }
        rules
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("invalid run configuration: {0}")]
    Config(String),
    #[error("cannot create the log directory {path}")]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no free 127.0.0.1 port for the ingress")]
    Port(#[source] std::io::Error),
}

/// Median, 99th percentile and maximum of a set of durations in milliseconds (0 when empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let at = |q: usize| {
            let index = (values.len() * q / 100).min(values.len().saturating_sub(1));
            values.get(index).copied().unwrap_or(0)
        };
        Self {
            p50: at(50),
            p99: at(99),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

/// An event the ingress answered 2xx for that never reached the queue byte-exact.
#[derive(Debug, Clone)]
pub struct LostEvent {
    pub event_id: String,
    pub kind: BodyKind,
    /// What the provider got, attempt by attempt.
    pub answers: Vec<String>,
    /// Its outbox row (without the body), if any.
    pub row: Option<String>,
    /// Messages that carried its id but other bytes.
    pub wrong_bodies: usize,
    /// Log lines of the binaries that mention it.
    pub log_lines: Vec<String>,
}

/// Sweeper activity of a run.
#[derive(Debug, Clone, Default)]
pub struct SweeperSummary {
    pub pending_after_send: u64,
    pub runs: u32,
    pub failed_runs: u32,
    /// Pending rows before each run.
    pub pending_before_runs: Vec<u64>,
    pub schedule_exit: Option<String>,
    /// How the rival source's sweeper ended, when one ran.
    pub rival_exit: Option<String>,
    /// Messages on the rival source's queue at the end: events sent to another source's
    /// workers. Must be 0.
    pub rival_messages: u64,
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    pub events: usize,
    pub body_kinds: BTreeMap<&'static str, usize>,
    pub concurrency: usize,
    pub deliveries: u64,
    pub requests: u64,
    pub answers: BTreeMap<String, u64>,
    /// Time to an answer with a status, as the provider saw it: median, 99th percentile, max.
    pub answer_ms: Percentiles,
    /// Events with a 2xx answer: the ones the ingress promised to deliver.
    pub accepted: usize,
    /// Events the provider gave up on without any 2xx.
    pub gave_up: usize,
    pub kills: u32,
    pub kills_planned: usize,
    /// Requests in flight at the moments of the kills, summed.
    pub in_flight_at_kills: u64,
    pub ingress_starts: u32,
    pub ingress_proxy: ProxyStats,
    pub sweeper_proxy: ProxyStats,
    pub sweeper: SweeperSummary,
    pub pending_left: u64,
    pub parked: u64,
    pub messages: u64,
    pub delivered_by: BTreeMap<String, u64>,
    pub base64_messages: u64,
    /// Messages that were Extended Client pointers to a body in S3.
    pub s3_messages: u64,
    /// Messages beyond the first exact copy of each event.
    pub duplicates_delivered: u64,
    /// Events never answered 2xx that reached the queue anyway (allowed, and expected).
    pub delivered_unacknowledged: usize,
    /// Messages with no or an unknown event id, or undecodable base64.
    pub unexpected_messages: u64,
    /// Messages with a known event id but other bytes than the provider sent.
    pub wrong_body_messages: u64,
    pub consumer_errors: u64,
    /// Messages still on the queue when the consumers stopped (the drain timed out if not 0).
    pub queue_left: u64,
    pub dlq_depth: u64,
    pub lost: Vec<LostEvent>,
    pub send_phase: Duration,
    pub sweep_phase: Duration,
    pub drain_phase: Duration,
    pub elapsed: Duration,
    pub log_dir: Option<PathBuf>,
}

impl Report {
    pub fn lost_count(&self) -> usize {
        self.lost.len()
    }

    /// Messages that reached another source's queue (its sweeper sent this source's rows).
    pub fn misrouted_count(&self) -> u64 {
        self.sweeper.rival_messages
    }

    /// Provider requests beyond the first of each delivery.
    pub fn provider_retries(&self) -> u64 {
        self.requests.saturating_sub(self.deliveries)
    }

    /// Answers in the 4xx range (a signature or id problem: there should be none).
    pub fn rejected(&self) -> u64 {
        self.answers
            .iter()
            .filter(|(label, _)| label.starts_with('4'))
            .map(|(_, count)| count)
            .sum()
    }

    /// Faults of `kind` injected into either binary's calls.
    pub fn faults_of(&self, kind: Fault) -> u64 {
        self.ingress_proxy.faults_of(kind) + self.sweeper_proxy.faults_of(kind)
    }

    pub fn total_faults(&self) -> u64 {
        self.ingress_proxy.total_faults() + self.sweeper_proxy.total_faults()
    }

    /// Accepted events per second of the send phase.
    pub fn events_per_second(&self) -> f64 {
        let secs = self.send_phase.as_secs_f64();
        if secs > 0.0 {
            self.accepted as f64 / secs
        } else {
            0.0
        }
    }
}

/// Runs the whole scenario. Errors are failures of the rig (moto missing, a binary that does not
/// start); a broken promise is not an error but a [`Report`] with `lost` entries.
pub async fn run(config: &SoakConfig) -> Result<Report, HarnessError> {
    config.validate()?;
    let started = Instant::now();
    // Fail before the long send phase, not after it.
    let ingress_bin = ingress_binary()?;
    let sweeper_bin = if config.sweeper.enabled {
        Some(sweeper_binary()?)
    } else {
        None
    };
    let mut stack = Stack::provision(config.pending_shards).await?;
    let log_dir = std::env::temp_dir().join(unique("e2e-run"));
    std::fs::create_dir_all(&log_dir).map_err(|source| HarnessError::LogDir {
        path: log_dir.clone(),
        source,
    })?;
    say(
        config,
        format!("seed {}; logs in {}", config.seed, log_dir.display()),
    );

    let ingress_proxy = FaultProxy::start(proxy_config(
        config,
        &stack,
        "ingress",
        config.ingress_rules(),
    ))
    .await?;
    let sweeper_proxy = FaultProxy::start(proxy_config(
        config,
        &stack,
        "sweeper",
        config.sweeper_rules(),
    ))
    .await?;

    let rival_queue = match config.sweeper.rival_every {
        Some(_) => Some(stack.create_queue("rival").await?),
        None => None,
    };
    let mut ingress_env = stack.binary_env(&ingress_proxy.endpoint());
    ingress_env.extend([
        ("SECRET_PARAMETER".to_owned(), stack.parameter.clone()),
        (
            "RESPONSE_BUDGET_MS".to_owned(),
            config.response_budget_ms.to_string(),
        ),
    ]);
    let sweeper_env = |grace: u64| {
        let mut env = stack.binary_env(&sweeper_proxy.endpoint());
        env.extend([
            ("GRACE_SECS".to_owned(), grace.to_string()),
            (
                "MAX_ATTEMPTS".to_owned(),
                config.sweeper.max_attempts.to_string(),
            ),
        ]);
        env
    };

    let webhooks = Arc::new(generate(
        config.events,
        config.seed,
        &short_tag(),
        config.claim_check_percent,
    ));
    let consumers = Consumers::start(
        stack.sqs.clone(),
        stack.s3.clone(),
        &stack.queue_url,
        config.consumers,
    );
    let mut ingress =
        IngressProcess::start(ingress_bin, ingress_env, free_address()?, log_dir.clone()).await?;
    let rival = match (&sweeper_bin, config.sweeper.rival_every, rival_queue) {
        (Some(binary), Some(every), Some(queue_url)) => {
            let mut env = sweeper_env(0);
            env.extend([
                ("SOURCE_NAME".to_owned(), RIVAL_SOURCE.to_owned()),
                ("QUEUE_URL".to_owned(), queue_url.clone()),
            ]);
            let schedule =
                SweeperSchedule::start(binary, &env, every, log_dir.join("sweeper-rival.log"))?;
            Some((schedule, queue_url))
        }
        _ => None,
    };
    let schedule = match (&sweeper_bin, config.sweeper.schedule_every) {
        (Some(binary), Some(every)) => Some(SweeperSchedule::start(
            binary,
            &sweeper_env(config.sweeper.schedule_grace_secs),
            every,
            log_dir.join("sweeper-schedule.log"),
        )?),
        _ => None,
    };

    // Send phase: provider, killer and consumers at once.
    let send_started = Instant::now();
    let provider = Provider::start(
        ingress.address(),
        Arc::clone(&webhooks),
        ProviderConfig {
            concurrency: config.concurrency,
            max_attempts: config.provider_attempts,
            timeout: config.provider_timeout,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            duplicate_rate: config.duplicate_rate,
            seed: config.seed,
        },
    )?;
    let progress = Arc::clone(&provider.progress);
    let ticker = config.progress.then(|| {
        tokio::spawn(progress_lines(
            Arc::clone(&progress),
            Arc::clone(&consumers.received),
        ))
    });
    let finished = AtomicBool::new(false);
    let provider_run = async {
        let result = provider.finish().await;
        finished.store(true, Ordering::SeqCst);
        result
    };
    let mut killer_rng = XorShift64::derive(config.seed, "killer");
    let points = kill_points(
        progress.deliveries_total.load(Ordering::Relaxed),
        config.kills,
        &mut killer_rng,
    );
    let killer = kill_at(&mut ingress, points, &progress, &finished, killer_rng);
    let (provided, killed) = tokio::join!(provider_run, killer);
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    let provided = provided?;
    let kills = killed?;
    let send_phase = send_started.elapsed();
    ingress.kill().await?;
    let mut sweeper = SweeperSummary::default();
    if let Some(schedule) = schedule {
        sweeper.schedule_exit = Some(match schedule.stop(Duration::from_secs(10)).await? {
            Some(status) => status.to_string(),
            None => "killed after SIGTERM was ignored".to_owned(),
        });
    }
    say(
        config,
        format!(
            "send phase done in {:.1}s: {} of {} events accepted, {} kills",
            send_phase.as_secs_f64(),
            provided.records.iter().filter(|r| r.accepted).count(),
            webhooks.len(),
            kills.kills
        ),
    );

    // Sweep phase: one-shot sweeps (GRACE_SECS=0, the ingress is gone) until nothing is pending.
    let sweep_started = Instant::now();
    sweeper.pending_after_send = stack.unsent_count(RowStatus::Pending).await?;
    if let Some(binary) = &sweeper_bin {
        let env = sweeper_env(0);
        for run in 1..=config.sweeper.max_runs {
            let pending = stack.unsent_count(RowStatus::Pending).await?;
            if pending == 0 {
                break;
            }
            sweeper.pending_before_runs.push(pending);
            say(config, format!("sweeper run {run}: {pending} rows pending"));
            let outcome = sweep_once(
                binary,
                &env,
                log_dir.join(format!("sweeper-{run}.log")),
                config.sweeper.run_limit,
            )
            .await?;
            sweeper.runs += 1;
            if !outcome.succeeded() {
                sweeper.failed_runs += 1;
            }
        }
    }
    let pending_left = stack.unsent_count(RowStatus::Pending).await?;
    let parked = stack.unsent_count(RowStatus::Parked).await?;
    if let Some((schedule, queue_url)) = rival {
        sweeper.rival_exit = Some(match schedule.stop(Duration::from_secs(10)).await? {
            Some(status) => status.to_string(),
            None => "killed after SIGTERM was ignored".to_owned(),
        });
        sweeper.rival_messages = stack.queue_depth(&queue_url).await?;
    }
    let sweep_phase = sweep_started.elapsed();

    // Drain phase: wait for an empty queue (visible and in flight), then stop the consumers.
    let drain_started = Instant::now();
    let mut empty_checks = 0;
    while drain_started.elapsed() < config.drain_limit && empty_checks < 2 {
        match stack.queue_depth(&stack.queue_url).await {
            Ok(0) => empty_checks += 1,
            _ => empty_checks = 0,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let consumed = consumers.stop().await;
    let queue_left = stack
        .queue_depth(&stack.queue_url)
        .await
        .unwrap_or(u64::MAX);
    let dlq_depth = stack.queue_depth(&stack.dlq_url).await.unwrap_or(u64::MAX);
    let drain_phase = drain_started.elapsed();

    let mut logs = ingress.logs();
    logs.extend(list_logs(&log_dir, "sweeper"));
    let mut report = Report {
        seed: config.seed,
        events: webhooks.len(),
        body_kinds: body_kinds(&webhooks),
        concurrency: config.concurrency,
        deliveries: provided.deliveries,
        requests: provided.requests,
        answers: provided.answers.clone(),
        answer_ms: Percentiles::of(
            provided
                .records
                .iter()
                .flat_map(|record| record.answer_ms.iter().copied())
                .collect(),
        ),
        accepted: provided.records.iter().filter(|r| r.accepted).count(),
        gave_up: provided.records.iter().filter(|r| !r.accepted).count(),
        kills: kills.kills,
        kills_planned: config.kills,
        in_flight_at_kills: kills.in_flight,
        ingress_starts: ingress.incarnations(),
        ingress_proxy: ingress_proxy.stats(),
        sweeper_proxy: sweeper_proxy.stats(),
        sweeper,
        pending_left,
        parked,
        messages: consumed.messages.len() as u64,
        delivered_by: BTreeMap::new(),
        base64_messages: 0,
        s3_messages: 0,
        duplicates_delivered: 0,
        delivered_unacknowledged: 0,
        unexpected_messages: 0,
        wrong_body_messages: 0,
        consumer_errors: consumed.errors,
        queue_left,
        dlq_depth,
        lost: Vec::new(),
        send_phase,
        sweep_phase,
        drain_phase,
        elapsed: Duration::ZERO,
        log_dir: Some(log_dir.clone()),
    };
    verify(&webhooks, &provided, &consumed, &mut report);
    for lost in report.lost.iter_mut().take(MAX_LOST_DETAILS) {
        lost.row = stack.describe_row(&lost.event_id).await.unwrap_or(None);
        lost.log_lines = log_lines_mentioning(&logs, &lost.event_id);
    }
    // Evidence of a loss stays (logs and the table on moto); otherwise moto is cleaned up.
    let keep = !report.lost.is_empty() && config.keep_evidence;
    if !keep {
        stack.delete().await;
        if !config.keep_logs {
            let _ = std::fs::remove_dir_all(&log_dir);
            report.log_dir = None;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Lost events explained in detail (the rest are only listed).
const MAX_LOST_DETAILS: usize = 20;

fn proxy_config(config: &SoakConfig, stack: &Stack, role: &str, rules: FaultRules) -> ProxyConfig {
    let mut proxy = ProxyConfig::new(
        stack.moto,
        rules,
        XorShift64::derive(config.seed, role).next_u64(),
    );
    proxy.hang_for = config.hang_for;
    proxy
}

fn say(config: &SoakConfig, line: String) {
    if config.progress {
        eprintln!("[e2e] {line}");
    }
}

fn short_tag() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id.get(..6).unwrap_or("run").to_owned()
}

fn free_address() -> Result<SocketAddr, HarnessError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(HarnessError::Port)?;
    listener.local_addr().map_err(HarnessError::Port)
}

fn body_kinds(webhooks: &[Webhook]) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for webhook in webhooks {
        *kinds.entry(webhook.kind.name()).or_default() += 1;
    }
    kinds
}

fn list_logs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    logs.sort();
    logs
}

fn log_lines_mentioning(logs: &[PathBuf], event_id: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let name = log
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("log");
        for line in text.lines().filter(|line| line.contains(event_id)) {
            let shortened: String = line.chars().take(600).collect();
            lines.push(format!("{name}: {shortened}"));
            if lines.len() >= 16 {
                return lines;
            }
        }
    }
    lines
}

/// Compares what the provider was promised with what the consumers got.
fn verify(
    webhooks: &[Webhook],
    provided: &ProviderResult,
    consumed: &Consumed,
    report: &mut Report,
) {
    let mut by_id: HashMap<&str, Vec<&Delivered>> = HashMap::new();
    for message in &consumed.messages {
        if let Some(by) = &message.delivered_by {
            *report.delivered_by.entry(by.clone()).or_default() += 1;
        }
        if message.base64 {
            report.base64_messages += 1;
        }
        if message.in_s3 {
            report.s3_messages += 1;
        }
        match (&message.event_id, &message.sha256) {
            (Some(id), Some(_)) => by_id.entry(id.as_str()).or_default().push(message),
            _ => report.unexpected_messages += 1,
        }
    }
    let mut known = 0u64;
    for (webhook, record) in webhooks.iter().zip(&provided.records) {
        let copies = by_id
            .get(webhook.event_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        known += copies.len() as u64;
        let exact = copies
            .iter()
            .filter(|message| message.sha256.as_deref() == Some(webhook.sha256.as_str()))
            .count();
        let wrong = copies.len() - exact;
        report.wrong_body_messages += wrong as u64;
        report.duplicates_delivered += exact.saturating_sub(1) as u64;
        if exact == 0 && record.accepted {
            report.lost.push(LostEvent {
                event_id: webhook.event_id.clone(),
                kind: webhook.kind,
                answers: record.answers.iter().map(|answer| answer.label()).collect(),
                row: None,
                wrong_bodies: wrong,
                log_lines: Vec::new(),
            });
        }
        if exact > 0 && !record.accepted {
            report.delivered_unacknowledged += 1;
        }
    }
    let with_id: u64 = by_id.values().map(|copies| copies.len() as u64).sum();
    report.unexpected_messages += with_id - known;
}

#[derive(Debug, Default)]
struct KillStats {
    kills: u32,
    in_flight: u64,
}

/// `kills` progress points (finished deliveries) spread at random over 5%..90% of the run.
fn kill_points(deliveries: usize, kills: usize, rng: &mut XorShift64) -> Vec<usize> {
    let low = (deliveries as u64 * 5 / 100).max(1);
    let high = (deliveries as u64 * 90 / 100).max(low);
    let mut points: Vec<usize> = (0..kills)
        .map(|_| usize::try_from(rng.between(low, high)).unwrap_or(0))
        .collect();
    points.sort_unstable();
    points
}

/// SIGKILLs the ingress when the provider reaches each point with requests in flight, and
/// restarts it after a short random outage. Stops when the provider is done.
async fn kill_at(
    ingress: &mut IngressProcess,
    points: Vec<usize>,
    progress: &Progress,
    finished: &AtomicBool,
    mut rng: XorShift64,
) -> Result<KillStats, ProcessError> {
    let mut stats = KillStats::default();
    for point in points {
        // Bounded by the provider, which finishes in bounded time and then sets `finished`.
        loop {
            if finished.load(Ordering::SeqCst) {
                return Ok(stats);
            }
            let done = progress.deliveries_done.load(Ordering::SeqCst);
            let in_flight = progress.in_flight.load(Ordering::SeqCst);
            if done >= point && in_flight > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // A random few milliseconds more, so kills land at every stage of a request.
        tokio::time::sleep(Duration::from_millis(rng.below(25))).await;
        stats.in_flight += progress.in_flight.load(Ordering::SeqCst) as u64;
        ingress.kill().await?;
        stats.kills += 1;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        ingress.restart().await?;
    }
    Ok(stats)
}

async fn progress_lines(progress: Arc<Progress>, received: Arc<std::sync::atomic::AtomicU64>) {
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    interval.tick().await;
    // Aborted by the harness when the send phase ends.
    loop {
        interval.tick().await;
        eprintln!(
            "[e2e] deliveries {}/{}, accepted {}, requests {}, in flight {}, messages received {}",
            progress.deliveries_done.load(Ordering::Relaxed),
            progress.deliveries_total.load(Ordering::Relaxed),
            progress.accepted.load(Ordering::Relaxed),
            progress.requests.load(Ordering::Relaxed),
            progress.in_flight.load(Ordering::Relaxed),
            received.load(Ordering::Relaxed),
        );
    }
}

fn join_counts<K: fmt::Display, V: fmt::Display>(
    counts: impl IntoIterator<Item = (K, V)>,
) -> String {
    let parts: Vec<String> = counts
        .into_iter()
        .map(|(key, value)| format!("{key} {value}"))
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

fn fault_table(f: &mut fmt::Formatter<'_>, title: &str, stats: &ProxyStats) -> fmt::Result {
    writeln!(f, "  {title}")?;
    write!(f, "    {:<26}{:>9}", "operation", "calls")?;
    for kind in Fault::ALL {
        write!(f, "{:>18}", kind.name())?;
    }
    writeln!(f)?;
    for (operation, calls) in &stats.requests {
        write!(f, "    {operation:<26}{calls:>9}")?;
        for kind in Fault::ALL {
            let count = stats
                .faults
                .get(operation)
                .and_then(|kinds| kinds.get(&kind))
                .copied()
                .unwrap_or(0);
            write!(f, "{count:>18}")?;
        }
        writeln!(f)?;
    }
    if stats.upstream_errors > 0 {
        writeln!(
            f,
            "    moto did not answer (502, rig problem): {}",
            stats.upstream_errors
        )?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, label: &str, value: String| {
            writeln!(f, "  {label:<38}{value}")
        };
        writeln!(f, "e2e fault-injection report (seed {})", self.seed)?;
        writeln!(f, "provider")?;
        row(f, "events (distinct webhooks)", self.events.to_string())?;
        row(f, "body shapes", join_counts(&self.body_kinds))?;
        row(
            f,
            "deliveries (incl. deliberate repeats)",
            format!(
                "{} ({} repeats)",
                self.deliveries,
                self.deliveries.saturating_sub(self.events as u64)
            ),
        )?;
        row(f, "HTTP requests", self.requests.to_string())?;
        row(f, "provider retries", self.provider_retries().to_string())?;
        row(f, "answers", join_counts(&self.answers))?;
        row(
            f,
            "answer time p50 / p99 / max",
            format!(
                "{} / {} / {} ms",
                self.answer_ms.p50, self.answer_ms.p99, self.answer_ms.max
            ),
        )?;
        row(f, "accepted (2xx)", self.accepted.to_string())?;
        row(
            f,
            "never accepted (provider gave up)",
            self.gave_up.to_string(),
        )?;
        row(f, "rejected (4xx answers)", self.rejected().to_string())?;
        writeln!(f, "ingress")?;
        row(
            f,
            "kills (SIGKILL, requests in flight)",
            format!(
                "{} of {} planned ({} requests in flight at the kills)",
                self.kills, self.kills_planned, self.in_flight_at_kills
            ),
        )?;
        row(
            f,
            "ingress processes started",
            self.ingress_starts.to_string(),
        )?;
        writeln!(f, "faults injected")?;
        row(
            f,
            "by kind",
            join_counts(
                Fault::ALL
                    .iter()
                    .map(|kind| (kind.name(), self.faults_of(*kind))),
            ),
        )?;
        row(f, "total", self.total_faults().to_string())?;
        fault_table(f, "ingress calls", &self.ingress_proxy)?;
        fault_table(f, "sweeper calls", &self.sweeper_proxy)?;
        writeln!(f, "sweeper")?;
        row(
            f,
            "rows pending after the send phase",
            self.sweeper.pending_after_send.to_string(),
        )?;
        row(
            f,
            "one-shot runs (failed)",
            format!(
                "{} ({}); pending before each: {:?}",
                self.sweeper.runs, self.sweeper.failed_runs, self.sweeper.pending_before_runs
            ),
        )?;
        if let Some(exit) = &self.sweeper.schedule_exit {
            row(f, "scheduled sweeper exit", exit.clone())?;
        }
        if let Some(exit) = &self.sweeper.rival_exit {
            row(
                f,
                "rival source's sweeper",
                format!(
                    "{exit}; {} messages on its queue (must be 0)",
                    self.sweeper.rival_messages
                ),
            )?;
        }
        row(f, "rows still pending", self.pending_left.to_string())?;
        row(f, "rows parked", self.parked.to_string())?;
        writeln!(f, "queue")?;
        row(
            f,
            "messages received",
            format!(
                "{} ({}; base64 {}; pointers to S3 {})",
                self.messages,
                join_counts(&self.delivered_by),
                self.base64_messages,
                self.s3_messages
            ),
        )?;
        row(
            f,
            "duplicates delivered",
            self.duplicates_delivered.to_string(),
        )?;
        row(
            f,
            "delivered though never acknowledged",
            self.delivered_unacknowledged.to_string(),
        )?;
        row(
            f,
            "messages with wrong bytes",
            self.wrong_body_messages.to_string(),
        )?;
        row(
            f,
            "unexpected messages",
            self.unexpected_messages.to_string(),
        )?;
        row(f, "consumer errors", self.consumer_errors.to_string())?;
        row(
            f,
            "left on the queue / DLQ depth",
            format!("{} / {}", self.queue_left, self.dlq_depth),
        )?;
        writeln!(f, "time")?;
        row(
            f,
            "phases (send / sweep / drain)",
            format!(
                "{:.1}s / {:.1}s / {:.1}s",
                self.send_phase.as_secs_f64(),
                self.sweep_phase.as_secs_f64(),
                self.drain_phase.as_secs_f64()
            ),
        )?;
        row(f, "elapsed", format!("{:.1}s", self.elapsed.as_secs_f64()))?;
        row(
            f,
            "throughput",
            format!(
                "{:.1} accepted events/s (send phase)",
                self.events_per_second()
            ),
        )?;
        if let Some(dir) = &self.log_dir {
            row(f, "logs", dir.display().to_string())?;
        }
        if !self.lost.is_empty() {
            writeln!(f, "LOST EVENTS (answered 2xx, not on the queue byte-exact)")?;
            for (index, lost) in self.lost.iter().enumerate() {
                writeln!(
                    f,
                    "  {} [{}] answers: {}",
                    lost.event_id,
                    lost.kind.name(),
                    lost.answers.join(", ")
                )?;
                if index >= MAX_LOST_DETAILS {
                    continue;
                }
                writeln!(f, "    row: {}", lost.row.as_deref().unwrap_or("(none)"))?;
                if lost.wrong_bodies > 0 {
                    writeln!(
                        f,
                        "    messages with this id but other bytes: {}",
                        lost.wrong_bodies
                    )?;
                }
                for line in &lost.log_lines {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_durations() {
        let p = Percentiles::of((1..=100).rev().collect());
        assert_eq!((p.p50, p.p99, p.max), (51, 100, 100));
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
        assert_eq!(Percentiles::of(vec![7]).p99, 7);
    }

    #[test]
    fn kill_points_are_sorted_inside_the_run() {
        let mut rng = XorShift64::new(1);
        let points = kill_points(1000, 20, &mut rng);
        assert_eq!(points.len(), 20);
        assert!(points.windows(2).all(|w| w[0] <= w[1]));
        assert!(points.iter().all(|p| (50..=900).contains(p)));
        assert!(kill_points(1000, 0, &mut rng).is_empty());
    }

    #[test]
    fn soak_defaults_meet_the_brief_and_rules_cover_the_right_calls() {
        let soak = SoakConfig::soak(1);
        assert!(soak.events >= 5000 && soak.kills >= 2);
        assert!(soak.send_fault_rate >= 0.3 && soak.dynamodb_fault_rate >= 0.1);
        let ingress = soak.ingress_rules();
        assert!((ingress.total_rate("sqs:SendMessage") - 0.33).abs() < 1e-9);
        assert!((ingress.total_rate("dynamodb:PutItem") - 0.12).abs() < 1e-9);
        assert_eq!(ingress.total_rate("dynamodb:DescribeTable"), 0.0);
        let sweeper = soak.sweeper_rules();
        assert!((sweeper.total_rate("sqs:SendMessageBatch") - 0.33).abs() < 1e-9);
        assert!((sweeper.total_rate("dynamodb:Query") - 0.12).abs() < 1e-9);
        assert!((ingress.total_rate("s3:PutObject") - 0.25).abs() < 1e-9);
        assert!((sweeper.total_rate("s3:CopyObject") - 0.25).abs() < 1e-9);
        let mut bad = SoakConfig::small(1);
        bad.send_fault_rate = 1.5;
        assert!(matches!(bad.validate(), Err(HarnessError::Config(_))));
    }
}
