//! The sweeper Lambda: re-sends every outbox row the ingress left pending. Its Lambda and local
//! entry points are [`lambda`] and [`local`]; the binary only wires them.
//!
//! The ingress answers 200 once a row is durable, even if SendMessage failed or the process died
//! before it; this sweep is what turns "durable" into "on the queue". It reads the sparse unsent
//! index, `SWEEP_CONCURRENCY` shards at a time (cost follows the pending rows, never the table),
//! re-reads each row consistently, sends in batches, marks rows sent with a conditional update,
//! and parks a row after `MAX_ATTEMPTS` failed sends. [`Sweeper::sweep_once`] is one run, driven
//! step by step by the tests.
//!
//! The sweeper takes its outbox and queues as ports ([`shared::ports`]): deployed, the DynamoDB
//! and SQS adapters ([`Sweeper::with_sdk`]); in tests, the in-memory fakes too
//! ([`Sweeper::with_ports`]).
//!
//! Two sweeps running at once lose nothing: both may send the same pending row (the workers
//! deduplicate on `event-id`), and only one of them marks it sent. A sweeper only reads its own
//! source's index partitions and never sends a row of another source, so sources may share a
//! table, each with its own queue.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use futures_util::future::join_all;
use serde::Serialize;
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::s3_client;
use shared::aws::sqs::{batches, QueueError, Queues, SqsQueue};
use shared::config::SweeperConfig;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::metrics::{EmfEmitter, MetricSet, Unit};
use shared::outbox::{FailureOutcome, MarkOutcome, OutboxError, RowStatus, StoredRow, UnsentRef};
use shared::ports::{Outbox, Queue, QueueSet};
use shared::time::{now_millis, EpochMillis};
use tokio::task::JoinSet;
use tracing::{info, warn};

pub mod lambda;
pub mod local;

/// Every environment variable the deployed function reads.
pub const ENV_VARS: &[&str] = &[
    "SOURCE_NAME",
    "OUTBOX_TABLE",
    "QUEUE_URL",
    "PENDING_SHARDS",
    "RETENTION_DAYS",
    "METRICS_NAMESPACE",
    "ROUTES",
    "LARGE_BODY_BUCKET",
    "LARGE_BODY_PREFIX",
    "LARGE_BODY_KMS_KEY",
    "GRACE_SECS",
    "MAX_ATTEMPTS",
    "SWEEP_CONCURRENCY",
];

/// The IAM actions the sweeper's AWS calls need (SendMessageBatch is authorised by SendMessage).
pub const IAM_ACTIONS: &[&str] = &[
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:UpdateItem",
    "sqs:SendMessage",
];

/// What re-tagging a sent row's body in S3 needs (the CopyObject onto itself reads the source
/// and writes the object with its new tag), on the large-body bucket's objects only; the KMS key
/// needs `kms:GenerateDataKey` and `kms:Decrypt`.
pub const LARGE_BODY_IAM_ACTIONS: &[&str] =
    &["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"];

/// Index items asked for per Query page (and rows per BatchGetItem).
const PAGE_SIZE: usize = 100;
/// No page starts with less time than this (plus the last page's duration) left before the
/// backlog reserve.
const STEP_RESERVE: Duration = Duration::from_millis(500);
/// The pause before a throttled mark-sent is repeated; each further repeat pauses twice as long,
/// up to [`MARK_RETRY_MAX_PAUSE`].
const MARK_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);
const MARK_RETRY_MAX_PAUSE: Duration = Duration::from_secs(2);
/// Time kept for measuring the backlog after re-sending (at most a fifth of the sweep's time),
/// so an overwhelmed sweep still reports how far behind the outbox is.
const BACKLOG_RESERVE: Duration = Duration::from_secs(3);

