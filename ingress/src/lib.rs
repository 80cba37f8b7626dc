//! The ingress Lambda: verify a signed webhook, record it in the outbox, put it on the queue.
//!
//! Its one promise: a 2xx answer means the event will reach the queue. Every
//! step's failure has a rule chosen to keep it, and every AWS call runs inside the response budget,
//! so the provider always gets an answer it can act on. `main.rs` only wires configuration and
//! clients; [`Ingress::handle`] is the whole request path, called alike by the Lambda adapter
//! ([`lambda`]), the local HTTP server ([`local`]) and the tests.

pub mod lambda;
pub mod local;

/// What became of an event the ingress was responsible for sending (the delivery's own terms).
pub use shared::delivery::{Conflicted, Delivery, DuplicateOf};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::{Queues, SqsQueue};
use shared::aws::ssm::{SsmParameter, SsmSecrets};
use shared::aws::{
    describe, dynamodb_without_retry_quota, load_sdk_config, s3_without_retry_quota,
    sqs_without_retry_quota, CallLimits,
};
use shared::config::IngressConfig;
use shared::delivery::{ClaimCheck, Delivered, Deliverer, Rules, Step, StepBound};
use shared::event::{event_id, event_type, AcceptedEvent, LazyJson};
use shared::message::DeliveredBy;
use shared::metrics::{EmfEmitter, MetricSet, Unit};
use shared::outbox::{token_key, TokenSpend};
use shared::ports::{Outbox, QueueSet};
use shared::secrets::{
    ColdStartRetry, RefreshPolicy, SecretCache, SecretsError, EARLY_REFRESH_INTERVAL,
    MIN_REFRESH_GAP,
};
use shared::signature::{
    mailgun_signed_token, Rejection, SignatureScheme, SignedRequest, SigningKeys, Verified,
};
use shared::time::{now_millis, EpochMillis};
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
    "SIGNATURE_SPEC",
    "PUBLIC_URL",
    "EVENT_ID_HEADER",
    "EVENT_ID_POINTER",
    "EVENT_TYPE_POINTER",
    "MAX_BODY_BYTES",
    "TIMESTAMP_TOLERANCE_SECS",
    "SECRET_REFRESH_SECS",
    "PENDING_SHARDS",
    "RETENTION_DAYS",
    "RESPONSE_BUDGET_MS",
    "METRICS_NAMESPACE",
    "ROUTES",
    "LARGE_BODY_BUCKET",
    "LARGE_BODY_PREFIX",
    "LARGE_BODY_KMS_KEY",
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

/// What the S3 claim check adds (`LARGE_BODY_BUCKET`), on the bucket's objects only: PutObject
/// with tags, and the CopyObject onto itself that re-tags a body sent (it reads the source). The
/// KMS key needs `kms:GenerateDataKey` and `kms:Decrypt`.
pub const LARGE_BODY_IAM_ACTIONS: &[&str] =
    &["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"];

/// The share of the time left that a re-read of the secrets may take; the rest is the AWS steps'.
const SECRET_READ_SHARE: f64 = 0.25;

/// How the ingress's cached secrets are refreshed.
fn refresh_policy(config: &IngressConfig) -> RefreshPolicy {
    RefreshPolicy {
        max_age: config.secret_refresh,
        min_gap: MIN_REFRESH_GAP,
        early_interval: EARLY_REFRESH_INTERVAL,
    }
}

/// The time kept back from the response budget for writing the answer itself.
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// A webhook request as received, whatever carried it (Function URL event or local HTTP). Its
/// `Debug` shows header names and the body's size only: a header may be the secret itself
/// (`gitlab`, `token`, `basic`) and a body is the provider's data.
pub struct WebhookRequest<'r> {
    pub method: &'r Method,
    /// The request target: its path and query (`/hook?key=value`). Never part of what is
    /// verified: a signed URL is `PUBLIC_URL`.
    pub target: &'r str,
    pub headers: &'r HeaderMap,
    pub body: ReceivedBody,
    /// The Lambda request id, or a generated one locally; it ties the log lines together.
    pub request_id: &'r str,
}

