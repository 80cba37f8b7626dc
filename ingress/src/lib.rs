//! The ingress Lambda: verify a signed webhook, record it in the outbox, put it on the queue.
//!
//! Its one promise (DESIGN.md section 2): a 2xx answer means the event will reach the queue. Every
//! step's failure has a rule chosen to keep it, and every AWS call runs inside the response budget,
//! so the provider always gets an answer it can act on. `main.rs` only wires configuration and
//! clients; [`Ingress::handle`] is the whole request path, called alike by the Lambda adapter
//! ([`lambda`]), the local HTTP server ([`local`]) and the tests.

pub mod lambda;
pub mod local;

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use shared::aws::{
    describe, dynamodb_without_retry_quota, load_sdk_config, sqs_without_retry_quota, CallLimits,
};
use shared::config::IngressConfig;
use shared::event::{event_id, event_type, AcceptedEvent, EventIdError, LazyJson};
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::metrics::{EmfEmitter, MetricSet, Unit};
use shared::outbox::{DynamoDbOutbox, InsertOutcome, MarkOutcome, RowStatus};
use shared::queue::SqsQueue;
use shared::secrets::{SecretsError, SsmSecrets};
use shared::signature::{Rejection, SigningKeys};
use shared::time::now_millis;
use tracing::{info, warn};

/// Every environment variable the deployed function reads (function.json and Terraform set
/// exactly these; tests/infra checks it).
pub const ENV_VARS: &[&str] = &[
    "SOURCE_NAME",
    "OUTBOX_TABLE",
    "QUEUE_URL",
    "SECRET_PARAMETER",
    "SIGNATURE_SCHEME",
    "SIGNATURE_HEADER",
    "SIGNATURE_ENCODING",
    "SIGNATURE_PREFIX",
    "EVENT_ID_HEADER",
    "EVENT_ID_POINTER",
    "EVENT_TYPE_POINTER",
    "MAX_BODY_BYTES",
    "TIMESTAMP_TOLERANCE_SECS",
    "PENDING_SHARDS",
    "RETENTION_DAYS",
    "RESPONSE_BUDGET_MS",
    "METRICS_NAMESPACE",
];

/// Read only when serving HTTP locally (no `AWS_LAMBDA_RUNTIME_API`).
pub const LOCAL_ONLY_ENV_VARS: &[&str] = &["INGRESS_LISTEN"];

/// The IAM actions the ingress's AWS calls need (the SSM SecureString also needs `kms:Decrypt`).
/// DescribeTable and GetQueueAttributes only open the connections at cold start.
pub const IAM_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DescribeTable",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "ssm:GetParameter",
];

/// The time kept back from the response budget for writing the answer itself.
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// A webhook request as received, whatever carried it (Function URL event or local HTTP).
#[derive(Debug)]
pub struct WebhookRequest<'r> {
    pub method: &'r Method,
    pub headers: &'r HeaderMap,
    pub body: ReceivedBody,
    /// The Lambda request id, or a generated one locally; it ties the log lines together.
    pub request_id: &'r str,
}

/// The body, or the fact that it was over `MAX_BODY_BYTES` (then it was not read in full).
#[derive(Debug)]
pub enum ReceivedBody {
    Complete(Bytes),
    TooLarge,
}

/// How a request ended. [`status_for`] maps it to the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    MethodNotAllowed,
    TooLarge,
    /// The signature did not verify: 404 with an empty body, so nothing about authentication leaks.
    Rejected(Rejection),
    /// Authentic, but its event id cannot be a key.
    UnusableEventId(EventIdError),
    /// A new event, written to the outbox and/or the queue.
    Accepted(Delivery),
    /// The outbox already held this event with the same body.
    Duplicate(DuplicateOf),
    /// The outbox holds another body under this event id; the first is kept.
    IdConflict,
    /// Neither the outbox nor the queue took the event: 500 so the provider retries.
    Failed,
}

/// What happened to an event this request was responsible for sending.
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

/// The state of the row a duplicate delivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    Sent,
    Parked,
    /// Still pending: this request tried to send it.
    Pending(Delivery),
}

