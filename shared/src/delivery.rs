//! "Insert pending, send, mark sent": the one routine that records an event and puts it on the
//! queue, for every way in: the ingress (a signed request), backfill and the reconciler (an event
//! taken from the provider's API). The same rules hold for each: a body the row cannot hold is in
//! S3 before anything points at it (the claim check), the row is durable before the message is
//! sent, a row that exists is never written again, a failed send leaves the row pending for the
//! sweeper, and a body's object may expire only once no unsent row needs it.
//!
//! What differs between the ways in is said by the caller, never by a second copy of the steps:
//! [`Rules`] (what to do when the row cannot be written, when the id holds another body, when a
//! pending row is found) and [`StepBound`] (how long each step may take: the ingress answers
//! within its response budget, a recovery has no such bound). Each step counts its metrics in the
//! caller's [`MetricSet`] (the ingress's EMF names: `Enqueued`, `EnqueueDeferred`,
//! `MarkSentFailed`, `OutboxWriteFailed`, `Duplicate`, `IdConflict`, `LargeBodyStored`,
//! `LargeBodyWriteFailed`, `LargeBodyRetagFailed`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::call_error::describe;
use crate::event::AcceptedEvent;
use crate::large_body::{needs_claim_check, object_key, BodyPointer, LargeBodySettings};
use crate::message::{DeliveredBy, OutgoingMessage};
use crate::metrics::MetricSet;
use crate::outbox::{ExistingRow, InsertOutcome, MarkOutcome, RowStatus};
use crate::ports::{BodyStore, Outbox, QueueSet};
use crate::queue::QueueError;
use crate::time::EpochMillis;

/// How many keys a body is tried under before the delivery gives up: a key found holding yet
/// another body is a crafted id (`{id}#{hash}` sent ahead of the body that hashes so), and each
/// round moves this body one `#{hash}` further.
pub const MAX_CONFLICT_ROUNDS: usize = 4;

/// The steps of a delivery, each of which a [`StepBound`] may bound in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// PutObject of a body the row cannot hold.
    StoreBody,
    /// The conditional PutItem of the pending row.
    Insert,
    /// SendMessage of an event whose row is durable.
    Send,
    /// SendMessage of an event whose row could not be written ([`Rules::send_without_row`]).
    SendWithoutRow,
    /// UpdateItem marking the row sent.
    MarkSent,
    /// The copy that re-tags a body's object sent.
    RetagBody,
}

/// How long each step may take, asked as the step starts.
pub trait StepBound: Send + Sync {
    /// The time `step` may take from now; `None`: as long as the clients' own timeouts allow.
    fn limit(&self, step: Step) -> Option<Duration>;

    /// What the log says of a step that ran out of its time.
    fn timed_out(&self) -> &'static str {
        "timed out"
    }
}

/// No bound but the clients' own timeouts (backfill, the reconciler).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unbounded;

impl StepBound for Unbounded {
    fn limit(&self, _step: Step) -> Option<Duration> {
        None
    }
}

/// What the caller's situation makes of the cases where the ways in differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The row could not be written: send the event anyway (the ingress: it has the only copy,
    /// and the queue taking it keeps the promise), or give up with nothing sent (a recovery: the
    /// provider still has the event, and a later run tries again).
    pub send_without_row: bool,
    /// A row holds another body under the event id: keep this body beside it under a key of its
    /// own and send it marked `id-conflict-of` (the ingress), or take the event as present (a
    /// recovery: the API's serialization of an event differs from the bytes it delivered).
    pub keep_other_body: bool,
    /// A pending row of this body was found: send it now as first received (the ingress: the
    /// provider's retry is a chance to send it), or leave it to the sweeper (a recovery).
    pub send_pending_row: bool,
}