/// The body, or the fact that it was over `MAX_BODY_BYTES` (then it was not read in full). Its
/// `Debug` shows the size only.
#[derive(Clone)]
pub enum ReceivedBody {
    Complete(Bytes),
    TooLarge,
}

impl std::fmt::Debug for ReceivedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Complete(body) => write!(f, "Complete(<{} bytes>)", body.len()),
            Self::TooLarge => f.write_str("TooLarge"),
        }
    }
}

impl std::fmt::Debug for WebhookRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Names<'h>(&'h HeaderMap);
        impl std::fmt::Debug for Names<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|name| (name.as_str(), "<redacted>")))
                    .finish()
            }
        }
        f.debug_struct("WebhookRequest")
            .field("method", self.method)
            .field("target", &self.target)
            .field("headers", &Names(self.headers))
            .field("body", &self.body)
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// How a request ended. [`status_for`] maps it to the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    MethodNotAllowed,
    TooLarge,
    /// The signature did not verify: 404 with an empty body, so nothing about authentication leaks.
    Rejected(Rejection),
    /// A verified Slack `url_verification` request: answered with its challenge, nothing written.
    UrlVerification,
    /// A new event, written to the outbox and/or the queue.
    Accepted(Delivery),
    /// The outbox already held this event with the same body.
    Duplicate(DuplicateOf),
    /// The outbox holds another body under this event id: this body is kept beside it under its
    /// own key and sent like a new event, marked `id-conflict-of`.
    IdConflict(Conflicted),
    /// Neither the outbox nor the queue took the event: 500 so the provider retries.
    Failed,
}

/// The HTTP status for each outcome: one mapping, the answer's whole contract.
pub fn status_for(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Outcome::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Outcome::Rejected(_) => StatusCode::NOT_FOUND,
        Outcome::UrlVerification
        | Outcome::Accepted(_)
        | Outcome::Duplicate(_)
        | Outcome::IdConflict(_) => StatusCode::OK,
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
    /// Which active secret verified the request (its position in the parameter), if one did.
    pub key_index: Option<usize>,
    /// The answer's body: empty except for a handshake's answer (Slack's and Twitch's challenge
    /// as plain text, Discord's PING answer as JSON).
    pub body: Bytes,
    /// The media type of a non-empty `body`.
    pub content_type: &'static str,
}

/// Cold start failed; the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// Opens the table's and every queue's connection (TLS included on AWS) in parallel, so the first
/// webhook pays no handshake; a failure is logged, not fatal.
async fn warm_up(outbox: &dyn Outbox, queues: &QueueSet) {
    let mut warming = tokio::task::JoinSet::new();
    for queue in queues.all() {
        let queue = queue.clone();
        warming.spawn(async move {
            if let Err(err) = queue.warm_up().await {
                warn!(queue = queue.url(), error = %err, "queue not reachable at cold start");
            }
        });
    }
    if let Err(err) = outbox.warm_up().await {
        warn!(error = %err, "outbox table not reachable at cold start");
    }
    while warming.join_next().await.is_some() {}
}

/// The ingress with its clients and secrets, built once per cold start.
pub struct Ingress {
    config: IngressConfig,
    secrets: SecretCache,
    outbox: Arc<dyn Outbox>,
    queues: QueueSet,
    metrics: EmfEmitter,
    claim_check: Option<ClaimCheck>,
}

impl Ingress {
    pub fn new(
        config: IngressConfig,
        secrets: SecretCache,
        outbox: DynamoDbOutbox,
        queue: SqsQueue,
    ) -> Self {
        let queues = Queues::new(queue, &config.outbox.routes).ports();
        Self::with_ports(config, secrets, Arc::new(outbox), queues)
    }