/// The HTTP status for each outcome: one mapping, the answer's whole contract.
pub fn status_for(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Outcome::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Outcome::Rejected(_) => StatusCode::NOT_FOUND,
        Outcome::UnusableEventId(_) => StatusCode::BAD_REQUEST,
        Outcome::Accepted(_) | Outcome::Duplicate(_) | Outcome::IdConflict => StatusCode::OK,
        Outcome::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The answer to one request, with what the tests and the log need to know about it.
#[derive(Debug, Clone)]
pub struct Handled {
    pub status: StatusCode,
    pub outcome: Outcome,
    pub metrics: MetricSet,
    /// The outbox key, once the request got that far.
    pub key: Option<String>,
}

/// Cold start failed; the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// The ingress with its clients and secrets, built once per cold start.
pub struct Ingress {
    config: IngressConfig,
    keys: SigningKeys,
    outbox: DynamoDbOutbox,
    queue: SqsQueue,
    metrics: EmfEmitter,
}

impl Ingress {
    pub fn new(
        config: IngressConfig,
        keys: SigningKeys,
        outbox: DynamoDbOutbox,
        queue: SqsQueue,
    ) -> Self {
        let metrics = EmfEmitter::new(&config.outbox.metrics_namespace, &config.outbox.source);
        Self {
            config,
            keys,
            outbox,
            queue,
            metrics,
        }
    }

    /// Builds the clients from the environment's AWS settings, reads the secrets, and opens the
    /// DynamoDB and SQS connections. Only the secrets are fatal: with the table or the queue down
    /// the ingress still keeps its promise in a degraded mode.
    pub async fn from_config(config: IngressConfig) -> Result<Self, InitError> {
        let sdk = load_sdk_config(CallLimits::within(config.response_budget)).await;
        let secrets = SsmSecrets::new(aws_sdk_ssm::Client::new(&sdk));
        let keys = secrets
            .load(&config.secret_parameter, &config.scheme)
            .await?;
        let outbox = DynamoDbOutbox::new(
            dynamodb_without_retry_quota(&sdk),
            &config.outbox.table,
            &config.outbox.source,
            config.outbox.pending_shards,
        );
        let queue = SqsQueue::new(sqs_without_retry_quota(&sdk), &config.outbox.queue_url);
        let ingress = Self::new(config, keys, outbox, queue);
        ingress.warm_up().await;
        Ok(ingress)
    }

    /// Opens both connections in parallel; a failure is logged, not fatal.
    pub async fn warm_up(&self) {
        let (table, queue) = tokio::join!(self.outbox.warm_up(), self.queue.warm_up());
        if let Err(err) = table {
            warn!(error = %err, "outbox table not reachable at cold start");
        }
        if let Err(err) = queue {
            warn!(error = %err, "queue not reachable at cold start");
        }
    }

    pub fn config(&self) -> &IngressConfig {
        &self.config
    }

    /// Handles one request end to end and prints its EMF line.
    pub async fn handle(&self, request: WebhookRequest<'_>) -> Handled {
        let started = Instant::now();
        let deadline = started + self.config.response_budget.saturating_sub(ANSWER_MARGIN);
        let mut metrics = MetricSet::default();
        metrics.count("Received");
        let body_bytes = match &request.body {
            ReceivedBody::Complete(body) => body.len(),
            ReceivedBody::TooLarge => 0,
        };
        let (outcome, event) = self
            .process(
                request.method,
                request.headers,
                request.body,
                deadline,
                &mut metrics,
            )
            .await;
        let status = status_for(outcome);
        match status {
            StatusCode::OK => metrics.count("Accepted"),
            StatusCode::INTERNAL_SERVER_ERROR => metrics.count("Failed"),
            _ => metrics.count("Rejected"),
        }
        let elapsed = started.elapsed();
        metrics.add(
            "LatencyMs",
            elapsed.as_secs_f64() * 1000.0,
            Unit::Milliseconds,
        );
        self.metrics.emit(&metrics, now_millis());
        info!(
            request_id = request.request_id,
            event_id = event.as_ref().map(|e| e.event_id.as_str()),
            key = event.as_ref().map(|e| e.key.as_str()),
            body_bytes,
            body_sha256 = event.as_ref().map(|e| e.body_sha256.as_str()),
            outcome = ?outcome,
            status = status.as_u16(),
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "webhook handled"
        );
        Handled {
            status,
            outcome,
            metrics,
            key: event.map(|e| e.key),
        }
    }

    async fn process(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: ReceivedBody,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> (Outcome, Option<AcceptedEvent>) {
        if method != Method::POST {
            return (Outcome::MethodNotAllowed, None);
        }
        let ReceivedBody::Complete(body) = body else {
            return (Outcome::TooLarge, None);
        };
        if body.len() > self.config.max_body_bytes {
            return (Outcome::TooLarge, None);
        }
        let now = now_millis();
        let verified = self.config.scheme.verify(
            headers,
            &body,
            &self.keys,
            now / 1000,
            self.config.timestamp_tolerance_secs,
        );
        if let Err(rejection) = verified {
            info!(reason = %rejection, "signature rejected");
            return (Outcome::Rejected(rejection), None);
        }
        let event = match self.accepted_event(headers, body, now) {
            Ok(event) => event,
            Err(err) => return (Outcome::UnusableEventId(err), None),
        };
        let outcome = self.record_and_send(&event, deadline, metrics).await;
        (outcome, Some(event))
    }

    fn accepted_event(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        now: i64,
    ) -> Result<AcceptedEvent, EventIdError> {
        let json = LazyJson::default();
        let rule = &self.config.event_id;
        let id = event_id(&self.config.scheme, rule, headers, &body, &json)?;
        let kind = event_type(&self.config.scheme, rule, &body, &json);
        Ok(AcceptedEvent::new(
            &self.config.outbox.source,
            id,
            kind,
            body,
            now,
        ))
    }

    /// Steps 4 to 6 of DESIGN.md section 2 with their failure rules.
    async fn record_and_send(
        &self,
        event: &AcceptedEvent,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> Outcome {
        let inserted = within(deadline, 0.4, self.outbox.insert_pending(event)).await;
        match inserted {
            Ok(InsertOutcome::Inserted) => {
                Outcome::Accepted(self.send_durable(event, deadline, metrics).await)
            }
            Ok(InsertOutcome::AlreadyThere(existing)) => {
                if existing.body_sha256 != event.body_sha256 {
                    metrics.count("IdConflict");
                    warn!(key = %event.key, kept_sha256 = %existing.body_sha256, "same event id with a different body: the first body is kept");
                    return Outcome::IdConflict;
                }
                metrics.count("Duplicate");
                match existing.status {
                    RowStatus::Sent => Outcome::Duplicate(DuplicateOf::Sent),
                    RowStatus::Parked => Outcome::Duplicate(DuplicateOf::Parked),
                    RowStatus::Pending => {
                        // Durable but unsent: whoever gets there first sends it, this request or the sweeper.
                        let first_receipt = AcceptedEvent {
                            received_at: existing.received_at,
                            ..event.clone()
                        };
                        Outcome::Duplicate(DuplicateOf::Pending(
                            self.send_durable(&first_receipt, deadline, metrics).await,
                        ))
                    }
                }
            }
            Err(error) => {
                self.send_without_row(event, &error, deadline, metrics)
                    .await
            }
        }
    }

    /// Sends an event whose row is durable: a failed send is deferred to the sweeper, never a 5xx.
    async fn send_durable(
        &self,
        event: &AcceptedEvent,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> Delivery {
        let message = OutgoingMessage::for_event(event, DeliveredBy::Ingress);
        let message_id = match within(deadline, 0.7, self.queue.send(&message)).await {
            Ok(message_id) => message_id,
            Err(error) => {
                metrics.count("EnqueueDeferred");
                warn!(key = %event.key, error, "SendMessage failed; the row stays pending for the sweeper");
                return Delivery::Deferred;
            }
        };
        metrics.count("Enqueued");
        let marked = within(
            deadline,
            1.0,
            self.outbox.mark_sent(
                &event.key,
                &message_id,
                DeliveredBy::Ingress,
                now_millis(),
                self.config.outbox.retention,
            ),
        )
        .await;
        match marked {
            Ok(MarkOutcome::Marked | MarkOutcome::NotPending) => Delivery::Enqueued,
            Err(error) => {
                metrics.count("MarkSentFailed");
                warn!(key = %event.key, error, "marking the row sent failed; the sweeper may send it again");
                Delivery::EnqueuedMarkSentFailed
            }
        }
    }

    /// The outbox write failed: the event is only safe if it reaches the queue now.
    async fn send_without_row(
        &self,
        event: &AcceptedEvent,
        error: &str,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> Outcome {
        metrics.count("OutboxWriteFailed");
        warn!(key = %event.key, error, "outbox write failed; sending straight to the queue");
        let message = OutgoingMessage::for_event(event, DeliveredBy::Ingress);
        match within(deadline, 1.0, self.queue.send(&message)).await {
            Ok(_) => {
                metrics.count("Enqueued");
                Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
            }
            Err(error) => {
                warn!(key = %event.key, error, "neither the outbox nor the queue took the event; answering 500 so the provider retries");
                Outcome::Failed
            }
        }
    }
}

/// Runs a fallible `step` with `share` of the time left before `deadline` (1.0: all of it).
/// The error is what the log says: the SDK error's chain, or that the step ran out of time (in
/// which case it may still have taken effect, which every failure rule allows for).
async fn within<T, E: std::error::Error + 'static>(
    deadline: Instant,
    share: f64,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left.mul_f64(share), step).await {
        Ok(result) => result.map_err(|err| describe(&err)),
        Err(_) => Err("timed out within the response budget".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_maps_to_the_designed_status() {
        let cases = [
            (Outcome::MethodNotAllowed, 405),
            (Outcome::TooLarge, 413),
            (Outcome::Rejected(Rejection::NoMatch), 404),
            (Outcome::Rejected(Rejection::StaleTimestamp), 404),
            (Outcome::UnusableEventId(EventIdError::TooLong), 400),
            (Outcome::Accepted(Delivery::Enqueued), 200),
            (Outcome::Accepted(Delivery::Deferred), 200),
            (Outcome::Accepted(Delivery::EnqueuedWithoutOutbox), 200),
            (Outcome::Accepted(Delivery::EnqueuedMarkSentFailed), 200),
            (Outcome::Duplicate(DuplicateOf::Sent), 200),
            (
                Outcome::Duplicate(DuplicateOf::Pending(Delivery::Deferred)),
                200,
            ),
            (Outcome::IdConflict, 200),
            (Outcome::Failed, 500),
        ];
        for (outcome, status) in cases {
            assert_eq!(status_for(outcome).as_u16(), status, "{outcome:?}");
        }
    }

    #[test]
    fn env_vars_list_is_exactly_what_the_config_reads() {
        // The generic scheme, so the scheme-specific variables are asked for too.
        let values = [
            ("SIGNATURE_SCHEME", "hmac-sha256"),
            ("QUEUE_URL", "https://sqs.example/q"),
            ("SIGNATURE_HEADER", "x-header"),
            ("EVENT_ID_HEADER", "x-header"),
            ("SIGNATURE_ENCODING", "hex"),
            ("EVENT_ID_POINTER", "/id"),
            ("EVENT_TYPE_POINTER", "/type"),
            ("RESPONSE_BUDGET_MS", "3000"),
            ("MAX_BODY_BYTES", "3000"),
            ("TIMESTAMP_TOLERANCE_SECS", "300"),
            ("PENDING_SHARDS", "8"),
            ("RETENTION_DAYS", "8"),
        ];
        let asked = shared::testing::variables_read(&values, IngressConfig::from_env);
        let listed: std::collections::BTreeSet<String> =
            ENV_VARS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(asked, listed);
    }
}