impl Rules {
    /// A signed request answered by the ingress.
    pub const INGRESS: Self = Self {
        send_without_row: true,
        keep_other_body: true,
        send_pending_row: true,
    };
    /// An event taken from the provider's API by backfill or the reconciler.
    pub const RECOVERY: Self = Self {
        send_without_row: false,
        keep_other_body: false,
        send_pending_row: false,
    };
}

/// The S3 claim check for bodies the row cannot hold: the bucket's settings and the store.
#[derive(Clone)]
pub struct ClaimCheck {
    pub settings: LargeBodySettings,
    pub store: Arc<dyn BodyStore>,
}

impl ClaimCheck {
    /// The claim check of a deployment whose settings name a bucket (`LARGE_BODY_BUCKET`); none
    /// without one.
    pub fn configured(
        settings: Option<&LargeBodySettings>,
        store: Arc<dyn BodyStore>,
    ) -> Option<Self> {
        settings.cloned().map(|settings| Self { settings, store })
    }
}

impl std::fmt::Debug for ClaimCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimCheck")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What happened to an event this delivery was responsible for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// On the queue, and its row marked sent.
    Enqueued,
    /// On the queue; marking the row sent failed, so the sweeper may send it again.
    EnqueuedMarkSentFailed,
    /// The row is pending and durable; SendMessage failed, the sweeper will send it.
    Deferred,
    /// The outbox write failed but the message is on the queue.
    EnqueuedWithoutOutbox,
}

/// The state of the row a duplicate found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    Sent,
    Parked,
    Discarded,
    /// Still pending: this delivery tried to send it.
    Pending(Delivery),
    /// Still pending, left to the sweeper ([`Rules::send_pending_row`] off).
    PendingLeft,
}

/// What happened to a second body under an event id, recorded under its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflicted {
    /// Its first receipt.
    Accepted(Delivery),
    /// A retry of it: its own row was there already.
    Duplicate(DuplicateOf),
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// A new event, written to the outbox and/or the queue.
    Accepted(Delivery),
    /// The outbox already held this event with the same body.
    Duplicate(DuplicateOf),
    /// The outbox holds another body under this event id: this body is kept beside it under its
    /// own key ([`Rules::keep_other_body`]).
    IdConflict(Conflicted),
    /// The outbox holds another body under this event id and the rules take the event as
    /// present: nothing written or sent.
    OtherBody(ExistingRow),
    /// The body is over what a row holds and there is no bucket to store it in: nothing written.
    TooLarge,
    /// Neither the outbox nor the queue took the event (why: the log line's words).
    Failed(String),
}

/// One source's outbox, queues and claim check, and how events reach them.
pub struct Deliverer<'a> {
    pub outbox: &'a dyn Outbox,
    pub queues: &'a QueueSet,
    /// `None`: no `LARGE_BODY_BUCKET`, a body over what a row holds is [`Delivered::TooLarge`].
    pub claim_check: Option<&'a ClaimCheck>,
    pub delivered_by: DeliveredBy,
    /// How long a row marked sent is kept (`RETENTION_DAYS`).
    pub retention: Duration,
    pub rules: Rules,
    pub now: fn() -> EpochMillis,
}