    /// The ingress over any outbox and queues: the DynamoDB and SQS adapters, or in-memory fakes.
    pub fn with_ports(
        config: IngressConfig,
        secrets: SecretCache,
        outbox: Arc<dyn Outbox>,
        queues: QueueSet,
    ) -> Self {
        let metrics = EmfEmitter::new(&config.outbox.metrics_namespace, &config.outbox.source);
        Self {
            config,
            secrets,
            outbox,
            queues,
            metrics,
            claim_check: None,
        }
    }

    /// Stores bodies the row cannot hold in `store`, when `LARGE_BODY_BUCKET` is configured
    /// (without it `MAX_BODY_BYTES` never admits such a body).
    pub fn with_body_store(mut self, store: S3BodyStore) -> Self {
        self.claim_check =
            ClaimCheck::configured(self.config.outbox.large_bodies.as_ref(), Arc::new(store));
        self
    }

    /// Builds the clients from the environment's AWS settings, reads the secrets, and opens the
    /// DynamoDB and SQS connections. Only the secrets are fatal: with the table or the queue down
    /// the ingress still keeps its promise in a degraded mode.
    pub async fn from_config(config: IngressConfig) -> Result<Self, InitError> {
        for route in config.outbox.routes.on_unsigned_headers(&config.scheme) {
            if let shared::routes::Selector::Header(header) = &route.selector {
                warn!(
                    route = %route.name,
                    header = %header,
                    scheme = config.scheme.name(),
                    "ROUTES: this route reads a header not covered by the signature; a replayed signed body can be sent down it, or away from it, by changing that header"
                );
            }
        }
        let sdk = load_sdk_config(CallLimits::within(config.response_budget)).await;
        let source = SsmParameter {
            secrets: SsmSecrets::new(aws_sdk_ssm::Client::new(&sdk)),
            parameter: config.secret_parameter.clone(),
            scheme: config.scheme.clone(),
        };
        let outbox: Arc<dyn Outbox> = Arc::new(DynamoDbOutbox::new(
            dynamodb_without_retry_quota(&sdk),
            &config.outbox.table,
            &config.outbox.source,
            config.outbox.pending_shards,
        ));
        let queue = SqsQueue::new(sqs_without_retry_quota(&sdk), &config.outbox.queue_url);
        let queues = Queues::new(queue, &config.outbox.routes).ports();
        let store = config.outbox.large_bodies.as_ref().map(|settings| {
            S3BodyStore::new(s3_without_retry_quota(&sdk), settings.kms_key_id.clone())
        });
        // The secret read and the connections' warm-up do not depend on each other: together, the
        // cold start waits for the slowest call instead of their sum. The body compressor's setup
        // is CPU work, done while they wait on the network.
        let (secrets, (), ()) = tokio::join!(
            SecretCache::load(
                Box::new(source),
                refresh_policy(&config),
                ColdStartRetry::WITHIN_LAMBDA_INIT
            ),
            warm_up(outbox.as_ref(), &queues),
            async { shared::codec::warm_up() },
        );
        let (secrets, retries) = secrets?;
        let ingress = Self::with_ports(config, secrets, outbox, queues);
        ingress
            .metrics
            .emit_cold_start(&shared::config::ProcessEnv, now_millis());
        let mut cold_start = MetricSet::default();
        cold_start.add("ColdStartSecretRetries", f64::from(retries), Unit::Count);
        ingress.metrics.emit(&cold_start, now_millis());
        Ok(match store {
            Some(store) => ingress.with_body_store(store),
            None => ingress,
        })
    }

    pub fn config(&self) -> &IngressConfig {
        &self.config
    }

