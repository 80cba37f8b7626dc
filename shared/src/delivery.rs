//! "Insert pending, send, mark sent": how an event that is not coming through the ingress's
//! request path (backfill, the reconciler) is recorded and put on the queue, over the ports, so
//! the same rules hold for every way in: the row is durable before anything is sent, a row that
//! exists is never written again, and a failed send leaves the row pending for the sweeper (never
//! an error: the event is safe once its row is).

use std::time::Duration;

use crate::event::AcceptedEvent;
use crate::message::{DeliveredBy, OutgoingMessage};
use crate::outbox::{ExistingRow, InsertOutcome, MarkOutcome, OutboxError};
use crate::ports::{Outbox, QueueSet};
use crate::queue::QueueError;
use crate::time::EpochMillis;

/// What became of an event given to [`record_and_send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded and sent; `marked` says whether this call also marked the row sent (when not, the
    /// sweeper may send it once more, which the workers tolerate).
    Sent { message_id: String, marked: bool },
    /// Recorded, not sent: the row is pending and the sweeper sends it.
    LeftToSweeper { error: String },
    /// A row with the event's key was there already (delivered meanwhile): nothing was written
    /// or sent.
    AlreadyThere(ExistingRow),
}

/// What became of a send of an event whose row is durable ([`send_recorded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// On the queue; `mark` is how marking the row sent ended.
    Enqueued {
        message_id: String,
        mark: Result<MarkOutcome, String>,
    },
    /// The queue refused: the row stays pending for the sweeper.
    Deferred { error: String },
}

/// Writes `event` as a pending row unless its key exists, then sends it and marks it sent.
/// `Err` only when the row could not be written: then nothing was sent, and the caller decides
/// (backfill reports the event as not recovered, and a later run tries again).
pub async fn record_and_send(
    outbox: &dyn Outbox,
    queues: &QueueSet,
    event: &AcceptedEvent,
    delivered_by: DeliveredBy,
    retention: Duration,
    now: fn() -> EpochMillis,
) -> Result<Recorded, OutboxError> {
    match outbox.insert_pending(event).await? {
        InsertOutcome::AlreadyThere(existing) => return Ok(Recorded::AlreadyThere(existing)),
        InsertOutcome::Inserted => {}
    }
    Ok(
        match send_recorded(outbox, queues, event, delivered_by, retention, now).await {
            Sent::Enqueued { message_id, mark } => Recorded::Sent {
                message_id,
                marked: mark == Ok(MarkOutcome::Marked),
            },
            Sent::Deferred { error } => Recorded::LeftToSweeper { error },
        },
    )
}

/// Sends an event whose row is durable to its destination and marks the row sent (only while it
/// is still pending and still the row received at `event.received_at`). A failed send is not an
/// error: the row stays pending and the sweeper sends it.
pub async fn send_recorded(
    outbox: &dyn Outbox,
    queues: &QueueSet,
    event: &AcceptedEvent,
    delivered_by: DeliveredBy,
    retention: Duration,
    now: fn() -> EpochMillis,
) -> Sent {
    let message = OutgoingMessage::for_event(event, delivered_by);
    let destination = event.destination.queue_url.as_deref();
    let sent = match queues.get(destination) {
        Some(queue) => queue.send(&message).await,
        None => Err(QueueError::UnknownDestination(
            destination.unwrap_or_default().to_owned(),
        )),
    };
    let message_id = match sent {
        Ok(message_id) => message_id,
        Err(err) => {
            tracing::warn!(key = %event.key, error = %err, "recorded but not sent; the sweeper sends it");
            return Sent::Deferred {
                error: err.to_string(),
            };
        }
    };
    let mark = outbox
        .mark_sent(
            &event.key,
            event.received_at,
            &message_id,
            delivered_by,
            now(),
            retention,
        )
        .await
        .map_err(|err| {
            tracing::warn!(key = %event.key, error = %err, "sent, but the row could not be marked sent; the sweeper may send it once more");
            err.to_string()
        });
    Sent::Enqueued { message_id, mark }
}