/// What one sweep did and the state it left, as the EMF metrics and the logs report it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    /// Rows sent and marked sent.
    pub resent: u64,
    /// Rows whose send failed (attempts + 1).
    pub resend_failed: u64,
    /// Rows parked by this sweep after `MAX_ATTEMPTS` failures.
    pub parked: u64,
    /// Pending rows left after the sweep, whatever their age; `None` if they could not be counted.
    pub pending_after: Option<u64>,
    /// Age of the oldest pending row after the sweep (0 when none); `None` if not measured.
    pub oldest_pending_age_secs: Option<f64>,
    /// Index items DynamoDB read for this sweep (its cost), from the Query responses.
    pub index_items_read: usize,
    /// AWS calls that failed outright (a Query, a BatchGetItem, an UpdateItem).
    pub errors: u64,
    /// Bodies in S3 whose row was marked sent but whose object could not be re-tagged `sent`:
    /// those objects never expire (a leak, nothing lost).
    pub large_body_retag_failed: u64,
    /// The deadline came before every pending row was looked at.
    pub stopped_early: bool,
    /// SendMessageBatch calls that failed as a whole (throttling, a 5xx, KMS, access denied, a
    /// missing queue): no row of theirs is charged an attempt, and the sweep stops sending.
    pub send_calls_failed: u64,
    /// Of `resent`, rows whose mark then found them no longer pending (discarded or parked by
    /// on-call, or sent by another sweep, after this sweep read them; or marked by an earlier
    /// attempt of the same call): on the queue, the row left as it is, and a warning logged.
    pub sent_after_change: u64,
    /// This source's parked rows after the sweep; `None` if they could not be counted.
    pub parked_after: Option<u64>,
    /// Mark-sent updates the table refused for its rate and this sweep repeated after a pause,
    /// instead of leaving the row pending to be sent again.
    pub marks_retried: u64,
}

impl SweepReport {
    fn absorb(&mut self, other: SweepReport) {
        self.resent += other.resent;
        self.resend_failed += other.resend_failed;
        self.parked += other.parked;
        self.errors += other.errors;
        self.index_items_read += other.index_items_read;
        self.large_body_retag_failed += other.large_body_retag_failed;
        self.stopped_early |= other.stopped_early;
        self.send_calls_failed += other.send_calls_failed;
        self.sent_after_change += other.sent_after_change;
        self.marks_retried += other.marks_retried;
    }

    fn metrics(&self) -> MetricSet {
        let mut metrics = MetricSet::default();
        metrics.add("Resent", self.resent as f64, Unit::Count);
        metrics.add("ResendFailed", self.resend_failed as f64, Unit::Count);
        metrics.add("Parked", self.parked as f64, Unit::Count);
        metrics.add(
            "LargeBodyRetagFailed",
            self.large_body_retag_failed as f64,
            Unit::Count,
        );
        // Omitted rather than reported as 0 when unmeasured: a missing datapoint alarms, a 0 hides.
        if let Some(pending) = self.pending_after {
            metrics.set("PendingCount", pending as f64, Unit::Count);
        }
        // The parked alarm reads this gauge: it stays in alarm while parked rows wait.
        if let Some(parked) = self.parked_after {
            metrics.set("ParkedCount", parked as f64, Unit::Count);
        }
        if let Some(age) = self.oldest_pending_age_secs {
            metrics.set("OldestPendingAgeSeconds", age, Unit::Seconds);
        }
        metrics
    }
}

/// The monotonic time a sweep plans with: whether a page still fits before the deadline, how
/// long the last page took, when to stop for the backlog count.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real monotonic clock, which every deployed sweep uses.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The sweeper with its ports, built once per cold start.
pub struct Sweeper {
    config: SweeperConfig,
    outbox: Arc<dyn Outbox>,
    /// The default queue and every routed one: a row goes to the queue it recorded.
    queues: QueueSet,
    metrics: EmfEmitter,
    /// Re-tags the S3 body of a row it marked sent; rows with their body inline need none.
    body_store: Option<S3BodyStore>,
    clock: Arc<dyn Clock>,
    /// Which shard the next sweep starts at: one further each sweep, so during a backlog no
    /// shard is always last (seeded from the wall clock, so cold starts differ too).
    next_first_shard: AtomicU32,
}

impl Sweeper {
    /// The sweeper on the DynamoDB outbox and SQS: `queue` is the default queue, and the routed
    /// ones (`ROUTES`) share its client.
    pub fn new(config: SweeperConfig, outbox: DynamoDbOutbox, queue: SqsQueue) -> Self {
        let queues = Queues::new(queue, &config.outbox.routes).ports();
        Self::with_ports(config, Arc::new(outbox), queues)
    }

    /// The sweeper on any outbox and queues (the in-memory fakes in tests).
    pub fn with_ports(config: SweeperConfig, outbox: Arc<dyn Outbox>, queues: QueueSet) -> Self {
        let metrics = EmfEmitter::new(&config.outbox.metrics_namespace, &config.outbox.source);
        Self {
            config,
            outbox,
            queues,
            metrics,
            body_store: None,
            clock: Arc::new(SystemClock),
            next_first_shard: AtomicU32::new(
                u32::try_from((now_millis() / 1000).rem_euclid(i64::from(u16::MAX))).unwrap_or(0),
            ),
        }
    }