    /// [`admit`] with the cached secrets, re-read when old; when no secret matches, once more with
    /// freshly read ones if the refresh gap allows (a secret rotated since the last read).
    async fn admit_with_fresh_secrets(
        &self,
        request: &WebhookRequest<'_>,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> Admission {
        if request.method != Method::POST {
            // Answered before any secret is needed.
            return Admission::Answer(Outcome::MethodNotAllowed);
        }
        let limit = deadline
            .saturating_duration_since(Instant::now())
            .mul_f64(SECRET_READ_SHARE);
        let keys = self.secrets.current(limit).await;
        let admit_with = |keys: &SigningKeys, metrics: &mut MetricSet| {
            admit(&self.config, keys, request, now_millis(), metrics)
        };
        let admission = admit_with(&keys, metrics);
        if !matches!(
            admission,
            Admission::Answer(Outcome::Rejected(Rejection::NoMatch))
        ) {
            return admission;
        }
        let limit = deadline
            .saturating_duration_since(Instant::now())
            .mul_f64(SECRET_READ_SHARE);
        match self.secrets.after_failed_verification(limit).await {
            Some(fresh) => admit_with(&fresh, metrics),
            None => admission,
        }
    }

    /// Handles one request end to end and prints its EMF line.
    pub async fn handle(&self, request: WebhookRequest<'_>) -> Handled {
        self.handle_before(request, None).await
    }

    /// [`Ingress::handle`] for an invocation that ends at `invocation_deadline` (the Lambda
    /// context's): the request is bounded by the earlier of that and `RESPONSE_BUDGET_MS`.
    pub async fn handle_before(
        &self,
        request: WebhookRequest<'_>,
        invocation_deadline: Option<Instant>,
    ) -> Handled {
        let started = Instant::now();
        let deadline = request_deadline(started, self.config.response_budget, invocation_deadline);
        let mut metrics = MetricSet::default();
        metrics.count("Received");
        let body_bytes = match &request.body {
            ReceivedBody::Complete(body) => body.len(),
            ReceivedBody::TooLarge => 0,
        };
        let admission = self
            .admit_with_fresh_secrets(&request, deadline, &mut metrics)
            .await;
        let mut answer_body = Bytes::new();
        let mut content_type = "text/plain";
        let mut key_index = None;
        let (outcome, event) = match admission {
            Admission::Answer(outcome) => (outcome, None),
            Admission::Challenge {
                challenge,
                content_type: answer_type,
                verified,
            } => {
                key_index = Some(verified.key_index);
                answer_body = Bytes::from(challenge);
                content_type = answer_type;
                (Outcome::UrlVerification, None)
            }
            Admission::Record {
                event,
                verified,
                token,
            } => {
                key_index = Some(verified.key_index);
                match self
                    .spend(token.as_ref(), &event, deadline, &mut metrics)
                    .await
                {
                    Some(refused) => (refused, None),
                    None => {
                        let (outcome, recorded) =
                            self.record_and_send(*event, deadline, &mut metrics).await;
                        (outcome, Some(recorded))
                    }
                }
            }
        };
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
            key_index,
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
            key_index,
            body: answer_body,
            content_type,
        }
    }

    /// Spends the request's single-use token, if it has one; `None` when the request may go on
    /// (the token's first use, or a retry with the same body, which then meets its own row as a
    /// duplicate), else the outcome to answer with: 404 for a token spent by another body, 500
    /// when the spend could not be recorded (nothing is recorded or sent unchecked; the provider
    /// retries).
    async fn spend(
        &self,
        token: Option<&SingleUse>,
        event: &AcceptedEvent,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> Option<Outcome> {
        let token = token?;
        let spent = within(
            deadline,
            0.3,
            self.outbox
                .spend_token(&token.key, &event.body_sha256, token.expires_at),
        )
        .await;
        match spent {
            Ok(TokenSpend::Spent | TokenSpend::SameBody) => None,
            Ok(TokenSpend::OtherBody) => {
                metrics.count("TokenReused");
                warn!(event_id = %event.event_id, body_sha256 = %event.body_sha256, "a signed token spent already came back with another body: refused, nothing recorded");
                Some(Outcome::Rejected(Rejection::TokenReused))
            }
            Err(error) => {
                metrics.count("TokenSpendFailed");
                warn!(error, "recording the signed token spent failed; answering 500 so the provider retries");
                Some(Outcome::Failed)
            }
        }
    }

    /// Record, send and mark sent, with their failure rules (README, HTTP answers), after storing
    /// a body the row cannot hold in S3 (the claim check): [`shared::delivery`] with the ingress's
    /// rules, each step within its share of the response budget. Also the event as recorded (a
    /// second body under an id is recorded under a key of its own).
    async fn record_and_send(
        &self,
        event: AcceptedEvent,
        deadline: Instant,
        metrics: &mut MetricSet,
    ) -> (Outcome, AcceptedEvent) {
        let deliverer = Deliverer {
            outbox: self.outbox.as_ref(),
            queues: &self.queues,
            claim_check: self.claim_check.as_ref(),
            delivered_by: DeliveredBy::Ingress,
            retention: self.config.outbox.retention,
            rules: Rules::INGRESS,
            now: now_millis,
        };
        let (delivered, event) = deliverer
            .record_and_send(event, &ResponseBudget { deadline }, metrics)
            .await;
        (outcome_of(delivered), event)
    }
}

