//! In-memory fakes of the outbox and queue ports, with scripted failures, so the ingress's
//! failure rules and the sweeper's sweeps run in process. They follow the adapters' contract (the
//! same cases run against these and against DynamoDB and SQS on moto, in the `contract` tests of
//! ingress and sweeper), so they cannot drift.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::aws::sqs::MAX_BATCH_ENTRIES;
use shared::call_error::AwsCallError;
use shared::event::{shard_of, AcceptedEvent};
use shared::message::{DeliveredBy, OutgoingMessage, ATTR_EVENT_ID};
use shared::outbox::{
    unsent_key, ExistingRow, FailureOutcome, InsertOutcome, MarkOutcome, OutboxError, RowStatus,
    StoredRow, TokenSpend, UnsentCursor, UnsentPage, UnsentRef, MAX_LAST_ERROR_CHARS,
};
use shared::ports::{Outbox, PortFuture, Queue};
use shared::queue::QueueError;
use shared::time::EpochMillis;

/// What a scripted call does instead of its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails as the service would with a server error.
    Fail,
    /// Never answers (only a deadline ends it).
    Hang,
    /// Refused for the rate, as DynamoDB answers a write its table or index cannot take.
    Throttle,
}

/// Told the operation's name at the start of every call (a test's clock charging each call).
type Observer = Arc<dyn Fn(&'static str) + Send + Sync>;

/// Faults for the next calls of each operation, in order (an operation without one works), and
/// who is told of every call.
#[derive(Default)]
struct Script {
    faults: Mutex<HashMap<&'static str, VecDeque<Fault>>>,
    observer: Mutex<Option<Observer>>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl Script {
    fn push(&self, operation: &'static str, fault: Fault, times: usize) {
        let mut faults = self.faults.lock().unwrap();
        faults
            .entry(operation)
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    fn observe(&self, observer: Observer) {
        *self.observer.lock().unwrap() = Some(observer);
    }

    fn next(&self, operation: &'static str) -> Option<Fault> {
        let observer = self.observer.lock().unwrap().clone();
        if let Some(observer) = observer {
            observer(operation);
        }
        self.faults
            .lock()
            .unwrap()
            .get_mut(operation)
            .and_then(VecDeque::pop_front)
    }
}

fn scripted_error(service: &'static str, operation: &'static str) -> AwsCallError {
    scripted_error_with(service, operation, "InternalServerError")
}

fn scripted_error_with(service: &'static str, operation: &'static str, code: &str) -> AwsCallError {
    AwsCallError {
        service,
        operation,
        code: code.to_owned(),
        source: "scripted fault".into(),
    }
}

/// A row as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRow {
    pub event: AcceptedEvent,
    pub status: RowStatus,
    pub message_id: Option<String>,
    pub delivered_by: Option<DeliveredBy>,
    /// Failed sends recorded.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The unsent-index partition the row is in (`pending#{source}#{shard}`); `None` once sent.
    pub unsent_key: Option<String>,
}

/// A change another process makes to the rows between two calls (another sweep, on-call).
type Change = Box<dyn FnOnce(&mut HashMap<String, FakeRow>) + Send>;

/// The outbox in memory as one source sees it: rows by key, and scripted faults per operation
/// (`PutItem`, `UpdateItem`, `DescribeTable`, `Query`, `BatchGetItem`, as the DynamoDB adapter
/// names its calls).
pub struct InMemoryOutbox {
    source: String,
    shards: u16,
    rows: Mutex<HashMap<String, FakeRow>>,
    /// Spent single-use tokens: key to the spending body's hash.
    tokens: Mutex<HashMap<String, String>>,
    changes: Mutex<HashMap<&'static str, VecDeque<Change>>>,
    script: Script,
}

impl fmt::Debug for InMemoryOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryOutbox")
            .field("source", &self.source)
            .field("shards", &self.shards)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl InMemoryOutbox {
    /// The outbox as `source` sees it, its index in `shards` partitions per status.
    pub fn new(source: impl Into<String>, shards: u16) -> Self {
        Self {
            source: source.into(),
            shards,
            rows: Mutex::default(),
            tokens: Mutex::default(),
            changes: Mutex::default(),
            script: Script::default(),
        }
    }

    /// The next `times` calls of `operation` meet `fault`.
    pub fn script(&self, operation: &'static str, fault: Fault, times: usize) {
        self.script.push(operation, fault, times);
    }

    /// `observer` is told the operation of every call, as it starts.
    pub fn on_every_call(&self, observer: impl Fn(&'static str) + Send + Sync + 'static) {
        self.script.observe(Arc::new(observer));
    }

    /// `change` happens to the rows just before the next call of `operation` does its work: what
    /// another process did meanwhile.
    pub fn meanwhile(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut HashMap<String, FakeRow>) + Send + 'static,
    ) {
        self.changes
            .lock()
            .unwrap()
            .entry(operation)
            .or_default()
            .push_back(Box::new(change));
    }

    pub fn row(&self, key: &str) -> Option<FakeRow> {
        self.rows.lock().unwrap().get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.rows.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn fault(&self, operation: &'static str) -> Result<(), OutboxError> {
        let change = self
            .changes
            .lock()
            .unwrap()
            .get_mut(operation)
            .and_then(VecDeque::pop_front);
        if let Some(change) = change {
            change(&mut self.rows.lock().unwrap());
        }
        match self.script.next(operation) {
            None => Ok(()),
            Some(Fault::Fail) => Err(scripted_error("DynamoDB", operation).into()),
            Some(Fault::Throttle) => Err(scripted_error_with(
                "DynamoDB",
                operation,
                "ProvisionedThroughputExceededException",
            )
            .into()),
            Some(Fault::Hang) => pending().await,
        }
    }

    /// The rows in `partition`, oldest first (then by key, as the index orders them).
    fn partition(&self, partition: &str) -> Vec<UnsentRef> {
        let rows = self.rows.lock().unwrap();
        let mut found: Vec<UnsentRef> = rows
            .iter()
            .filter(|(_, row)| row.unsent_key.as_deref() == Some(partition))
            .map(|(key, row)| UnsentRef {
                key: key.clone(),
                received_at: row.event.received_at,
            })
            .collect();
        found.sort_by(|a, b| (a.received_at, &a.key).cmp(&(b.received_at, &b.key)));
        found
    }
}

impl Outbox for InMemoryOutbox {
    fn warm_up(&self) -> PortFuture<'_, Result<(), OutboxError>> {
        Box::pin(self.fault("DescribeTable"))
    }

    fn insert_pending<'a>(
        &'a self,
        event: &'a AcceptedEvent,
    ) -> PortFuture<'a, Result<InsertOutcome, OutboxError>> {
        Box::pin(async move {
            self.fault("PutItem").await?;
            let mut rows = self.rows.lock().unwrap();
            if let Some(row) = rows.get(&event.key) {
                let existing = ExistingRow {
                    status: row.status,
                    body_sha256: row.event.body_sha256.clone(),
                    received_at: row.event.received_at,
                    destination: row.event.destination.clone(),
                };
                // No attempt of the fake's is ever lost and retried, so a row found here is
                // always another delivery's, even one received in the same millisecond.
                return Ok(InsertOutcome::AlreadyThere(existing));
            }
            let shard = shard_of(&event.key, self.shards);
            rows.insert(
                event.key.clone(),
                FakeRow {
                    event: event.clone(),
                    status: RowStatus::Pending,
                    message_id: None,
                    delivered_by: None,
                    attempts: 0,
                    last_error: None,
                    unsent_key: Some(unsent_key(RowStatus::Pending, &event.source, shard)),
                },
            );
            Ok(InsertOutcome::Inserted)
        })
    }

    fn spend_token<'a>(
        &'a self,
        key: &'a str,
        body_sha256: &'a str,
        _expires_at: i64,
    ) -> PortFuture<'a, Result<TokenSpend, OutboxError>> {
        Box::pin(async move {
            self.fault("PutItem").await?;
            let mut tokens = self.tokens.lock().unwrap();
            Ok(match tokens.get(key) {
                None => {
                    tokens.insert(key.to_owned(), body_sha256.to_owned());
                    TokenSpend::Spent
                }
                Some(spent_by) if spent_by == body_sha256 => TokenSpend::SameBody,
                Some(_) => TokenSpend::OtherBody,
            })
        })
    }

    fn mark_sent<'a>(
        &'a self,
        key: &'a str,
        received_at: EpochMillis,
        message_id: &'a str,
        delivered_by: DeliveredBy,
        _now: EpochMillis,
        _retention: Duration,
    ) -> PortFuture<'a, Result<MarkOutcome, OutboxError>> {
        Box::pin(async move {
            self.fault("UpdateItem").await?;
            let mut rows = self.rows.lock().unwrap();
            match rows.get_mut(key) {
                Some(row)
                    if row.status == RowStatus::Pending && row.event.received_at == received_at =>
                {
                    row.status = RowStatus::Sent;
                    row.message_id = Some(message_id.to_owned());
                    row.delivered_by = Some(delivered_by);
                    row.unsent_key = None;
                    Ok(MarkOutcome::Marked)
                }
                _ => Ok(MarkOutcome::NotPending),
            }
        })
    }

    fn unsent_page(
        &self,
        status: RowStatus,
        shard: u16,
        before: EpochMillis,
        limit: usize,
        start: Option<UnsentCursor>,
    ) -> PortFuture<'_, Result<UnsentPage, OutboxError>> {
        Box::pin(async move {
            self.fault("Query").await?;
            let partition = unsent_key(status, &self.source, shard);
            let rows: Vec<UnsentRef> = self
                .partition(&partition)
                .into_iter()
                .filter(|row| row.received_at < before)
                .filter(|row| {
                    start.as_ref().is_none_or(|after| {
                        (row.received_at, &row.key) > (after.received_at, &after.key)
                    })
                })
                .take(limit)
                .collect();
            // As DynamoDB: a page that reached the limit says where to go on, even if nothing
            // follows.
            let next = (rows.len() == limit)
                .then(|| rows.last())
                .flatten()
                .map(|last| UnsentCursor {
                    key: last.key.clone(),
                    received_at: last.received_at,
                });
            Ok(UnsentPage {
                items_read: rows.len(),
                rows,
                next,
            })
        })
    }

    fn count_unsent(
        &self,
        status: RowStatus,
        shard: u16,
    ) -> PortFuture<'_, Result<(u64, usize), OutboxError>> {
        Box::pin(async move {
            self.fault("Query").await?;
            let count = self
                .partition(&unsent_key(status, &self.source, shard))
                .len();
            Ok((count as u64, count))
        })
    }

    fn load_rows<'a>(
        &'a self,
        keys: &'a [String],
    ) -> PortFuture<'a, Result<Vec<StoredRow>, OutboxError>> {
        Box::pin(async move {
            self.fault("BatchGetItem").await?;
            let rows = self.rows.lock().unwrap();
            Ok(keys
                .iter()
                .filter_map(|key| rows.get(key))
                .map(|row| StoredRow {
                    key: row.event.key.clone(),
                    status: row.status,
                    event: row.event.clone(),
                    attempts: row.attempts,
                    parked_by: None,
                })
                .collect())
        })
    }

    fn record_failure<'a>(
        &'a self,
        row: &'a StoredRow,
        error: &'a str,
        max_attempts: u32,
    ) -> PortFuture<'a, Result<FailureOutcome, OutboxError>> {
        Box::pin(async move {
            self.fault("UpdateItem").await?;
            let mut rows = self.rows.lock().unwrap();
            let Some(stored) = rows
                .get_mut(&row.key)
                .filter(|stored| stored.status == RowStatus::Pending)
            else {
                return Ok(FailureOutcome::NotPending);
            };
            // Counted on the row as it is now, like DynamoDB's `ADD attempts :one`; parked by
            // the attempts the sender read.
            stored.attempts += 1;
            stored.last_error = Some(error.chars().take(MAX_LAST_ERROR_CHARS).collect());
            if row.attempts.saturating_add(1) >= max_attempts {
                let shard = shard_of(&row.key, self.shards);
                stored.status = RowStatus::Parked;
                stored.unsent_key = Some(unsent_key(RowStatus::Parked, &row.event.source, shard));
                Ok(FailureOutcome::Parked)
            } else {
                Ok(FailureOutcome::WillRetry)
            }
        })
    }
}

