//! Ports: what the ingress needs from the outbox and the queue, in domain terms (no SDK type), so
//! its failure rules run in process against in-memory fakes (the `e2e` test-kit's `InMemory*`)
//! and against the DynamoDB and SQS adapters alike. Futures are boxed: the traits are used as
//! `dyn`, one call per request step, where an allocation is lost in the network's time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::event::AcceptedEvent;
use crate::message::{DeliveredBy, OutgoingMessage};
use crate::outbox::{InsertOutcome, MarkOutcome, OutboxError};
use crate::queue::QueueError;
use crate::time::EpochMillis;

/// The future a port's call returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outbox as the ingress writes it.
pub trait Outbox: Send + Sync {
    /// Opens the connection so the first request does not pay for it.
    fn warm_up(&self) -> PortFuture<'_, Result<(), OutboxError>>;

    /// Writes `event` as a new `pending` row unless its key exists; then the existing row's state.
    fn insert_pending<'a>(
        &'a self,
        event: &'a AcceptedEvent,
    ) -> PortFuture<'a, Result<InsertOutcome, OutboxError>>;

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