/// The answer a delivery leads to.
fn outcome_of(delivered: Delivered) -> Outcome {
    match delivered {
        Delivered::Accepted(delivery) => Outcome::Accepted(delivery),
        Delivered::Duplicate(duplicate) => Outcome::Duplicate(duplicate),
        Delivered::IdConflict(conflicted) => Outcome::IdConflict(conflicted),
        // Unreachable through the configuration (MAX_BODY_BYTES above what a row holds needs
        // LARGE_BODY_BUCKET); an ingress built without its store refuses as one without a bucket.
        Delivered::TooLarge => Outcome::TooLarge,
        // `Rules::INGRESS` keeps another body beside the first, so this is not reached; were it,
        // 500 lets the provider retry.
        Delivered::OtherBody(_) | Delivered::Failed(_) => Outcome::Failed,
    }
}

/// The share of the time left before the request's deadline each delivery step may take: the
/// row's write leaves time for a send, the send for marking the row sent; a step with nothing
/// after it that matters to the answer may take all of it.
pub fn step_share(step: Step) -> f64 {
    match step {
        Step::StoreBody => 0.35,
        Step::Insert => 0.4,
        Step::Send => 0.7,
        Step::SendWithoutRow | Step::MarkSent | Step::RetagBody => 1.0,
    }
}

/// The delivery's steps bounded by the request's deadline ([`step_share`]).
struct ResponseBudget {
    deadline: Instant,
}

impl StepBound for ResponseBudget {
    fn limit(&self, step: Step) -> Option<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        Some(left.mul_f64(step_share(step)))
    }

    fn timed_out(&self) -> &'static str {
        TIMED_OUT
    }
}

/// What the log says of a step that ran out of the response budget.
const TIMED_OUT: &str = "timed out within the response budget";

/// What the checks that need no AWS call decided about a request.
#[derive(Debug)]
pub enum Admission {
    /// Answer now with this outcome; nothing is written.
    Answer(Outcome),
    /// A verified handshake (Slack's `url_verification`, Twitch's `webhook_callback_verification`):
    /// answer 200 with the challenge, record nothing.
    Challenge {
        challenge: String,
        content_type: &'static str,
        verified: Verified,
    },
    /// Authentic: record and send this event (after spending `token`, when there is one).
    Record {
        event: Box<AcceptedEvent>,
        verified: Verified,
        token: Option<SingleUse>,
    },
}

/// A signed single-use token the request carries (Mailgun's, whose signature does not cover the
/// event): spent once, before anything is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleUse {
    /// The item that records it spent.
    pub key: String,
    /// When that item may expire (Unix seconds): when the signed time leaves the window, after
    /// which no request carrying the token verifies.
    pub expires_at: i64,
}