impl Deliverer<'_> {
    /// Records `event` and sends it, each step within what `bound` allows, counting into
    /// `metrics`; also the event as recorded (a second body under an id is recorded under a key
    /// of its own, and a large body as a pointer to its object).
    pub async fn record_and_send(
        &self,
        event: AcceptedEvent,
        bound: &dyn StepBound,
        metrics: &mut MetricSet,
    ) -> (Delivered, AcceptedEvent) {
        if !needs_claim_check(event.body.len()) {
            let (delivered, _, recorded) = self.record_and_send_row(event, bound, metrics).await;
            return (delivered, recorded);
        }
        let Some(claim_check) = self.claim_check else {
            return (Delivered::TooLarge, event);
        };
        let pointer = BodyPointer {
            bucket: claim_check.settings.bucket.clone(),
            key: object_key(&claim_check.settings.prefix, &event.key, &event.body_sha256),
            size: u64::try_from(event.body.len()).unwrap_or(u64::MAX),
        };
        // The object first: a row (or a message) pointing at it must never exist without it. If
        // this fails nothing else is written; an object whose row never came is only a leak.
        let stored = within(
            bound,
            Step::StoreBody,
            claim_check.store.put(&pointer, event.body.clone()),
        )
        .await;
        if let Err(error) = stored {
            metrics.count("LargeBodyWriteFailed");
            tracing::warn!(key = %event.key, error, "writing the body to S3 failed; nothing recorded or sent");
            return (Delivered::Failed(error), event);
        }
        metrics.count("LargeBodyStored");
        let event = event.with_claim_check(pointer);
        let (delivered, marked_by_us, event) =
            self.record_and_send_row(event, bound, metrics).await;
        if marked_by_us || no_unsent_row_needs_the_object(&delivered) {
            if let Some(pointer) = &event.claim_check {
                let retagged = within(
                    bound,
                    Step::RetagBody,
                    claim_check.store.mark_sent(&pointer.bucket, &pointer.key),
                )
                .await;
                if let Err(error) = retagged {
                    metrics.count("LargeBodyRetagFailed");
                    tracing::warn!(key = %event.key, error, "re-tagging the body sent failed; its object will not expire (a leak, nothing lost)");
                }
            }
        }
        (delivered, event)
    }

    /// Insert, send, mark sent for an event whose body the row holds (or points to); also
    /// whether this delivery marked the row sent, and the event as recorded.
    async fn record_and_send_row(
        &self,
        mut event: AcceptedEvent,
        bound: &dyn StepBound,
        metrics: &mut MetricSet,
    ) -> (Delivered, bool, AcceptedEvent) {
        for _ in 0..MAX_CONFLICT_ROUNDS {
            let inserted = within(bound, Step::Insert, self.outbox.insert_pending(&event)).await;
            let (delivered, marked) = match inserted {
                Ok(InsertOutcome::Inserted) => {
                    let (delivery, marked) = self.send_durable(&event, bound, metrics).await;
                    (Delivered::Accepted(delivery), marked)
                }
                Ok(InsertOutcome::AlreadyThere(existing)) => {
                    if existing.body_sha256 != event.body_sha256 {
                        if !self.rules.keep_other_body {
                            tracing::info!(key = %event.key, kept_sha256 = %existing.body_sha256, body_sha256 = %event.body_sha256, "the outbox holds this event id with another body; taken as present");
                            return (Delivered::OtherBody(existing), false, event);
                        }
                        metrics.count("IdConflict");
                        tracing::warn!(key = %event.key, kept_sha256 = %existing.body_sha256, body_sha256 = %event.body_sha256, "same event id with a different body: this body is kept and sent beside the first, marked id-conflict-of");
                        event = event.conflicting(&existing.body_sha256);
                        continue;
                    }
                    metrics.count("Duplicate");
                    let (duplicate, marked) = self
                        .send_pending_duplicate(&event, existing, bound, metrics)
                        .await;
                    (Delivered::Duplicate(duplicate), marked)
                }
                Err(error) => {
                    let delivered = self.send_without_row(&event, &error, bound, metrics).await;
                    return (as_conflict(delivered, &event), false, event);
                }
            };
            return (as_conflict(delivered, &event), marked, event);
        }
        tracing::warn!(key = %event.key, "every key tried for this body holds another body; nothing recorded or sent");
        let reason = "every key tried for this body holds another body".to_owned();
        (Delivered::Failed(reason), false, event)
    }

    /// A duplicate: nothing to do for a row already sent, parked or discarded; a row still
    /// pending is sent as first received (or left to the sweeper). Also whether this delivery
    /// marked it sent.
    async fn send_pending_duplicate(
        &self,
        event: &AcceptedEvent,
        existing: ExistingRow,
        bound: &dyn StepBound,
        metrics: &mut MetricSet,
    ) -> (DuplicateOf, bool) {
        match existing.status {
            RowStatus::Sent => (DuplicateOf::Sent, false),
            RowStatus::Parked => (DuplicateOf::Parked, false),
            // On-call gave up on it on purpose: a redelivery must not revive it.
            RowStatus::Discarded => (DuplicateOf::Discarded, false),
            RowStatus::Pending if !self.rules.send_pending_row => (DuplicateOf::PendingLeft, false),
            RowStatus::Pending => {
                // Durable but unsent: whoever gets there first sends it, this one or the sweeper.
                let first_receipt = AcceptedEvent {
                    received_at: existing.received_at,
                    destination: existing.destination,
                    ..event.clone()
                };
                let (delivery, marked) = self.send_durable(&first_receipt, bound, metrics).await;
                (DuplicateOf::Pending(delivery), marked)
            }
        }
    }

    /// Sends an event whose row is durable and marks the row sent (only while it is still pending
    /// and still the row received at `event.received_at`): a failed send is deferred to the
    /// sweeper, never a failure. Also whether this delivery marked the row sent.
    async fn send_durable(
        &self,
        event: &AcceptedEvent,
        bound: &dyn StepBound,
        metrics: &mut MetricSet,
    ) -> (Delivery, bool) {
        let message = OutgoingMessage::for_event(event, self.delivered_by);
        let message_id = match within(bound, Step::Send, self.send(event, &message)).await {
            Ok(message_id) => message_id,
            Err(error) => {
                metrics.count("EnqueueDeferred");
                tracing::warn!(key = %event.key, error, "SendMessage failed; the row stays pending for the sweeper");
                return (Delivery::Deferred, false);
            }
        };
        metrics.count("Enqueued");
        let marked = within(
            bound,
            Step::MarkSent,
            self.outbox.mark_sent(
                &event.key,
                event.received_at,
                &message_id,
                self.delivered_by,
                (self.now)(),
                self.retention,
            ),
        )
        .await;
        match marked {
            Ok(MarkOutcome::Marked) => (Delivery::Enqueued, true),
            // Someone else sent it meanwhile, or on-call changed it: theirs to record.
            Ok(MarkOutcome::NotPending) => (Delivery::Enqueued, false),
            Err(error) => {
                metrics.count("MarkSentFailed");
                tracing::warn!(key = %event.key, error, "marking the row sent failed; the sweeper may send it again");
                (Delivery::EnqueuedMarkSentFailed, false)
            }
        }
    }

    /// The outbox write failed: when the rules say so, the event is only safe if it reaches the
    /// queue now; otherwise nothing is sent.
    async fn send_without_row(
        &self,
        event: &AcceptedEvent,
        error: &str,
        bound: &dyn StepBound,
        metrics: &mut MetricSet,
    ) -> Delivered {
        metrics.count("OutboxWriteFailed");
        if !self.rules.send_without_row {
            tracing::warn!(key = %event.key, error, "outbox write failed; nothing sent");
            return Delivered::Failed(format!("outbox write failed: {error}"));
        }
        tracing::warn!(key = %event.key, error, "outbox write failed; sending straight to the queue");
        let message = OutgoingMessage::for_event(event, self.delivered_by);
        match within(bound, Step::SendWithoutRow, self.send(event, &message)).await {
            Ok(_) => {
                metrics.count("Enqueued");
                Delivered::Accepted(Delivery::EnqueuedWithoutOutbox)
            }
            Err(send_error) => {
                tracing::warn!(key = %event.key, error = send_error, "neither the outbox nor the queue took the event");
                Delivered::Failed(format!(
                    "outbox write failed: {error}; SendMessage failed: {send_error}"
                ))
            }
        }
    }

    /// SendMessage to the event's destination. The destination always comes from this
    /// process's own routes, so an unknown one is a bug; it fails like an SQS error would.
    async fn send(
        &self,
        event: &AcceptedEvent,
        message: &OutgoingMessage,
    ) -> Result<String, QueueError> {
        let destination = event.destination.queue_url.as_deref();
        match self.queues.get(destination) {
            Some(queue) => queue.send(message).await,
            None => Err(QueueError::UnknownDestination(
                destination.unwrap_or_default().to_owned(),
            )),
        }
    }
}

