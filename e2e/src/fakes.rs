//! In-memory fakes of the outbox and queue ports, with scripted failures, so the ingress's
//! failure rules run in process. They follow the adapters' contract (the same cases run against
//! these and against DynamoDB and SQS on moto, in ingress's `contract` tests), so they cannot drift.

use std::collections::{HashMap, VecDeque};
use std::future::pending;
use std::sync::Mutex;
use std::time::Duration;

use shared::call_error::AwsCallError;
use shared::event::AcceptedEvent;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{ExistingRow, InsertOutcome, MarkOutcome, OutboxError, RowStatus};
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
}

/// Faults for the next calls of each operation, in order; an operation without one works.
#[derive(Debug, Default)]
struct Script(Mutex<HashMap<&'static str, VecDeque<Fault>>>);

impl Script {
    fn push(&self, operation: &'static str, fault: Fault, times: usize) {
        let mut faults = self.0.lock().unwrap();
        faults
            .entry(operation)
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    fn next(&self, operation: &'static str) -> Option<Fault> {
        self.0
            .lock()
            .unwrap()
            .get_mut(operation)
            .and_then(VecDeque::pop_front)
    }
}

fn scripted_error(service: &'static str, operation: &'static str) -> AwsCallError {
    AwsCallError {
        service,
        operation,
        code: "InternalServerError".to_owned(),
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
}

/// The outbox in memory: rows by key, and scripted faults per operation (`PutItem`, `UpdateItem`,
/// `DescribeTable`, as the DynamoDB adapter names its calls).
#[derive(Debug, Default)]
pub struct InMemoryOutbox {
    rows: Mutex<HashMap<String, FakeRow>>,
    script: Script,
}

impl InMemoryOutbox {
    /// The next `times` calls of `operation` meet `fault`.
    pub fn script(&self, operation: &'static str, fault: Fault, times: usize) {
        self.script.push(operation, fault, times);
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
        match self.script.next(operation) {
            None => Ok(()),
            Some(Fault::Fail) => Err(scripted_error("DynamoDB", operation).into()),
            Some(Fault::Hang) => pending().await,
        }
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
                return Ok(InsertOutcome::AlreadyThere(ExistingRow {
                    status: row.status,
                    body_sha256: row.event.body_sha256.clone(),
                    received_at: row.event.received_at,
                    destination: row.event.destination.clone(),
                }));
            }
            rows.insert(
                event.key.clone(),
                FakeRow {
                    event: event.clone(),
                    status: RowStatus::Pending,
                    message_id: None,
                    delivered_by: None,
                },
            );
            Ok(InsertOutcome::Inserted)
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
                    Ok(MarkOutcome::Marked)
                }
                _ => Ok(MarkOutcome::NotPending),
            }
        })
    }
}

/// A queue in memory: the messages sent, and scripted faults (`SendMessage`, `GetQueueAttributes`).
#[derive(Debug)]
pub struct InMemoryQueue {
    url: String,
    sent: Mutex<Vec<OutgoingMessage>>,
    script: Script,
}

impl InMemoryQueue {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sent: Mutex::default(),
            script: Script::default(),
        }
    }

    /// The next `times` calls of `operation` meet `fault`.
    pub fn script(&self, operation: &'static str, fault: Fault, times: usize) {
        self.script.push(operation, fault, times);
    }

    /// Every message sent so far, in order.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap().clone()
    }

    async fn fault(&self, operation: &'static str) -> Result<(), QueueError> {
        match self.script.next(operation) {
            None => Ok(()),
            Some(Fault::Fail) => Err(scripted_error("SQS", operation).into()),
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
}