/// The request path up to the first AWS call: method, size, signature, event id and type. A plain
/// function of its inputs (the time is given), so unit tests, property tests and the fuzz target
/// drive it without AWS.
pub fn admit(
    config: &IngressConfig,
    keys: &SigningKeys,
    request: &WebhookRequest<'_>,
    now: EpochMillis,
    metrics: &mut MetricSet,
) -> Admission {
    let (method, headers) = (request.method, request.headers);
    if method != Method::POST {
        return Admission::Answer(Outcome::MethodNotAllowed);
    }
    let ReceivedBody::Complete(body) = request.body.clone() else {
        return Admission::Answer(Outcome::TooLarge);
    };
    if body.len() > config.max_body_bytes {
        return Admission::Answer(Outcome::TooLarge);
    }
    // The URL the provider signed is the one it was given, `PUBLIC_URL`, exactly: never the
    // `Host` header or this request's path and query, which whoever sends it chooses.
    let request = SignedRequest {
        method: method.as_str(),
        url: config.public_url.as_deref().unwrap_or_default(),
        headers,
        body: &body,
    };
    let verified =
        config
            .scheme
            .verify_request(&request, keys, now / 1000, config.timestamp_tolerance_secs);
    let verified = match verified {
        Ok(verified) => verified,
        Err(rejection) => {
            info!(reason = %rejection, "signature rejected");
            return Admission::Answer(Outcome::Rejected(rejection));
        }
    };
    if let Some(handshake) = config.scheme.handshake(headers, &body) {
        return Admission::Challenge {
            challenge: handshake.body,
            content_type: handshake.content_type,
            verified,
        };
    }
    let json = LazyJson::default();
    let rule = &config.event_id;
    let id = event_id(&config.scheme, rule, headers, &body, &json);
    if let Some(unusable) = &id.unusable {
        // Authentic, so it is kept under the body's hash; refusing it would lose it for good.
        metrics.count("UnusableEventId");
        warn!(
            reason = %unusable.reason,
            id_bytes = unusable.len,
            id_start = %unusable.escaped_prefix,
            event_id = %id.value,
            "the provider's event id cannot be a key; the body's SHA-256 is the event id instead"
        );
    }
    let kind = event_type(&config.scheme, rule, headers, &body, &json);
    let outbox = &config.outbox;
    let destination =
        outbox
            .routes
            .destination(headers, &body, &json, &outbox.source, &outbox.queue_url);
    let token = match &config.scheme {
        scheme if *scheme == SignatureScheme::Mailgun => {
            let Some((token, signed_at)) = mailgun_signed_token(&body) else {
                // Verified above, so unreachable: refused rather than recorded unspent.
                return Admission::Answer(Outcome::Rejected(Rejection::Malformed(
                    "body signature",
                )));
            };
            let window = i64::try_from(config.timestamp_tolerance_secs).unwrap_or(i64::MAX);
            Some(SingleUse {
                key: token_key(&outbox.source, "mailgun", &token),
                expires_at: signed_at.saturating_add(window),
            })
        }
        _ => None,
    };
    Admission::Record {
        event: Box::new(
            AcceptedEvent::new(&outbox.source, id.value, kind, body, now).routed_to(destination),
        ),
        verified,
        token,
    }
}

/// When a request's AWS steps must be done: `budget` after it started or, sooner, the end of its
/// Lambda invocation, each less the time the answer itself needs.
pub fn request_deadline(
    started: Instant,
    budget: Duration,
    invocation_deadline: Option<Instant>,
) -> Instant {
    let by_budget = started + budget.saturating_sub(ANSWER_MARGIN);
    match invocation_deadline {
        Some(end) => by_budget.min(end.checked_sub(ANSWER_MARGIN).unwrap_or(end)),
        None => by_budget,
    }
}

/// `RESPONSE_BUDGET_MS` is longer than the function's timeout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "RESPONSE_BUDGET_MS ({budget_ms} ms) is longer than the function's timeout ({timeout_secs} s, \
     read from the first invocation's deadline): set it below the timeout, or raise the timeout"
)]
pub struct BudgetExceedsTimeout {
    pub budget_ms: u128,
    pub timeout_secs: u64,
}