/// A queue in memory: the messages sent, scripted faults (`SendMessage`, `SendMessageBatch`,
/// `GetQueueAttributes`) and the events whose messages it refuses one by one in a batch.
#[derive(Debug)]
pub struct InMemoryQueue {
    url: String,
    sent: Mutex<Vec<OutgoingMessage>>,
    refused: Mutex<Vec<String>>,
    script: Script,
}

impl InMemoryQueue {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sent: Mutex::default(),
            refused: Mutex::default(),
            script: Script::default(),
        }
    }

    /// The next `times` calls of `operation` meet `fault`.
    pub fn script(&self, operation: &'static str, fault: Fault, times: usize) {
        self.script.push(operation, fault, times);
    }

    /// `observer` is told the operation of every call, as it starts.
    pub fn on_every_call(&self, observer: impl Fn(&'static str) + Send + Sync + 'static) {
        self.script.observe(Arc::new(observer));
    }

    /// Every batch entry of the event `event_id` is refused (as SQS refuses one entry of a batch
    /// it otherwise takes).
    pub fn refuse_event(&self, event_id: &str) {
        self.refused.lock().unwrap().push(event_id.to_owned());
    }

    /// Every message sent so far, in order.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap().clone()
    }

    async fn fault(&self, operation: &'static str) -> Result<(), QueueError> {
        match self.script.next(operation) {
            None => Ok(()),
            Some(Fault::Fail) => Err(scripted_error("SQS", operation).into()),
            Some(Fault::Throttle) => {
                Err(scripted_error_with("SQS", operation, "RequestThrottled").into())
            }
            Some(Fault::Hang) => pending().await,
        }
    }
}