/// A body recorded under a key of its own beside another one is told apart as an id conflict.
fn as_conflict(delivered: Delivered, event: &AcceptedEvent) -> Delivered {
    if event.id_conflict_of.is_none() {
        return delivered;
    }
    match delivered {
        Delivered::Accepted(delivery) => Delivered::IdConflict(Conflicted::Accepted(delivery)),
        Delivered::Duplicate(duplicate) => Delivered::IdConflict(Conflicted::Duplicate(duplicate)),
        other => other,
    }
}

/// Whether, after `delivered`, no unsent row can need the object just written: the row holding
/// this body (its own key, or the key beside another body) is sent or discarded, or no row holds
/// it (another body's row, whose object has another key). A pending or parked row's object
/// never expires; one marked sent by this delivery is told by the caller.
fn no_unsent_row_needs_the_object(delivered: &Delivered) -> bool {
    matches!(
        delivered,
        Delivered::Duplicate(DuplicateOf::Sent | DuplicateOf::Discarded)
            | Delivered::IdConflict(Conflicted::Duplicate(
                DuplicateOf::Sent | DuplicateOf::Discarded
            ))
            | Delivered::OtherBody(_)
    )
}

/// Runs a fallible `step` within the time `bound` gives it. The error is what the log says: the
/// error's chain, or that the step ran out of time (in which case it may still have taken
/// effect, which every failure rule allows for).
async fn within<T, E: std::error::Error + 'static>(
    bound: &dyn StepBound,
    step: Step,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let result = match bound.limit(step) {
        None => call.await,
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => return Err(bound.timed_out().to_owned()),
        },
    };
    result.map_err(|err| describe(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(status: RowStatus) -> ExistingRow {
        ExistingRow {
            body_sha256: "a".repeat(64),
            status,
            received_at: 1,
            destination: Default::default(),
        }
    }

    #[test]
    fn an_object_may_expire_only_when_no_unsent_row_can_need_it() {
        let expirable = [
            Delivered::Duplicate(DuplicateOf::Sent),
            Delivered::Duplicate(DuplicateOf::Discarded),
            Delivered::IdConflict(Conflicted::Duplicate(DuplicateOf::Sent)),
            Delivered::OtherBody(existing(RowStatus::Pending)),
        ];
        for delivered in expirable {
            assert!(no_unsent_row_needs_the_object(&delivered), "{delivered:?}");
        }
        let kept = [
            Delivered::Accepted(Delivery::Deferred),
            Delivered::Accepted(Delivery::EnqueuedMarkSentFailed),
            Delivered::Duplicate(DuplicateOf::Parked),
            Delivered::Duplicate(DuplicateOf::PendingLeft),
            Delivered::Duplicate(DuplicateOf::Pending(Delivery::Deferred)),
            Delivered::IdConflict(Conflicted::Accepted(Delivery::Deferred)),
            Delivered::Failed("x".to_owned()),
        ];
        for delivered in kept {
            assert!(!no_unsent_row_needs_the_object(&delivered), "{delivered:?}");
        }
    }

    #[test]
    fn the_ingress_keeps_every_copy_and_a_recovery_touches_nothing_it_did_not_write() {
        assert_eq!(
            Rules::INGRESS,
            Rules {
                send_without_row: true,
                keep_other_body: true,
                send_pending_row: true
            }
        );
        assert_eq!(
            Rules::RECOVERY,
            Rules {
                send_without_row: false,
                keep_other_body: false,
                send_pending_row: false
            }
        );
        assert_eq!(Unbounded.limit(Step::Send), None);
    }
}
