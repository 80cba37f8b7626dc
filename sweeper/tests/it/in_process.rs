//! Sweeps run in process against the in-memory outbox and queues (`e2e::fakes`), in milliseconds
//! and deterministically: time passes only on the injected clock, charged per call. And the
//! contract those fakes share with the DynamoDB and SQS adapters for what the sweeper asks of
//! them, run against both (on moto), so the fakes cannot drift from the adapters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::fakes::{Fault, InMemoryOutbox, InMemoryQueue};
use e2e::proxy::{Fault as ProxyFault, FaultRules};
use e2e::testing::{sdk_config, Stack};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::CallLimits;
use shared::config::SweeperConfig;
use shared::event::AcceptedEvent;
use shared::message::{DeliveredBy, OutgoingMessage, ATTR_DELIVERED_BY, ATTR_EVENT_ID};
use shared::outbox::{
    FailureOutcome, InsertOutcome, MarkOutcome, RowStatus, UnsentCursor, UnsentRef,
};
use shared::ports::{Outbox, Queue, QueueSet};
use shared::routes::Destination;
use shared::time::now_millis;
use sweeper::{Clock, SweepReport, Sweeper};

const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-events";
const ROUTED_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-orders";
const GRACE_MS: i64 = 120_000;
const MAX_ATTEMPTS: u32 = 3;

/// A monotonic clock that moves only when told.
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Instant::now())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

struct InProcess {
    sweeper: Sweeper,
    outbox: Arc<InMemoryOutbox>,
    queue: Arc<InMemoryQueue>,
    routed: Arc<InMemoryQueue>,
    clock: Arc<ManualClock>,
}

/// A sweeper of source `market` with `shards` index partitions, on in-memory ports and a manual
/// clock.
fn in_process(shards: u16) -> InProcess {
    let shards_text = shards.to_string();
    let max_attempts = MAX_ATTEMPTS.to_string();
    let env = HashMap::from([
        ("SOURCE_NAME", "market"),
        ("OUTBOX_TABLE", "webhook-outbox"),
        ("QUEUE_URL", QUEUE_URL),
        ("PENDING_SHARDS", shards_text.as_str()),
        ("GRACE_SECS", "120"),
        ("MAX_ATTEMPTS", max_attempts.as_str()),
    ]);
    let config = SweeperConfig::from_env(&env).expect("a valid configuration");
    let outbox = Arc::new(InMemoryOutbox::new("market", shards));
    let queue = Arc::new(InMemoryQueue::new(QUEUE_URL));
    let routed = Arc::new(InMemoryQueue::new(ROUTED_URL));
    let clock = ManualClock::new();
    let sweeper = Sweeper::with_ports(
        config,
        outbox.clone(),
        QueueSet::new(queue.clone(), vec![routed.clone()]),
    )
    .with_clock(clock.clone());
    InProcess {
        sweeper,
        outbox,
        queue,
        routed,
        clock,
    }
}

impl InProcess {
    /// One sweep at `now` with ten minutes on the clock; real time only guards against a hang.
    async fn sweep(&self, now: i64) -> SweepReport {
        let deadline = self.clock.now() + Duration::from_secs(600);
        self.sweeper.sweep_within(now, deadline, hang_guard()).await
    }

    /// Every call to the outbox or a queue costs `per_call` on the sweeper's clock.
    fn charge_each_call(&self, per_call: Duration) {
        for queue in [&self.queue, &self.routed] {
            let clock = self.clock.clone();
            queue.on_every_call(move |_| clock.advance(per_call));
        }
        let clock = self.clock.clone();
        self.outbox.on_every_call(move |_| clock.advance(per_call));
    }
}

