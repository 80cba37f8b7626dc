//! `sweep_once` step by step: re-send after the grace period, parking, cost, deadline, two
//! sweepers at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use e2e::proxy::{Fault, FaultRules};
use e2e::testing::{has, s, sdk_config, Stack};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::CallLimits;
use shared::config::SweeperConfig;
use shared::event::AcceptedEvent;
use shared::message::DeliveredBy;
use shared::outbox::{InsertOutcome, MarkOutcome};
use shared::time::now_millis;
use sweeper::{Clock, Sweeper};
use tokio::task::JoinSet;

pub(crate) const GRACE_MS: i64 = 120_000;
/// `PENDING_SHARDS` of the test stack's environment.
pub(crate) const SHARDS: u16 = 4;

pub(crate) fn sweeper_for(
    stack: &Stack,
    overrides: &[(&'static str, &str)],
    outbox: &DynamoDbOutbox,
    queue: &SqsQueue,
) -> Sweeper {
    let config =
        SweeperConfig::from_env(&stack.env_with(overrides)).expect("valid sweeper configuration");
    Sweeper::new(config, outbox.clone(), queue.clone())
}

pub(crate) async fn adapters(stack: &Stack, queue_url: &str) -> (DynamoDbOutbox, SqsQueue) {
    source_adapters(stack, "market", queue_url).await
}

/// The outbox as `source` sees it (same table), and `queue_url`.
pub(crate) async fn source_adapters(
    stack: &Stack,
    source: &str,
    queue_url: &str,
) -> (DynamoDbOutbox, SqsQueue) {
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    (
        DynamoDbOutbox::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &stack.table,
            source,
            SHARDS,
        ),
        SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
    )
}

fn event(source: &str, id: &str, received_at: i64) -> AcceptedEvent {
    let body = format!(r#"{{"type":"product.reviewed","id":"{id}","note":"caf\u00e9"}}"#);
    AcceptedEvent::new(
        source,
        id.to_owned(),
        Some("product.reviewed".into()),
        Bytes::from(body),
        received_at,
    )
}

/// Writes `count` pending rows received at `received_at`, as the ingress does before SendMessage.
pub(crate) async fn pending_rows(
    outbox: &DynamoDbOutbox,
    prefix: &str,
    count: usize,
    received_at: i64,
) -> Vec<AcceptedEvent> {
    let events: Vec<AcceptedEvent> = (0..count)
        .map(|n| event(outbox.source(), &format!("{prefix}-{n}"), received_at))
        .collect();
    let mut tasks = JoinSet::new();
    for chunk in events.chunks(count.div_ceil(8).max(1)) {
        let (outbox, chunk) = (outbox.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for event in chunk {
                assert_eq!(
                    outbox.insert_pending(&event).await.unwrap(),
                    InsertOutcome::Inserted
                );
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    events
}

/// A deadline no sweep of these tests comes near, however slow the machine: only a hang guard.
pub(crate) fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

#[tokio::test]
async fn a_row_whose_send_failed_is_on_the_queue_after_one_sweep_past_the_grace_period() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);
    let now = now_millis();
    let old = pending_rows(&outbox, "old", 3, now - GRACE_MS - 1_000).await;
    let young = pending_rows(&outbox, "young", 2, now - 5_000).await;

    let report = sweeper.sweep_once(now, far_deadline()).await;

    assert_eq!(report.resent, 3);
    assert_eq!(report.errors, 0);
    assert_eq!(
        report.pending_after,
        Some(2),
        "rows inside the grace period are left to the ingress"
    );
    let age = report.oldest_pending_age_secs.unwrap();
    // The young rows (5 s old) plus the sweep's own time, far from the resent rows' 121 s.
    assert!((5.0..120.0).contains(&age), "{report:?}");
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 3);
    for sent in &old {
        let message = messages
            .iter()
            .find(|m| m.attribute("event-id") == Some(sent.event_id.as_str()))
            .unwrap();
        assert_eq!(message.raw_body(), sent.body.to_vec());
        assert_eq!(message.attribute("delivered-by"), Some("sweeper"));
        assert_eq!(message.attribute("event-type"), Some("product.reviewed"));
        assert_eq!(message.attribute("source"), Some("market"));
        let row = stack.row(&sent.key).await.unwrap();
        assert_eq!(s(&row, "status").as_deref(), Some("sent"));
        assert_eq!(s(&row, "sent_by").as_deref(), Some("sweeper"));
        assert!(!has(&row, "unsent_key") && has(&row, "expires_at"));
    }
    for waiting in &young {
        let row = stack.row(&waiting.key).await.unwrap();
        assert_eq!(s(&row, "status").as_deref(), Some("pending"));
    }
}

#[tokio::test]
async fn a_row_that_can_never_be_sent_ends_parked_with_a_metric() {
    let stack = Stack::new().await;
    // SQS refuses the row's own entry each time (a call refused as a whole charges no row).
    let refused = FaultRules::none().with("sqs:SendMessageBatch", Fault::RejectEntries, 1.0);
    let (_proxy, queue) = crate::outage::queue_behind_proxy(&stack, refused).await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[("MAX_ATTEMPTS", "3")], &outbox, &queue);
    let now = now_millis();
    let stuck = pending_rows(&outbox, "stuck", 1, now - GRACE_MS - 1_000).await;

    let reports = [
        sweeper.sweep_once(now, far_deadline()).await,
        sweeper.sweep_once(now, far_deadline()).await,
        sweeper.sweep_once(now, far_deadline()).await,
        sweeper.sweep_once(now, far_deadline()).await,
    ];

    let failed: Vec<u64> = reports.iter().map(|r| r.resend_failed).collect();
    let parked: Vec<u64> = reports.iter().map(|r| r.parked).collect();
    assert_eq!(failed, vec![1, 1, 1, 0], "no retry once parked");
    assert_eq!(parked, vec![0, 0, 1, 0]);
    assert_eq!(reports[3].pending_after, Some(0));
    let row = stack.row(&stuck[0].key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("parked"));
    assert_eq!(row["attempts"].as_n().unwrap(), "3");
    assert!(
        s(&row, "last_error").unwrap().contains("SendMessageBatch"),
        "{row:?}"
    );
    assert!(
        s(&row, "unsent_key").unwrap().starts_with("parked#"),
        "parked rows stay findable"
    );
    assert!(!has(&row, "expires_at"), "a parked row never expires");
}

#[tokio::test]
async fn the_sweep_reads_only_pending_rows_however_many_were_sent() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);
    let now = now_millis();
    let sent = pending_rows(&outbox, "sent", 300, now - GRACE_MS - 60_000).await;
    for event in &sent {
        let retention = Duration::from_secs(86_400);
        outbox
            .mark_sent(
                &event.key,
                event.received_at,
                "m",
                DeliveredBy::Ingress,
                now,
                retention,
            )
            .await
            .unwrap();
    }
    pending_rows(&outbox, "pending", 5, now - GRACE_MS - 1_000).await;

    let report = sweeper.sweep_once(now, far_deadline()).await;

    assert_eq!(report.resent, 5);
    assert_eq!(report.pending_after, Some(0));
    assert_eq!(
        report.index_items_read, 5,
        "the sweep must read the 5 pending rows, not the 305-row table"
    );
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 5);
}