    /// Plans its sweeps with `clock` instead of the real clock (tests decide how time passes).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Re-tags the S3 bodies of the rows it marks sent with `store`.
    pub fn with_body_store(self, store: S3BodyStore) -> Self {
        Self {
            body_store: Some(store),
            ..self
        }
    }

    /// Prints the ColdStart metric (once per process, before the first sweep).
    pub fn emit_cold_start(&self) {
        self.metrics
            .emit_cold_start(&shared::config::ProcessEnv, now_millis());
    }

    /// Builds the clients from `sdk`.
    pub fn with_sdk(config: SweeperConfig, sdk: &SdkConfig) -> Self {
        let outbox = dynamodb_outbox(&config, sdk);
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.outbox.queue_url);
        // Always built: a row may point to S3 even if this sweeper's LARGE_BODY_BUCKET was
        // unset since (the row names its bucket).
        let kms_key_id = config
            .outbox
            .large_bodies
            .as_ref()
            .and_then(|settings| settings.kms_key_id.clone());
        let store = S3BodyStore::new(s3_client(sdk), kms_key_id);
        Self::new(config, outbox, queue).with_body_store(store)
    }

    /// One sweep over every shard, `SWEEP_CONCURRENCY` shards at a time: re-sends pending rows
    /// received before `now - GRACE_SECS`, starting no page that would not end before the time
    /// kept for the backlog, then measures what is left and prints the EMF line. `deadline` is on
    /// the sweeper's clock; every AWS call is also cut off once the time left at the start has
    /// passed in real time.
    pub async fn sweep_once(&self, now: EpochMillis, deadline: Instant) -> SweepReport {
        let left = deadline.saturating_duration_since(self.clock.now());
        self.sweep_within(now, deadline, Instant::now() + left)
            .await
    }

    /// [`Sweeper::sweep_once`] with the real-time cut-off of its AWS calls given apart from the
    /// deadline it plans with (on the sweeper's clock): for tests that move the clock themselves
    /// and keep real time only as a guard against a hang.
    pub async fn sweep_within(
        &self,
        now: EpochMillis,
        deadline: Instant,
        cut_off: Instant,
    ) -> SweepReport {
        let (started, started_real) = (self.clock.now(), Instant::now());
        let budget = deadline.saturating_duration_since(started);
        let plan = Plan {
            start_by: deadline
                .checked_sub(BACKLOG_RESERVE.min(budget / 5))
                .unwrap_or(deadline),
            cut_off,
        };
        let grace_ms = i64::try_from(self.config.grace.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(grace_ms);
        let mut report = SweepReport::default();
        let longest_page = AtomicU64::new(0);
        let outage = Arc::new(AtomicBool::new(false));
        let first = self.next_first_shard.fetch_add(1, Ordering::Relaxed);
        let shards = each_shard(
            self.config.outbox.pending_shards,
            self.config.concurrency,
            first,
            |shard| self.sweep_shard(shard, cutoff, plan, &longest_page, &outage),
        )
        .await;
        for shard_report in shards {
            report.absorb(shard_report);
        }
        self.measure_backlog(&mut report, plan.cut_off).await;
        self.metrics.emit(&report.metrics(), now_millis());
        let took = started_real.elapsed();
        info!(
            resent = report.resent,
            resend_failed = report.resend_failed,
            parked = report.parked,
            pending_after = report.pending_after,
            oldest_pending_age_secs = report.oldest_pending_age_secs,
            index_items_read = report.index_items_read,
            errors = report.errors,
            stopped_early = report.stopped_early,
            send_calls_failed = report.send_calls_failed,
            sent_after_change = report.sent_after_change,
            marks_retried = report.marks_retried,
            parked_after = report.parked_after,
            duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "sweep finished"
        );
        report
    }

    /// Re-sends one shard's pending rows page by page, until the shard has none left, a Query
    /// fails (the shard waits for the next sweep) or `plan.start_by` is near. A page is started
    /// only if one as long as the longest page of this sweep so far (`longest_page`, in
    /// nanoseconds, shared by the shards) would end before `start_by`, and a started page is
    /// finished (its calls bounded only by `plan.cut_off`) rather than abandoned mid-call: an
    /// abandoned SendMessageBatch may have been sent, and the calls an emulator or a slow
    /// service is still serving would delay the backlog count that follows.
    async fn sweep_shard(
        &self,
        shard: u16,
        cutoff: EpochMillis,
        plan: Plan,
        longest_page: &AtomicU64,
        outage: &Arc<AtomicBool>,
    ) -> SweepReport {
        let deadline = plan.cut_off;
        let mut report = SweepReport::default();
        let mut start = None;
        loop {
            if outage.load(Ordering::Relaxed) {
                // SQS refused a whole call: the next sweep tries again, no row charged meanwhile.
                return report;
            }
            let page_started = self.clock.now();
            let expected = Duration::from_nanos(longest_page.load(Ordering::Relaxed));
            if !has_time(page_started, plan.start_by, expected) {
                report.stopped_early = true;
                return report;
            }
            let page = self
                .outbox
                .unsent_page(RowStatus::Pending, shard, cutoff, PAGE_SIZE, start);
            let page = match bounded(deadline, page).await {
                Some(Ok(page)) => page,
                Some(Err(err)) => {
                    report.errors += 1;
                    warn!(shard, error = %err, "cannot read pending rows; the shard waits for the next sweep");
                    return report;
                }
                None => {
                    report.stopped_early = true;
                    return report;
                }
            };
            report.index_items_read += page.items_read;
            if !page.rows.is_empty() {
                report.absorb(self.resend(&page.rows, deadline, outage).await);
            }
            let took = self.clock.now().saturating_duration_since(page_started);
            longest_page.fetch_max(
                u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            match page.next {
                Some(next) => start = Some(next),
                None => return report,
            }
        }
    }

    /// Re-reads one page of rows and sends those still pending, the batches concurrently.
    async fn resend(
        &self,
        refs: &[UnsentRef],
        deadline: Instant,
        outage: &Arc<AtomicBool>,
    ) -> SweepReport {
        let mut report = SweepReport::default();
        let keys: Vec<String> = refs.iter().map(|r| r.key.clone()).collect();
        let rows = match bounded(deadline, self.outbox.load_rows(&keys)).await {
            Some(Ok(rows)) => rows,
            Some(Err(err)) => {
                report.errors += 1;
                warn!(error = %err, "cannot load pending rows");
                return report;
            }
            None => {
                report.stopped_early = true;
                return report;
            }
        };
        let own_source = &self.config.outbox.source;
        let due: Vec<(StoredRow, OutgoingMessage)> = rows
            .into_iter()
            .filter(|row| row.status == RowStatus::Pending)
            .filter(|row| {
                // The index key names the source, so this only happens to a row whose index key
                // was written by hand or by a bug: its own source's sweeper must send it, to its
                // own queue, never this one.
                let own = &row.event.source == own_source;
                if !own {
                    warn!(key = %row.key, row_source = %row.event.source, "a row of another source in this source's index partition; left alone");
                }
                own
            })
            .map(|row| {
                let message = OutgoingMessage::for_event(&row.event, DeliveredBy::Sweeper);
                (row, message)
            })
            .collect();
        let (retention, max_attempts) = (self.config.outbox.retention, self.config.max_attempts);
        let mut tasks = JoinSet::new();
        for (destination, rows) in by_destination(due) {
            let Some(queue) = self.queues.get(destination.as_deref()).cloned() else {
                // Parked after MAX_ATTEMPTS like any unsendable row, for on-call to see.
                let error = QueueError::UnknownDestination(destination.unwrap_or_default());
                let outbox = Arc::clone(&self.outbox);
                tasks.spawn(async move {
                    record_failures(&*outbox, &rows, &error.to_string(), max_attempts, deadline)
                        .await
                });
                continue;
            };
            for batch in batches(&rows, |(_, message)| message.size()) {
                let (batch, outbox, queue) =
                    (batch.to_vec(), Arc::clone(&self.outbox), Arc::clone(&queue));
                let (body_store, outage) = (self.body_store.clone(), Arc::clone(outage));
                tasks.spawn(async move {
                    if outage.load(Ordering::Relaxed) {
                        return SweepReport::default();
                    }
                    let sink = BatchSink {
                        outbox: &*outbox,
                        queue: &*queue,
                        body_store: body_store.as_ref(),
                        outage: &outage,
                    };
                    send_batch(sink, batch, retention, max_attempts, deadline).await
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(batch_report) => report.absorb(batch_report),
                Err(err) => {
                    report.errors += 1;
                    warn!(error = %err, "a batch task failed");
                }
            }
        }
        report
    }

    /// `PendingCount` and `OldestPendingAgeSeconds` after the sweep, the shards as concurrently
    /// as the sweep; left `None` unless every shard could be measured.
    async fn measure_backlog(&self, report: &mut SweepReport, deadline: Instant) {
        let shards = each_shard(
            self.config.outbox.pending_shards,
            self.config.concurrency,
            0,
            |shard| self.shard_backlog(shard, deadline),
        )
        .await;
        let mut pending = 0_u64;
        let mut oldest: Option<EpochMillis> = None;
        let mut measured = true;
        for (shard, items_read, backlog) in shards {
            report.index_items_read += items_read;
            match backlog {
                Ok((count, first)) => {
                    pending += count;
                    oldest = oldest.into_iter().chain(first).min();
                }
                Err(Unmeasured::Failed(err)) => {
                    report.errors += 1;
                    warn!(shard, error = %err, "cannot measure pending rows");
                    measured = false;
                }
                Err(Unmeasured::Deadline) => {
                    report.stopped_early = true;
                    measured = false;
                }
            }
        }
        if measured {
            report.pending_after = Some(pending);
            report.oldest_pending_age_secs = Some(oldest.map_or(0.0, |at| {
                now_millis().saturating_sub(at).max(0) as f64 / 1000.0
            }));
        }
        self.measure_parked(report, deadline).await;
    }

    /// `ParkedCount`: this source's parked rows (a count per shard of the parked index
    /// partitions); left `None` unless every shard could be counted.
    async fn measure_parked(&self, report: &mut SweepReport, deadline: Instant) {
        let shards = each_shard(
            self.config.outbox.pending_shards,
            self.config.concurrency,
            0,
            |shard| async move {
                let counted = self.outbox.count_unsent(RowStatus::Parked, shard);
                (shard, bounded(deadline, counted).await)
            },
        )
        .await;
        let mut parked = Some(0_u64);
        for (shard, counted) in shards {
            match counted {
                Some(Ok((count, items_read))) => {
                    report.index_items_read += items_read;
                    parked = parked.map(|total| total + count);
                }
                Some(Err(err)) => {
                    report.errors += 1;
                    warn!(shard, error = %err, "cannot count parked rows");
                    parked = None;
                }
                None => {
                    report.stopped_early = true;
                    parked = None;
                }
            }
        }
        report.parked_after = parked;
    }

    /// One shard's pending rows and when its oldest was received, with the index items read.
    async fn shard_backlog(
        &self,
        shard: u16,
        deadline: Instant,
    ) -> (u16, usize, Result<(u64, Option<EpochMillis>), Unmeasured>) {
        let counted = bounded(
            deadline,
            self.outbox.count_unsent(RowStatus::Pending, shard),
        );
        let (count, mut items_read) = match counted.await {
            Some(Ok(counted)) => counted,
            Some(Err(err)) => return (shard, 0, Err(Unmeasured::Failed(err))),
            None => return (shard, 0, Err(Unmeasured::Deadline)),
        };
        if count == 0 {
            return (shard, items_read, Ok((0, None)));
        }
        let first = self
            .outbox
            .unsent_page(RowStatus::Pending, shard, EpochMillis::MAX, 1, None);
        let backlog = match bounded(deadline, first).await {
            Some(Ok(page)) => {
                items_read += page.items_read;
                Ok((count, page.rows.first().map(|row| row.received_at)))
            }
            Some(Err(err)) => Err(Unmeasured::Failed(err)),
            None => Err(Unmeasured::Deadline),
        };
        (shard, items_read, backlog)
    }
}

/// The outbox table as the sweeper configured by `config` sees it, on `sdk`'s settings.
pub fn dynamodb_outbox(config: &SweeperConfig, sdk: &SdkConfig) -> DynamoDbOutbox {
    DynamoDbOutbox::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &config.outbox.table,
        &config.outbox.source,
        config.outbox.pending_shards,
    )
}

/// When a sweep stops starting pages, on the sweeper's clock, and when its AWS calls are cut off,
/// in real time.
#[derive(Clone, Copy)]
struct Plan {
    start_by: Instant,
    cut_off: Instant,
}

/// Why a shard's backlog is unknown.
enum Unmeasured {
    Failed(OutboxError),
    Deadline,
}

/// Runs `work` once for every shard `0..shards`, at most `concurrency` at a time (the next shard
/// starts as soon as one is done), starting at shard `first % shards` and wrapping around, and
/// returns the results in the order the shards finished.
async fn each_shard<T, Work, Step>(shards: u16, concurrency: u16, first: u32, work: Work) -> Vec<T>
where
    Work: Fn(u16) -> Step,
    Step: Future<Output = T>,
{
    let next = AtomicU32::new(0);
    let offset = first % u32::from(shards.max(1));
    let (next, work) = (&next, &work);
    let worker = || async move {
        let mut done = Vec::new();
        loop {
            let step = next.fetch_add(1, Ordering::Relaxed);
            if step >= u32::from(shards) {
                return done;
            }
            match u16::try_from((offset + step) % u32::from(shards)) {
                Ok(shard) => done.push(work(shard).await),
                Err(_) => return done,
            }
        }
    };
    join_all((0..concurrency.clamp(1, shards.max(1))).map(|_| worker()))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Counts a failed re-send and records it on the row (`attempts + 1`, parked at `max_attempts`).
async fn record_failure(
    outbox: &dyn Outbox,
    row: &StoredRow,
    error: &str,
    max_attempts: u32,
    deadline: Instant,
) -> SweepReport {
    let mut report = SweepReport {
        resend_failed: 1,
        ..SweepReport::default()
    };
    warn!(key = %row.key, attempts = row.attempts + 1, error = %error, "re-send failed");
    match bounded(deadline, outbox.record_failure(row, error, max_attempts)).await {
        Some(Ok(FailureOutcome::Parked)) => {
            report.parked += 1;
            warn!(key = %row.key, "parked after {max_attempts} failed sends");
        }
        Some(Ok(FailureOutcome::WillRetry | FailureOutcome::NotPending)) => {}
        Some(Err(err)) => {
            report.errors += 1;
            warn!(key = %row.key, error = %err, "cannot record the failure");
        }
        None => report.stopped_early = true,
    }
    report
}

/// A row to re-send with its message.
type Due = (StoredRow, OutgoingMessage);

/// Rows grouped by the queue their row names (`None`: the default queue), in first-seen order.
fn by_destination(rows: Vec<Due>) -> Vec<(Option<String>, Vec<Due>)> {
    let mut groups: Vec<(Option<String>, Vec<Due>)> = Vec::new();
    for (row, message) in rows {
        let destination = row.event.destination.queue_url.clone();
        match groups.iter_mut().find(|(d, _)| *d == destination) {
            Some((_, group)) => group.push((row, message)),
            None => groups.push((destination, vec![(row, message)])),
        }
    }
    groups
}

/// Records the same failed send for every row (a destination this sweeper cannot send to).
async fn record_failures(
    outbox: &dyn Outbox,
    rows: &[(StoredRow, OutgoingMessage)],
    error: &str,
    max_attempts: u32,
    deadline: Instant,
) -> SweepReport {
    let mut report = SweepReport::default();
    for (row, _) in rows {
        report.absorb(record_failure(outbox, row, error, max_attempts, deadline).await);
    }
    report
}

/// Where a batch goes and what records it.
#[derive(Clone, Copy)]
struct BatchSink<'s> {
    outbox: &'s dyn Outbox,
    queue: &'s dyn Queue,
    body_store: Option<&'s S3BodyStore>,
    /// Set when SQS refuses a whole call: the sweep stops sending.
    outage: &'s AtomicBool,
}

/// Sends one batch, then marks each sent row (and re-tags its S3 body, if any) or records each
/// failure.
async fn send_batch(
    sink: BatchSink<'_>,
    batch: Vec<(StoredRow, OutgoingMessage)>,
    retention: Duration,
    max_attempts: u32,
    deadline: Instant,
) -> SweepReport {
    let BatchSink {
        outbox,
        queue,
        body_store,
        outage,
    } = sink;
    let mut report = SweepReport::default();
    let messages: Vec<&OutgoingMessage> = batch.iter().map(|(_, message)| message).collect();
    // Only a failure of a row's own entry is charged to the row: a call that failed as a whole
    // says nothing about its rows, and charging them would park good rows, oldest first, after
    // an SQS outage of MAX_ATTEMPTS sweeps.
    let results = match bounded(deadline, queue.send_batch(&messages)).await {
        Some(Ok(results)) => results,
        Some(Err(err)) => {
            outage.store(true, Ordering::Relaxed);
            report.send_calls_failed += 1;
            warn!(rows = batch.len(), error = %err, "SendMessageBatch failed as a whole; its rows stay pending, uncharged, and this sweep stops sending");
            return report;
        }
        None => {
            report.stopped_early = true;
            warn!(
                rows = batch.len(),
                "SendMessageBatch cut off at the sweep deadline; its rows stay pending, uncharged"
            );
            return report;
        }
    };
    for ((row, _), result) in batch.iter().zip(results) {
        match result {
            Ok(message_id) => {
                let marked = mark_paced(outbox, row, &message_id, retention, deadline).await;
                report.marks_retried += marked.retried;
                match marked.outcome {
                    Some(Ok(MarkOutcome::Marked)) => {
                        report.resent += 1;
                        if let (Some(store), Some(pointer)) = (body_store, &row.event.claim_check) {
                            // Only after the mark: a re-tagged body of a still-unsent row could expire.
                            let retagged =
                                bounded(deadline, store.mark_sent(&pointer.bucket, &pointer.key))
                                    .await;
                            if !matches!(retagged, Some(Ok(()))) {
                                report.large_body_retag_failed += 1;
                                warn!(key = %row.key, "sent and marked, but re-tagging its body sent in S3 failed; the object will not expire (a leak, nothing lost)");
                            }
                        }
                    }
                    Some(Ok(MarkOutcome::NotPending)) => {
                        // Read pending, sent, then no longer pending: on-call discarded or parked
                        // it, another sweep sent it, or an earlier attempt of this mark landed.
                        report.resent += 1;
                        report.sent_after_change += 1;
                        warn!(key = %row.key, message_id = %message_id, "sent, but the row was no longer pending when marked (discarded or parked by on-call, sent by another sweep, or marked by an earlier attempt); left as it is");
                    }
                    Some(Err(err)) => {
                        report.resent += 1;
                        report.errors += 1;
                        warn!(key = %row.key, error = %err, "sent, but marking it sent failed; unless the mark landed anyway, a later sweep sends it again");
                    }
                    None => {
                        report.resent += 1;
                        report.stopped_early = true;
                    }
                }
            }
            Err(error) => {
                report.absorb(record_failure(outbox, row, &error, max_attempts, deadline).await)
            }
        }
    }
    report
}

/// A mark-sent call as [`mark_paced`] ended it, and how many times it was repeated.
struct PacedMark {
    outcome: Option<Result<MarkOutcome, OutboxError>>,
    retried: u64,
}

/// Marks a sent row sent, repeating a mark the table refused for its rate (after the SDK's own
/// retries) with a doubling pause while the deadline allows. A mark given up leaves the row
/// pending and the next sweep sends it again, a duplicate: under throttling that happened to a
/// third of a drain's messages. Waiting here also holds this batch's page, and so the shard's
/// next page, until the table takes writes again: the sweep sends no faster than it can mark.
async fn mark_paced(
    outbox: &dyn Outbox,
    row: &StoredRow,
    message_id: &str,
    retention: Duration,
    deadline: Instant,
) -> PacedMark {
    let mut pause = MARK_RETRY_FIRST_PAUSE;
    let mut retried = 0;
    loop {
        let marked = outbox.mark_sent(
            &row.key,
            row.event.received_at,
            message_id,
            DeliveredBy::Sweeper,
            now_millis(),
            retention,
        );
        let outcome = bounded(deadline, marked).await;
        let throttled = matches!(&outcome, Some(Err(err)) if err.is_throttling());
        if !throttled || !has_time(Instant::now(), deadline, pause) {
            return PacedMark { outcome, retried };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MARK_RETRY_MAX_PAUSE);
        retried += 1;
    }
}

/// Whether a step starting `now` and expected to take `expected` still ends `STEP_RESERVE`
/// before `deadline`.
fn has_time(now: Instant, deadline: Instant, expected: Duration) -> bool {
    deadline.saturating_duration_since(now) > STEP_RESERVE + expected
}

/// Runs `step` until `deadline`; `None` when the deadline came first.
async fn bounded<T>(deadline: Instant, step: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline.into(), step).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_describe_the_state_after_the_sweep() {
        let report = SweepReport {
            resent: 7,
            resend_failed: 2,
            parked: 1,
            pending_after: Some(3),
            oldest_pending_age_secs: Some(95.5),
            ..SweepReport::default()
        };
        let metrics = report.metrics();
        assert_eq!(metrics.get("Resent"), 7.0);
        assert_eq!(metrics.get("ResendFailed"), 2.0);
        assert_eq!(metrics.get("Parked"), 1.0);
        assert_eq!(metrics.get("PendingCount"), 3.0);
        assert_eq!(metrics.get("OldestPendingAgeSeconds"), 95.5);
    }

    #[test]
    fn parked_rows_are_a_gauge_left_out_when_unmeasured() {
        let counted = SweepReport {
            parked_after: Some(4),
            ..SweepReport::default()
        };
        assert_eq!(counted.metrics().get("ParkedCount"), 4.0);
        let none = SweepReport {
            parked_after: Some(0),
            ..SweepReport::default()
        };
        let emf = none.metrics().to_emf("WebhookIngress", "s", 0);
        assert_eq!(emf["ParkedCount"], 0.0, "zero parked rows is a datapoint");
        let unmeasured = SweepReport::default()
            .metrics()
            .to_emf("WebhookIngress", "s", 0);
        assert!(unmeasured.get("ParkedCount").is_none());
    }

    #[tokio::test]
    async fn shards_start_at_the_given_offset_and_wrap_around() {
        let order = each_shard(4, 1, 6, |shard| async move { shard }).await;
        assert_eq!(order, vec![2, 3, 0, 1]);
        let order = each_shard(4, 1, 7, |shard| async move { shard }).await;
        assert_eq!(order, vec![3, 0, 1, 2], "the next sweep starts one further");
    }

    #[test]
    fn an_unmeasured_backlog_is_left_out_not_reported_as_zero() {
        let report = SweepReport {
            resent: 1,
            stopped_early: true,
            ..SweepReport::default()
        };
        let emf = report.metrics().to_emf("WebhookIngress", "s", 0);
        assert!(emf.get("PendingCount").is_none() && emf.get("OldestPendingAgeSeconds").is_none());
        assert_eq!(emf["Resent"], 1.0);
    }

    /// Runs `each_shard` with work that yields a few times, returning the shards in the order
    /// they finished and the most that were in progress at once.
    async fn shards_run(shards: u16, concurrency: u16) -> (Vec<u16>, usize) {
        let (in_progress, most) = (AtomicU32::new(0), AtomicU32::new(0));
        let done = each_shard(shards, concurrency, 0, |shard| {
            let (in_progress, most) = (&in_progress, &most);
            async move {
                let now = in_progress.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                for _ in 0..=shard % 3 {
                    tokio::task::yield_now().await;
                }
                in_progress.fetch_sub(1, Ordering::SeqCst);
                shard
            }
        })
        .await;
        (done, most.into_inner() as usize)
    }

    #[tokio::test]
    async fn every_shard_is_swept_once_with_at_most_the_concurrency_in_progress() {
        for (shards, concurrency, most_expected) in [(10, 3, 3), (8, 1, 1), (4, 64, 4), (1, 4, 1)] {
            let (mut done, most) = shards_run(shards, concurrency).await;
            assert_eq!(
                most, most_expected,
                "{shards} shards, concurrency {concurrency}"
            );
            done.sort_unstable();
            assert_eq!(done, (0..shards).collect::<Vec<_>>());
        }
    }

    #[test]
    fn env_vars_list_is_exactly_what_the_config_reads() {
        let values = [
            ("QUEUE_URL", "https://sqs.example/q"),
            (
                "ROUTES",
                r#"[{"name":"r","pointer":"/t","equals":"x","queue_url":"https://sqs.example/r"}]"#,
            ),
            ("PENDING_SHARDS", "8"),
            ("RETENTION_DAYS", "8"),
            ("GRACE_SECS", "8"),
            ("MAX_ATTEMPTS", "8"),
            ("SWEEP_CONCURRENCY", "8"),
            ("LARGE_BODY_BUCKET", "webhook-bodies"),
            ("LARGE_BODY_PREFIX", "large/"),
            ("LARGE_BODY_KMS_KEY", "alias/webhook"),
        ];
        let asked = e2e::testing::variables_read(&values, SweeperConfig::from_env);
        let listed: std::collections::BTreeSet<String> =
            ENV_VARS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(asked, listed);
    }
}