fn hang_guard() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn event(id: &str, received_at: i64) -> AcceptedEvent {
    let body = format!(r#"{{"type":"product.reviewed","id":"{id}"}}"#);
    AcceptedEvent::new(
        "market",
        id.to_owned(),
        Some("product.reviewed".into()),
        Bytes::from(body),
        received_at,
    )
}

/// Writes pending rows as the ingress does before SendMessage.
async fn pending(outbox: &dyn Outbox, events: &[AcceptedEvent]) {
    for event in events {
        assert_eq!(
            outbox.insert_pending(event).await.unwrap(),
            InsertOutcome::Inserted
        );
    }
}

/// `count` events `{prefix}-{n}` received at `received_at` (and one millisecond apart).
fn events(prefix: &str, count: usize, received_at: i64) -> Vec<AcceptedEvent> {
    (0..count)
        .map(|n| event(&format!("{prefix}-{n:04}"), received_at + n as i64))
        .collect()
}

fn attribute<'m>(message: &'m OutgoingMessage, name: &str) -> Option<&'m str> {
    message
        .attributes
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.as_str())
}

fn event_ids(messages: &[OutgoingMessage]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .filter_map(|m| attribute(m, ATTR_EVENT_ID).map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn ids(events: &[AcceptedEvent]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn in_process_pending_rows_past_the_grace_are_resent_and_younger_ones_left() {
    let run = in_process(4);
    let now = now_millis();
    let old = events("old", 3, now - GRACE_MS - 1_000);
    let young = events("young", 2, now - 5_000);
    pending(&*run.outbox, &old).await;
    pending(&*run.outbox, &young).await;

    let report = run.sweep(now).await;

    assert_eq!(report.resent, 3, "{report:?}");
    assert_eq!((report.errors, report.resend_failed), (0, 0), "{report:?}");
    assert_eq!(report.pending_after, Some(2), "{report:?}");
    assert_eq!(report.parked_after, Some(0), "{report:?}");
    let sent = run.queue.sent();
    assert_eq!(event_ids(&sent), ids(&old));
    assert!(sent
        .iter()
        .all(|m| attribute(m, ATTR_DELIVERED_BY) == Some("sweeper")));
    for event in &old {
        let row = run.outbox.row(&event.key).unwrap();
        assert_eq!(row.status, RowStatus::Sent);
        assert_eq!(row.delivered_by, Some(DeliveredBy::Sweeper));
    }
    for event in &young {
        assert_eq!(
            run.outbox.row(&event.key).unwrap().status,
            RowStatus::Pending
        );
    }
    assert!(run.routed.sent().is_empty());
}

#[tokio::test]
async fn in_process_a_refused_message_counts_an_attempt_and_parks_at_max_attempts() {
    let run = in_process(4);
    let now = now_millis();
    let rows = events("refused", 2, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    let (refused, good) = (&rows[0], &rows[1]);
    run.queue.refuse_event(&refused.event_id);

    for attempt in 1..MAX_ATTEMPTS {
        let report = run.sweep(now).await;
        assert_eq!((report.resend_failed, report.parked), (1, 0), "{report:?}");
        let row = run.outbox.row(&refused.key).unwrap();
        assert_eq!((row.status, row.attempts), (RowStatus::Pending, attempt));
        assert!(row.last_error.unwrap().contains("scripted refusal"));
        assert_eq!(report.pending_after, Some(1), "{report:?}");
    }
    let last = run.sweep(now).await;
    assert_eq!((last.resend_failed, last.parked), (1, 1), "{last:?}");
    assert_eq!(
        (last.pending_after, last.parked_after),
        (Some(0), Some(1)),
        "{last:?}"
    );
    let row = run.outbox.row(&refused.key).unwrap();
    assert_eq!(
        (row.status, row.attempts),
        (RowStatus::Parked, MAX_ATTEMPTS)
    );

    let after = run.sweep(now).await;
    assert_eq!(
        (after.resent, after.resend_failed),
        (0, 0),
        "a parked row waits for a person: {after:?}"
    );
    assert_eq!(event_ids(&run.queue.sent()), vec![good.event_id.clone()]);
}

#[tokio::test]
async fn in_process_a_batch_call_that_fails_as_a_whole_charges_no_row() {
    let run = in_process(1);
    let now = now_millis();
    let rows = events("outage", 3, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    run.queue.script("SendMessageBatch", Fault::Fail, 1);

    let report = run.sweep(now).await;

    assert_eq!(
        (
            report.send_calls_failed,
            report.resend_failed,
            report.resent
        ),
        (1, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.pending_after, Some(3), "{report:?}");
    for event in &rows {
        let row = run.outbox.row(&event.key).unwrap();
        assert_eq!((row.status, row.attempts), (RowStatus::Pending, 0));
    }
    let next = run.sweep(now).await;
    assert_eq!(next.resent, 3, "the next sweep sends them: {next:?}");
}

#[tokio::test]
async fn in_process_a_mark_throttled_by_the_table_is_repeated_so_each_row_is_sent_once() {
    let run = in_process(1);
    let now = now_millis();
    let rows = events("throttled", 25, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    run.outbox.script("UpdateItem", Fault::Throttle, 3);

    let first = run.sweep(now).await;
    assert_eq!(
        (first.resent, first.errors, first.marks_retried),
        (25, 0, 3),
        "{first:?}"
    );
    assert_eq!(first.pending_after, Some(0), "{first:?}");
    let second = run.sweep(now).await;
    assert_eq!(second.resent, 0, "nothing left to send again: {second:?}");
    assert_eq!(
        event_ids(&run.queue.sent()),
        ids(&rows),
        "each event on the queue once"
    );
}

#[tokio::test]
async fn in_process_a_mark_that_failed_for_another_reason_is_not_repeated_and_the_row_is_sent_again(
) {
    let run = in_process(1);
    let now = now_millis();
    let rows = events("failed-mark", 3, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    run.outbox.script("UpdateItem", Fault::Fail, 1);

    let first = run.sweep(now).await;
    assert_eq!(
        (first.resent, first.errors, first.marks_retried),
        (3, 1, 0),
        "{first:?}"
    );
    let second = run.sweep(now).await;
    assert_eq!(second.resent, 1, "the unmarked row goes again: {second:?}");
    assert_eq!(run.queue.sent().len(), 4);
}

#[tokio::test]
async fn in_process_a_row_sent_by_someone_else_after_the_index_was_read_is_not_resent() {
    // One shard: the index page is read before the rows are loaded.
    let run = in_process(1);
    let now = now_millis();
    let rows = events("raced", 3, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    let taken = rows[1].key.clone();
    run.outbox.meanwhile("BatchGetItem", move |rows| {
        let row = rows.get_mut(&taken).unwrap();
        row.status = RowStatus::Sent;
        row.message_id = Some("sent-by-another-sweep".into());
        row.unsent_key = None;
    });

    let report = run.sweep(now).await;

    assert_eq!(report.resent, 2, "{report:?}");
    assert_eq!(report.sent_after_change, 0, "{report:?}");
    assert_eq!(
        event_ids(&run.queue.sent()),
        ids(&[rows[0].clone(), rows[2].clone()])
    );
    let row = run.outbox.row(&rows[1].key).unwrap();
    assert_eq!(row.message_id.as_deref(), Some("sent-by-another-sweep"));
    assert_eq!(row.delivered_by, None, "its own record is left as it is");
    assert_eq!(report.pending_after, Some(0), "{report:?}");
}

#[tokio::test]
async fn in_process_a_row_parked_after_it_was_read_is_sent_once_and_left_parked() {
    let run = in_process(1);
    let now = now_millis();
    let rows = events("parked-meanwhile", 1, now - GRACE_MS - 1_000);
    pending(&*run.outbox, &rows).await;
    let key = rows[0].key.clone();
    // On-call parks it between the send and the mark.
    run.outbox.meanwhile("UpdateItem", move |rows| {
        rows.get_mut(&key).unwrap().status = RowStatus::Parked;
    });

    let report = run.sweep(now).await;

    assert_eq!(
        (report.resent, report.sent_after_change),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(run.queue.sent().len(), 1);
    let row = run.outbox.row(&rows[0].key).unwrap();
    assert_eq!((row.status, row.message_id), (RowStatus::Parked, None));
}

#[tokio::test]
async fn in_process_the_deadline_stops_between_pages_and_the_backlog_is_still_counted() {
    // One shard, so the pages follow each other: 250 rows are three pages of 100, 100 and 50.
    let run = in_process(1);
    let now = now_millis();
    let rows = events("backlog", 250, now - GRACE_MS - 60_000);
    pending(&*run.outbox, &rows).await;
    // A page of 100 rows is 112 calls (a Query, a BatchGetItem, 10 SendMessageBatch, 100
    // UpdateItem): 11.2 s at 100 ms a call. A 30 s sweep keeps 3 s for the backlog, so the third
    // page would end past 27 s: the sweep stops after two.
    run.charge_each_call(Duration::from_millis(100));
    let deadline = run.clock.now() + Duration::from_secs(30);

    let report = run.sweeper.sweep_within(now, deadline, hang_guard()).await;

    assert!(report.stopped_early, "{report:?}");
    assert_eq!(report.resent, 200, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(
        report.pending_after,
        Some(50),
        "the backlog is still measured when the sweep stops early: {report:?}"
    );
    assert!(
        run.clock.now() <= deadline,
        "the sweep ran {:?} past its deadline",
        run.clock.now() - deadline
    );
    assert_eq!(event_ids(&run.queue.sent()), ids(&rows[..200]));
    for event in &rows[200..] {
        assert_eq!(
            run.outbox.row(&event.key).unwrap().status,
            RowStatus::Pending,
            "the youngest rows wait for the next sweep"
        );
    }
}

#[tokio::test]
async fn in_process_a_backlog_that_cannot_be_counted_in_time_is_unknown_never_zero() {
    let run = in_process(4);
    let now = now_millis();
    pending(&*run.outbox, &events("late", 5, now - GRACE_MS - 1_000)).await;
    // No time on the clock, and the counts never answer: only the cut-off ends them.
    run.outbox.script("Query", Fault::Hang, 100);

    let report = run
        .sweeper
        .sweep_within(now, run.clock.now(), Instant::now())
        .await;

    assert!(report.stopped_early, "{report:?}");
    assert_eq!(report.resent, 0, "{report:?}");
    assert_eq!(
        (
            report.pending_after,
            report.oldest_pending_age_secs,
            report.parked_after
        ),
        (None, None, None),
        "an unmeasured backlog is unknown, never 0: {report:?}"
    );
    assert!(run.queue.sent().is_empty());
}

#[tokio::test]
async fn in_process_routed_rows_go_to_the_queue_they_recorded() {
    let run = in_process(4);
    let now = now_millis();
    let old = now - GRACE_MS - 1_000;
    let routed: Vec<AcceptedEvent> = events("order", 2, old)
        .into_iter()
        .map(|mut event| {
            event.destination = Destination {
                queue_url: Some(ROUTED_URL.to_owned()),
                group_id: None,
            };
            event
        })
        .collect();
    let default = events("review", 1, old);
    let mut unknown = event("elsewhere", old);
    unknown.destination.queue_url =
        Some("https://sqs.eu-west-1.amazonaws.com/123456789012/removed".to_owned());
    pending(&*run.outbox, &routed).await;
    pending(&*run.outbox, &default).await;
    pending(&*run.outbox, std::slice::from_ref(&unknown)).await;

    let report = run.sweep(now).await;

    assert_eq!(report.resent, 3, "{report:?}");
    assert_eq!(event_ids(&run.routed.sent()), ids(&routed));
    assert_eq!(event_ids(&run.queue.sent()), ids(&default));
    assert_eq!(
        report.resend_failed, 1,
        "a queue this sweeper does not know is a failed send: {report:?}"
    );
    let row = run.outbox.row(&unknown.key).unwrap();
    assert_eq!((row.status, row.attempts), (RowStatus::Pending, 1));
    assert!(row.last_error.unwrap().contains("removed"));
}

/// What every outbox port promises the sweeper (on one shard): unsent rows page oldest first and
/// go on from the cursor; counts, loads as the rows are now, failures counted and parked at the
/// limit only while pending; a row marked sent leaves the index.
async fn sweeper_outbox_contract(outbox: &dyn Outbox) {
    let now = now_millis();
    let old: Vec<AcceptedEvent> = (0..5)
        .map(|n| event(&format!("contract-{n}"), now - 600_000 + n * 1_000))
        .collect();
    let young = event("contract-young", now);
    pending(outbox, &old).await;
    pending(outbox, std::slice::from_ref(&young)).await;
    let keys = |refs: &[UnsentRef]| refs.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    let page = |status, start| outbox.unsent_page(status, 0, now, 2, start);

    let first = page(RowStatus::Pending, None).await.unwrap();
    assert_eq!(keys(&first.rows), [old[0].key.clone(), old[1].key.clone()]);
    assert_eq!(first.rows[0].received_at, old[0].received_at);
    assert_eq!(first.items_read, 2);
    assert_eq!(
        first.next,
        Some(UnsentCursor {
            key: old[1].key.clone(),
            received_at: old[1].received_at
        })
    );
    let second = page(RowStatus::Pending, first.next).await.unwrap();
    assert_eq!(keys(&second.rows), [old[2].key.clone(), old[3].key.clone()]);
    let last = page(RowStatus::Pending, second.next).await.unwrap();
    assert_eq!(
        (keys(&last.rows), last.next),
        (vec![old[4].key.clone()], None),
        "rows received at `before` or later are left out, and the last page says so"
    );
    assert_eq!(
        outbox.count_unsent(RowStatus::Pending, 0).await.unwrap().0,
        6
    );
    assert_eq!(
        outbox.count_unsent(RowStatus::Parked, 0).await.unwrap().0,
        0
    );

    let mut wanted: Vec<String> = old.iter().map(|e| e.key.clone()).collect();
    wanted.push("market:never-written".to_owned());
    let mut rows = outbox.load_rows(&wanted).await.unwrap();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(rows.len(), 5, "a key without a row is left out");
    for (row, event) in rows.iter().zip(&old) {
        assert_eq!((row.status, row.attempts), (RowStatus::Pending, 0));
        assert_eq!(&row.event, event, "the row holds the event as inserted");
        assert_eq!(row.parked_by, None);
    }

    let reload = |key: &str| {
        let keys = vec![key.to_owned()];
        async move { outbox.load_rows(&keys).await.unwrap().remove(0) }
    };
    let failing = &rows[0];
    assert_eq!(
        outbox.record_failure(failing, "boom", 2).await.unwrap(),
        FailureOutcome::WillRetry
    );
    let failing = reload(&failing.key).await;
    assert_eq!((failing.status, failing.attempts), (RowStatus::Pending, 1));
    assert_eq!(
        outbox.record_failure(&failing, "boom", 2).await.unwrap(),
        FailureOutcome::Parked
    );
    let parked = reload(&failing.key).await;
    assert_eq!((parked.status, parked.attempts), (RowStatus::Parked, 2));
    assert_eq!(
        outbox.count_unsent(RowStatus::Parked, 0).await.unwrap().0,
        1
    );
    assert_eq!(
        outbox.count_unsent(RowStatus::Pending, 0).await.unwrap().0,
        5
    );
    let parked_page = page(RowStatus::Parked, None).await.unwrap();
    assert_eq!(keys(&parked_page.rows), [old[0].key.clone()]);
    assert_eq!(
        outbox.record_failure(&parked, "boom", 2).await.unwrap(),
        FailureOutcome::NotPending
    );

    let marked = outbox
        .mark_sent(
            &old[1].key,
            old[1].received_at,
            "m-1",
            DeliveredBy::Sweeper,
            now,
            Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    assert_eq!(marked, MarkOutcome::Marked);
    let after = page(RowStatus::Pending, None).await.unwrap();
    assert_eq!(keys(&after.rows), [old[2].key.clone(), old[3].key.clone()]);
    assert_eq!(
        outbox.count_unsent(RowStatus::Pending, 0).await.unwrap().0,
        4
    );
    let sent = reload(&old[1].key).await;
    assert_eq!(sent.status, RowStatus::Sent);
    assert_eq!(
        outbox.record_failure(&sent, "boom", 2).await.unwrap(),
        FailureOutcome::NotPending
    );
}

/// What every queue port promises of a batch: one message id per message, in order, all
/// distinct; a batch of more than ten, or of none, fails as a whole.
async fn batch_contract(queue: &dyn Queue) {
    let messages: Vec<OutgoingMessage> = (0..11)
        .map(|n| OutgoingMessage::for_event(&event(&format!("batch-{n}"), 0), DeliveredBy::Sweeper))
        .collect();
    let refs: Vec<&OutgoingMessage> = messages.iter().collect();
    let results = queue.send_batch(&refs[..3]).await.unwrap();
    let ids: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter().all(|id| !id.is_empty()) && ids[0] != ids[1] && ids[1] != ids[2],
        "{ids:?}"
    );
    assert!(queue.send_batch(&refs).await.is_err(), "eleven entries");
    assert!(queue.send_batch(&[]).await.is_err(), "no entry");
}

#[tokio::test]
async fn the_sweeper_outbox_contract_holds_for_the_in_memory_fake() {
    sweeper_outbox_contract(&InMemoryOutbox::new("market", 1)).await;
}

#[tokio::test]
async fn the_sweeper_outbox_contract_holds_for_dynamodb() {
    let stack = Stack::new().await;
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    let outbox = DynamoDbOutbox::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &stack.table,
        "market",
        1,
    );
    sweeper_outbox_contract(&outbox).await;
}

#[tokio::test]
async fn the_batch_contract_holds_for_the_in_memory_fake() {
    batch_contract(&InMemoryQueue::new(QUEUE_URL)).await;
}

#[tokio::test]
async fn the_batch_contract_holds_for_sqs() {
    let stack = Stack::new().await;
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    batch_contract(&SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        &stack.queue_url,
    ))
    .await;
}

/// What every queue port promises of entries refused one by one: the call succeeds and each
/// refused message's slot says why.
async fn refused_entries_contract(queue: &dyn Queue, messages: &[OutgoingMessage]) {
    let refs: Vec<&OutgoingMessage> = messages.iter().collect();
    let results = queue.send_batch(&refs).await.unwrap();
    assert_eq!(results.len(), messages.len());
    for result in results {
        let refusal = result.expect_err("a refused entry has no message id");
        assert!(!refusal.is_empty());
    }
}

fn refused_messages() -> Vec<OutgoingMessage> {
    (0..2)
        .map(|n| {
            OutgoingMessage::for_event(&event(&format!("refused-{n}"), 0), DeliveredBy::Sweeper)
        })
        .collect()
}

#[tokio::test]
async fn the_refused_entries_contract_holds_for_the_in_memory_fake() {
    let queue = InMemoryQueue::new(QUEUE_URL);
    queue.refuse_event("refused-0");
    queue.refuse_event("refused-1");
    refused_entries_contract(&queue, &refused_messages()).await;
    assert!(queue.sent().is_empty());
}

#[tokio::test]
async fn the_refused_entries_contract_holds_for_sqs_refusing_entries() {
    let stack = Stack::new().await;
    let refusing = FaultRules::none().with("sqs:SendMessageBatch", ProxyFault::RejectEntries, 1.0);
    let (_proxy, queue) = crate::outage::queue_behind_proxy(&stack, refusing).await;
    refused_entries_contract(&queue, &refused_messages()).await;
}