/// The sweep's clock in the deadline tests: time passes only when the sweeper calls AWS, by
/// `per_call` for each attempt it transmits, so how far a sweep gets before its deadline depends
/// on the calls it makes, never on how fast moto or the machine is.
#[derive(Debug)]
struct CallClock {
    origin: Instant,
    per_call: Duration,
    calls: AtomicU32,
}

impl CallClock {
    fn new(per_call: Duration) -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            per_call,
            calls: AtomicU32::new(0),
        })
    }
}

impl Clock for CallClock {
    fn now(&self) -> Instant {
        self.origin + self.per_call * self.calls.load(Ordering::SeqCst)
    }
}

/// Moves a [`CallClock`] on every AWS request a client sends.
#[derive(Debug)]
struct ChargeTime(Arc<CallClock>);

impl Intercept for ChargeTime {
    fn name(&self) -> &'static str {
        "ChargeTime"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The test stack's outbox and queue, with clients whose calls move `clock` and that wait as long
/// as moto takes (minutes on a loaded machine): on this clock a slow answer costs nothing, so no
/// call may fail for being slow either.
async fn timed_adapters(stack: &Stack, clock: &Arc<CallClock>) -> (DynamoDbOutbox, SqsQueue) {
    let patient = CallLimits {
        connect_timeout: Duration::from_secs(600),
        attempt_timeout: Duration::from_secs(600),
        operation_timeout: Duration::from_secs(1200),
        max_attempts: 4,
    };
    let sdk = sdk_config(&stack.endpoint, patient).await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(ChargeTime(clock.clone()))
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(&sdk)
        .interceptor(ChargeTime(clock.clone()))
        .build();
    (
        DynamoDbOutbox::new(
            aws_sdk_dynamodb::Client::from_conf(dynamodb),
            &stack.table,
            "market",
            SHARDS,
        ),
        SqsQueue::new(aws_sdk_sqs::Client::from_conf(sqs), &stack.queue_url),
    )
}

#[tokio::test]
async fn the_sweep_stops_before_its_deadline_with_thousands_of_rows_pending() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let now = now_millis();
    let rows = pending_rows(&outbox, "backlog", 2_000, now - GRACE_MS - 1_000).await;
    // Every AWS call the sweep makes costs it 100 ms: a page of 100 rows (a Query, a
    // BatchGetItem, 10 SendMessageBatch, 100 UpdateItem) about 11 s, so a 120 s sweep has time
    // for about ten of the twenty-odd pages, however fast moto is. Real time only guards
    // against a hang (20 minutes).
    let clock = CallClock::new(Duration::from_millis(100));
    let (outbox, queue) = timed_adapters(&stack, &clock).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue).with_clock(clock.clone());
    let deadline = clock.now() + Duration::from_secs(120);
    let hang_guard = Instant::now() + Duration::from_secs(1_200);

    let report = sweeper.sweep_within(now, deadline, hang_guard).await;

    assert!(
        clock.now() <= deadline,
        "the sweep ran {:?} past its deadline",
        clock.now() - deadline
    );
    assert!(report.stopped_early, "{report:?}");
    assert!(report.resent > 0 && report.resent < 2_000, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(
        report.pending_after,
        Some(2_000 - report.resent),
        "the backlog is still measured when the sweep stops early: {report:?}"
    );
    let messages: Vec<String> = stack
        .drain(&stack.queue_url)
        .await
        .into_iter()
        .filter_map(|m| m.attribute("event-id").map(str::to_owned))
        .collect();
    assert_eq!(
        messages.len() as u64,
        report.resent,
        "a started page is finished: every message sent was counted, and no more"
    );
    let messages: HashSet<String> = messages.into_iter().collect();
    let stored: HashMap<String, HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> = stack
        .all_rows()
        .await
        .into_iter()
        .map(|row| (s(&row, "id").unwrap(), row))
        .collect();
    let mut sent_rows = 0;
    for event in &rows {
        let row = stored.get(&event.key).expect("no row is ever lost");
        match s(row, "status").as_deref() {
            Some("sent") => {
                sent_rows += 1;
                assert!(
                    messages.contains(&event.event_id),
                    "{} marked sent but not on the queue",
                    event.key
                );
            }
            Some("pending") => {
                assert!(has(row, "unsent_key"));
                assert!(
                    !messages.contains(&event.event_id),
                    "{} sent but left pending: its page was abandoned",
                    event.key
                );
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    assert_eq!(sent_rows, report.resent);
}

#[tokio::test]
async fn a_sweep_with_no_time_left_sends_nothing_and_reports_the_backlog_as_unknown() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let clock = CallClock::new(Duration::from_millis(100));
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue).with_clock(clock.clone());
    let now = now_millis();
    pending_rows(&outbox, "late", 5, now - GRACE_MS - 1_000).await;

    let report = sweeper.sweep_once(now, clock.now()).await;

    assert!(report.stopped_early, "{report:?}");
    assert_eq!(report.resent, 0, "{report:?}");
    assert_eq!(
        (report.pending_after, report.oldest_pending_age_secs),
        (None, None),
        "an unmeasured backlog is unknown, never 0: {report:?}"
    );
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 0);
}