/// Checks the response budget against the function's timeout, which the Lambda runtime exposes
/// only as the first invocation's time left (no environment variable holds it): timeouts are
/// whole seconds and the invocation starts with all of it, so the timeout is that time rounded up.
pub fn check_budget_against_timeout(
    budget: Duration,
    first_time_left: Duration,
) -> Result<(), BudgetExceedsTimeout> {
    let timeout_secs = first_time_left.as_millis().div_ceil(1000);
    if budget.as_millis() > timeout_secs * 1000 {
        return Err(BudgetExceedsTimeout {
            budget_ms: budget.as_millis(),
            timeout_secs: u64::try_from(timeout_secs).unwrap_or(u64::MAX),
        });
    }
    Ok(())
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
        Err(_) => Err(TIMED_OUT.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_header_value_and_no_body() {
        let secret = "glpat-very-secret-token";
        let mut headers = HeaderMap::new();
        headers.insert("x-gitlab-token", secret.parse().unwrap());
        headers.insert("authorization", format!("Bearer {secret}").parse().unwrap());
        let body = Bytes::from_static(br#"{"object_kind":"push","card":"4111111111111111"}"#);
        let request = WebhookRequest {
            method: &Method::POST,
            target: "/hook",
            headers: &headers,
            body: ReceivedBody::Complete(body.clone()),
            request_id: "r-1",
        };
        let env = [
            ("SOURCE_NAME", "gl"),
            ("OUTBOX_TABLE", "t"),
            ("QUEUE_URL", "https://sqs.example/q"),
            ("SECRET_PARAMETER", "/p"),
            ("SIGNATURE_SCHEME", "gitlab"),
        ];
        let config = IngressConfig::from_env(&std::collections::HashMap::from(env)).unwrap();
        let keys = config.scheme.parse_keys(secret).unwrap();
        let admission = admit(
            &config,
            &keys,
            &request,
            1_700_000_000_000,
            &mut MetricSet::default(),
        );
        assert!(
            matches!(admission, Admission::Record { .. }),
            "{admission:?}"
        );
        for shown in [
            format!("{request:?}"),
            format!("{admission:?}"),
            format!("{:#?}", request.body),
        ] {
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(!shown.contains("4111"), "{shown}");
        }
        let shown = format!("{request:?}");
        assert!(shown.contains("x-gitlab-token"), "{shown}");
        assert!(
            shown.contains(&format!("<{} bytes>", body.len())),
            "{shown}"
        );
    }

    #[test]
    fn every_outcome_maps_to_the_designed_status() {
        let cases = [
            (Outcome::MethodNotAllowed, 405),
            (Outcome::TooLarge, 413),
            (Outcome::Rejected(Rejection::NoMatch), 404),
            (Outcome::Rejected(Rejection::StaleTimestamp), 404),
            (Outcome::UrlVerification, 200),
            (Outcome::Accepted(Delivery::Enqueued), 200),
            (Outcome::Accepted(Delivery::Deferred), 200),
            (Outcome::Accepted(Delivery::EnqueuedWithoutOutbox), 200),
            (Outcome::Accepted(Delivery::EnqueuedMarkSentFailed), 200),
            (Outcome::Duplicate(DuplicateOf::Sent), 200),
            (
                Outcome::Duplicate(DuplicateOf::Pending(Delivery::Deferred)),
                200,
            ),
            (
                Outcome::IdConflict(Conflicted::Accepted(Delivery::Enqueued)),
                200,
            ),
            (Outcome::Failed, 500),
        ];
        for (outcome, status) in cases {
            assert_eq!(status_for(outcome).as_u16(), status, "{outcome:?}");
        }
    }

    #[test]
    fn each_delivery_step_leaves_time_for_the_steps_that_decide_the_answer() {
        // The row's write leaves time for a send, a send for the mark; the object's write for
        // the row and the send; a last step may take what is left.
        assert!(step_share(Step::StoreBody) < step_share(Step::Insert));
        assert!(step_share(Step::Insert) < step_share(Step::Send));
        assert!(step_share(Step::Send) < step_share(Step::MarkSent));
        for step in [Step::SendWithoutRow, Step::MarkSent, Step::RetagBody] {
            assert_eq!(step_share(step), 1.0, "{step:?}");
        }
        let budget = ResponseBudget {
            deadline: Instant::now() + Duration::from_secs(10),
        };
        let insert = budget.limit(Step::Insert).unwrap();
        assert!(insert <= Duration::from_secs(4), "{insert:?}");
        let spent = ResponseBudget {
            deadline: Instant::now(),
        };
        assert_eq!(spent.limit(Step::MarkSent), Some(Duration::ZERO));
        // The ingress's rules never take another body as present; were it reported, 500.
        assert_eq!(
            outcome_of(Delivered::Failed("x".to_owned())),
            Outcome::Failed
        );
        assert_eq!(outcome_of(Delivered::TooLarge), Outcome::TooLarge);
    }

    #[test]
    fn the_earlier_of_budget_and_invocation_deadline_bounds_a_request() {
        let started = Instant::now();
        let budget = Duration::from_secs(60);
        let by_budget = started + budget - ANSWER_MARGIN;
        assert_eq!(request_deadline(started, budget, None), by_budget);
        let invocation_end = started + Duration::from_secs(10);
        assert_eq!(
            request_deadline(started, budget, Some(invocation_end)),
            invocation_end - ANSWER_MARGIN
        );
        let late_end = started + Duration::from_secs(90);
        assert_eq!(request_deadline(started, budget, Some(late_end)), by_budget);
    }

    #[test]
    fn a_budget_is_checked_against_the_timeout_the_first_invocation_shows() {
        let left = |ms| Duration::from_millis(ms);
        // A 10 s timeout shows as a little under 10 s left.
        assert_eq!(
            check_budget_against_timeout(left(60_000), left(9_990)),
            Err(BudgetExceedsTimeout {
                budget_ms: 60_000,
                timeout_secs: 10
            })
        );
        assert_eq!(
            check_budget_against_timeout(left(10_000), left(9_990)),
            Ok(())
        );
        assert_eq!(
            check_budget_against_timeout(left(3_000), left(9_990)),
            Ok(())
        );
        assert!(check_budget_against_timeout(left(10_001), left(10_000)).is_err());
        assert!(check_budget_against_timeout(left(3_000), left(2_000)).is_err());
    }

    #[test]
    fn env_vars_list_is_exactly_what_the_config_reads() {
        // The generic scheme, so the scheme-specific variables are asked for too.
        let values = [
            ("SIGNATURE_SCHEME", "hmac-sha256"),
            ("QUEUE_URL", "https://sqs.example/q"),
            (
                "ROUTES",
                r#"[{"name":"r","pointer":"/t","equals":"x","queue_url":"https://sqs.example/r"}]"#,
            ),
            ("SIGNATURE_HEADER", "x-header"),
            ("EVENT_ID_HEADER", "x-header"),
            ("SIGNATURE_ENCODING", "hex"),
            ("SIGNATURE_SPEC", ""),
            ("EVENT_ID_POINTER", "/id"),
            ("EVENT_TYPE_POINTER", "/type"),
            ("RESPONSE_BUDGET_MS", "3000"),
            ("MAX_BODY_BYTES", "3000"),
            ("TIMESTAMP_TOLERANCE_SECS", "300"),
            ("SECRET_REFRESH_SECS", "300"),
            ("PENDING_SHARDS", "8"),
            ("RETENTION_DAYS", "8"),
            ("LARGE_BODY_BUCKET", "webhook-bodies"),
            ("LARGE_BODY_PREFIX", "large/"),
            ("LARGE_BODY_KMS_KEY", "alias/webhook"),
            ("PUBLIC_URL", "https://hooks.example.com"),
        ];
        let asked = e2e::testing::variables_read(&values, IngressConfig::from_env);
        let listed: std::collections::BTreeSet<String> =
            ENV_VARS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(asked, listed);
    }
}
