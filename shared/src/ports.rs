//! Ports: what the ingress and the sweeper need from the outbox and the queue, in domain terms (no
//! SDK type), so their failure rules run in process against in-memory fakes (the `e2e`
//! test-kit's `InMemory*`) and against the DynamoDB and SQS adapters alike. Futures are boxed:
//! the traits are used as `dyn`, one call per step, where an allocation is lost in the network's
//! time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::event::AcceptedEvent;
use crate::large_body::{BodyPointer, BodyStoreError};
use crate::message::{DeliveredBy, OutgoingMessage};
use crate::outbox::{
    FailureOutcome, InsertOutcome, MarkOutcome, OutboxError, RowStatus, StoredRow, TokenSpend,
    UnsentCursor, UnsentPage,
};
use crate::queue::QueueError;
use crate::time::EpochMillis;

/// The future a port's call returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outbox of one source, as the ingress writes it and the sweeper reads and updates it.
pub trait Outbox: Send + Sync {
    /// Opens the connection so the first request does not pay for it.
    fn warm_up(&self) -> PortFuture<'_, Result<(), OutboxError>>;

    /// Writes `event` as a new `pending` row unless its key exists; then the existing row's state.
    fn insert_pending<'a>(
        &'a self,
        event: &'a AcceptedEvent,
    ) -> PortFuture<'a, Result<InsertOutcome, OutboxError>>;

    /// Records the single-use token under `key` as spent by a body hashing to `body_sha256`
    /// (one conditional write; the item expires at `expires_at`, Unix seconds), unless it was
    /// spent already: then whether by the same body.
    fn spend_token<'a>(
        &'a self,
        key: &'a str,
        body_sha256: &'a str,
        expires_at: i64,
    ) -> PortFuture<'a, Result<TokenSpend, OutboxError>>;

    /// Marks the row under `key` sent, only while it is still pending and still the row received
    /// at `received_at`.
    fn mark_sent<'a>(
        &'a self,
        key: &'a str,
        received_at: EpochMillis,
        message_id: &'a str,
        delivered_by: DeliveredBy,
        now: EpochMillis,
        retention: Duration,
    ) -> PortFuture<'a, Result<MarkOutcome, OutboxError>>;

    /// Up to `limit` of this source's rows in `status` (pending or parked) on `shard` received
    /// before `before`, oldest first, from where `start` left off. The index it reads may lag the
    /// rows: [`Outbox::load_rows`] says what a row is now.
    fn unsent_page(
        &self,
        status: RowStatus,
        shard: u16,
        before: EpochMillis,
        limit: usize,
        start: Option<UnsentCursor>,
    ) -> PortFuture<'_, Result<UnsentPage, OutboxError>>;

    /// How many of this source's rows in `status` are on `shard`, and the index items read to
    /// count them.
    fn count_unsent(
        &self,
        status: RowStatus,
        shard: u16,
    ) -> PortFuture<'_, Result<(u64, usize), OutboxError>>;

    /// The rows under `keys` as they are now (read consistently); a key whose row is gone or
    /// cannot be read is left out.
    fn load_rows<'a>(
        &'a self,
        keys: &'a [String],
    ) -> PortFuture<'a, Result<Vec<StoredRow>, OutboxError>>;

    /// Records a failed send of a pending row (`attempts + 1`, `error`), parking it once its
    /// attempts reach `max_attempts`; only while the row is still pending.
    fn record_failure<'a>(
        &'a self,
        row: &'a StoredRow,
        error: &'a str,
        max_attempts: u32,
    ) -> PortFuture<'a, Result<FailureOutcome, OutboxError>>;
}

/// Where the S3 claim check keeps bodies the row cannot hold ([`crate::large_body`]).
pub trait BodyStore: Send + Sync {
    /// Writes `body` under `pointer`, tagged unsent.
    fn put<'a>(
        &'a self,
        pointer: &'a BodyPointer,
        body: Bytes,
    ) -> PortFuture<'a, Result<(), BodyStoreError>>;

    /// Re-tags the object `sent` (its row was marked sent or discarded): it may expire.
    fn mark_sent<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> PortFuture<'a, Result<(), BodyStoreError>>;
}

/// One queue, by URL.
pub trait Queue: Send + Sync {
    fn url(&self) -> &str;

    /// Opens the connection so the first request does not pay for it.
    fn warm_up(&self) -> PortFuture<'_, Result<(), QueueError>>;

    /// Sends one message; its message id.
    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> PortFuture<'a, Result<String, QueueError>>;

    /// Sends up to ten messages in one call: `Err` when the call failed as a whole (nothing is
    /// known of any one message), else one entry per message, in order: its message id, or why
    /// the queue refused that message.
    fn send_batch<'a>(
        &'a self,
        messages: &'a [&'a OutgoingMessage],
    ) -> PortFuture<'a, Result<Vec<Result<String, String>>, QueueError>>;
}

/// The default queue (`QUEUE_URL`) and every routed one (`ROUTES`).
#[derive(Clone)]
pub struct QueueSet {
    default: Arc<dyn Queue>,
    routed: Vec<Arc<dyn Queue>>,
}

impl QueueSet {
    pub fn new(default: Arc<dyn Queue>, routed: Vec<Arc<dyn Queue>>) -> Self {
        Self { default, routed }
    }

    /// The queue an event's row names (`None`: the default queue); `None` when this process does
    /// not know it.
    pub fn get(&self, destination: Option<&str>) -> Option<&Arc<dyn Queue>> {
        match destination {
            None => Some(&self.default),
            Some(url) => self.all().find(|queue| queue.url() == url),
        }
    }

    /// Every queue, the default first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Queue>> {
        std::iter::once(&self.default).chain(&self.routed)
    }
}