impl Queue for InMemoryQueue {
    fn url(&self) -> &str {
        &self.url
    }

    fn warm_up(&self) -> PortFuture<'_, Result<(), QueueError>> {
        Box::pin(self.fault("GetQueueAttributes"))
    }

    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> PortFuture<'a, Result<String, QueueError>> {
        Box::pin(async move {
            self.fault("SendMessage").await?;
            let mut sent = self.sent.lock().unwrap();
            sent.push(message.clone());
            Ok(format!("in-memory-{}", sent.len()))
        })
    }

    fn send_batch<'a>(
        &'a self,
        messages: &'a [&'a OutgoingMessage],
    ) -> PortFuture<'a, Result<Vec<Result<String, String>>, QueueError>> {
        Box::pin(async move {
            self.fault("SendMessageBatch").await?;
            let refusal = match messages.len() {
                0 => Some("EmptyBatchRequest"),
                n if n > MAX_BATCH_ENTRIES => Some("TooManyEntriesInBatchRequest"),
                _ => None,
            };
            if let Some(code) = refusal {
                return Err(AwsCallError {
                    service: "SQS",
                    operation: "SendMessageBatch",
                    code: code.to_owned(),
                    source: format!("{} entries", messages.len()).into(),
                }
                .into());
            }
            let refused = self.refused.lock().unwrap().clone();
            let mut sent = self.sent.lock().unwrap();
            Ok(messages
                .iter()
                .map(|message| {
                    let event_id = message
                        .attributes
                        .iter()
                        .find(|(name, _)| *name == ATTR_EVENT_ID)
                        .map(|(_, value)| value.as_str());
                    if event_id.is_some_and(|id| refused.iter().any(|r| r == id)) {
                        return Err("InvalidParameterValue: scripted refusal".to_owned());
                    }
                    sent.push((*message).clone());
                    Ok(format!("in-memory-{}", sent.len()))
                })
                .collect())
        })
    }
}