#[tokio::test]
async fn two_sweepers_at_once_lose_nothing() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let first = Arc::new(sweeper_for(&stack, &[], &outbox, &queue));
    let second = Arc::new(sweeper_for(&stack, &[], &outbox, &queue));
    let now = now_millis();
    let rows = pending_rows(&outbox, "race", 60, now - GRACE_MS - 1_000).await;

    let (a, b) = tokio::join!(
        first.sweep_once(now, far_deadline()),
        second.sweep_once(now, far_deadline())
    );

    assert!(a.resent + b.resent >= 60, "{a:?} {b:?}");
    assert_eq!(a.errors + b.errors, 0);
    let delivered: HashSet<String> = stack
        .drain(&stack.queue_url)
        .await
        .into_iter()
        .filter_map(|m| m.attribute("event-id").map(str::to_owned))
        .collect();
    for event in &rows {
        assert!(delivered.contains(&event.event_id), "{} lost", event.key);
        let row = stack.row(&event.key).await.unwrap();
        assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    }
}

#[tokio::test]
async fn a_row_is_marked_sent_only_as_the_row_that_was_read() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let now = now_millis();
    let rows = pending_rows(&outbox, "reborn", 1, now - 1_000).await;
    let event = &rows[0];
    let retention = Duration::from_secs(86_400);

    // A sender that read an older row under the same key (expired and written anew since).
    let stale = outbox
        .mark_sent(
            &event.key,
            event.received_at - 1,
            "m",
            DeliveredBy::Sweeper,
            now,
            retention,
        )
        .await
        .unwrap();
    assert_eq!(stale, MarkOutcome::NotPending);
    let row = stack.row(&event.key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));

    let current = outbox
        .mark_sent(
            &event.key,
            event.received_at,
            "m",
            DeliveredBy::Sweeper,
            now,
            retention,
        )
        .await
        .unwrap();
    assert_eq!(current, MarkOutcome::Marked);
}

#[tokio::test]
async fn an_unreadable_row_does_not_hold_back_the_rest_of_its_page() {
    let stack = Stack::new().await;
    let (outbox, queue) = adapters(&stack, &stack.queue_url).await;
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);
    let now = now_millis();
    let rows = pending_rows(&outbox, "page", 6, now - GRACE_MS - 1_000).await;
    let broken = &rows[0].key;
    stack
        .set_row_attribute(broken, "codec", AttributeValue::S("no-such-codec".into()))
        .await;

    let report = sweeper.sweep_once(now, far_deadline()).await;

    assert_eq!(report.resent, 5, "{report:?}");
    assert_eq!(
        report.pending_after,
        Some(1),
        "the unreadable row stays pending, counted"
    );
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 5);
    let row = stack.row(broken).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));
}
