//! The webhook provider: distinct signed events (mostly JSON; some binary, non-UTF-8 or
//! control-character bodies that must travel base64; some large), each POSTed until it gets a 2xx
//! or the provider gives up, like a real provider with a bounded retry schedule. A few events are
//! delivered twice on purpose. Every answer is recorded per event, so the harness knows exactly
//! which events the ingress promised to deliver.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use shared::event::sha256_hex;
use shared::signature::{SignatureScheme, SigningKey};
use shared::time::now_millis;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::rng::XorShift64;
use crate::stack::WEBHOOK_SECRET;

/// What a body looks like, so the report can say which shapes were exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BodyKind {
    /// Ordinary JSON with non-ASCII text.
    Json,
    /// JSON of 8 to 48 KiB.
    LargeJson,
    /// Random bytes that are not UTF-8 (base64 on the queue).
    Binary,
    /// UTF-8 text with characters SQS refuses (NUL, BEL; base64 on the queue).
    ControlText,
    /// Random bytes of 100 to 190 KiB: base64 on the queue, near the 256 KiB body limit, so the
    /// sweeper's batches must split by size, not only by count.
    Huge,
    /// JSON or random bytes of 400 KiB to 1.2 MiB: over what an outbox row holds, so the body
    /// goes to S3 and the queue gets an Extended Client pointer.
    ClaimCheck,
}

impl BodyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::LargeJson => "large json",
            Self::Binary => "binary (not UTF-8)",
            Self::ControlText => "text with control chars",
            Self::Huge => "huge binary",
            Self::ClaimCheck => "in S3 (over the row limit)",
        }
    }
}

/// One event as the provider holds it: the same id and bytes on every retry.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub event_id: String,
    pub body: Bytes,
    pub content_type: &'static str,
    pub kind: BodyKind,
    pub sha256: String,
}

/// `count` distinct events; ids carry `tag` so runs never share them. About
/// `claim_check_percent` in a hundred are over what an outbox row holds (half binary, half JSON).
pub fn generate(count: usize, seed: u64, tag: &str, claim_check_percent: u64) -> Vec<Webhook> {
    let mut rng = XorShift64::derive(seed, "bodies");
    let mut large = XorShift64::derive(seed, "claim-check");
    (0..count)
        .map(|index| {
            let event_id = format!("evt_{tag}_{index:06}");
            let roll = rng.below(100);
            let (kind, content_type, body) = if large.below(100) < claim_check_percent {
                let len = rng_len(&mut large, 400 * 1024, 1200 * 1024);
                if large.below(2) == 0 {
                    let body = binary_body(&mut large, len);
                    (BodyKind::ClaimCheck, "application/octet-stream", body)
                } else {
                    let body = json_body(&mut large, &event_id, index, len);
                    (BodyKind::ClaimCheck, "application/json", body)
                }
            } else {
                match roll {
                    0 => {
                        let len = rng_len(&mut rng, 100 * 1024, 190 * 1024);
                        (
                            BodyKind::Huge,
                            "application/octet-stream",
                            binary_body(&mut rng, len),
                        )
                    }
                    1..=7 => {
                        let len = rng_len(&mut rng, 1, 2048);
                        (
                            BodyKind::Binary,
                            "application/octet-stream",
                            binary_body(&mut rng, len),
                        )
                    }
                    8..=12 => (
                        BodyKind::ControlText,
                        "text/plain; charset=utf-8",
                        control_text_body(&mut rng, index),
                    ),
                    13..=17 => {
                        let padding = rng_len(&mut rng, 8 * 1024, 48 * 1024);
                        (
                            BodyKind::LargeJson,
                            "application/json",
                            json_body(&mut rng, &event_id, index, padding),
                        )
                    }
                    _ => {
                        let padding = rng_len(&mut rng, 0, 400);
                        (
                            BodyKind::Json,
                            "application/json",
                            json_body(&mut rng, &event_id, index, padding),
                        )
                    }
                }
            };
            Webhook {
                sha256: sha256_hex(&body),
                body: Bytes::from(body),
                event_id,
                content_type,
                kind,
            }
        })
        .collect()
}

fn rng_len(rng: &mut XorShift64, low: usize, high: usize) -> usize {
    usize::try_from(rng.between(low as u64, high as u64)).unwrap_or(low)
}

fn json_body(rng: &mut XorShift64, event_id: &str, index: usize, padding: usize) -> Vec<u8> {
    const STATUSES: [&str; 4] = ["approved", "rejected", "pending_review", "suspended"];
    let status = STATUSES[usize::try_from(rng.below(4)).unwrap_or(0)];
    let filler: String = (0..padding)
        .map(|_| char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0)))
        .collect();
    // Raw UTF-8 and JSON escapes both: the queue must carry exactly these bytes.
    format!(
        "{{\"id\":\"{event_id}\",\"type\":\"product.review_status_changed\",\
         \"data\":{{\"product_id\":\"p-{index}\",\"status\":\"{status}\",\
         \"note\":\"café ☃ 😀 \\u00e9\\n\\t{:016x}\",\"padding\":\"{filler}\"}}}}\r\n",
        rng.next_u64()
    )
    .into_bytes()
}

fn binary_body(rng: &mut XorShift64, len: usize) -> Vec<u8> {
    let mut body = vec![0u8; len.max(1)];
    rng.fill(&mut body);
    // 0xFF never occurs in UTF-8, so the body is certainly not text.
    body[0] = 0xFF;
    body
}

fn control_text_body(rng: &mut XorShift64, index: usize) -> Vec<u8> {
    format!(
        "event {index}\u{0}with NUL\u{7} and BEL, {:x}\u{FFFF}",
        rng.next_u64()
    )
    .into_bytes()
}

/// What one HTTP attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// No answer within the provider's timeout.
    Timeout,
    /// Refused, reset or closed without an answer.
    ConnectionError,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Status(200..=299))
    }

    /// Worth another attempt: no 2xx and not a 4xx the provider would take as final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status(status) => *status >= 500,
            Self::Timeout | Self::ConnectionError => true,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Status(status) => status.to_string(),
            Self::Timeout => "timeout".to_owned(),
            Self::ConnectionError => "connection error".to_owned(),
        }
    }
}

/// How the provider behaves.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub concurrency: usize,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Per-attempt limit (many providers give up after 5 s).
    pub timeout: Duration,
    /// First retry delay; doubled per retry up to `max_backoff`, with jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Share of events delivered a second time after (or while) the first delivery runs.
    pub duplicate_rate: f64,
    pub seed: u64,
}

/// Everything recorded about one event.
#[derive(Debug, Clone, Default)]
pub struct EventRecord {
    /// Every answer, over all its deliveries, in order.
    pub answers: Vec<Answer>,
    /// How long each answer with a status took, in milliseconds.
    pub answer_ms: Vec<u64>,
    /// Deliveries started (2 for a deliberate duplicate).
    pub deliveries: u32,
    /// Some attempt got a 2xx: the ingress promised to deliver it.
    pub accepted: bool,
    /// Some delivery gave up without a 2xx.
    pub gave_up: bool,
}

/// Live counters the killer and the progress line read while the provider runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub deliveries_total: AtomicUsize,
    pub deliveries_done: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub requests: AtomicUsize,
    pub accepted: AtomicUsize,
}

/// The provider's results.
#[derive(Debug, Clone)]
pub struct ProviderResult {
    pub records: Vec<EventRecord>,
    pub requests: u64,
    pub deliveries: u64,
    pub answers: BTreeMap<String, u64>,
}

/// Runs every delivery of `webhooks` against `address` with `config.concurrency` workers.
pub struct Provider {
    workers: Vec<JoinHandle<()>>,
    records: Arc<Mutex<Vec<EventRecord>>>,
    pub progress: Arc<Progress>,
}

struct Job {
    index: usize,
}

struct Shared {
    address: SocketAddr,
    webhooks: Arc<Vec<Webhook>>,
    jobs: Vec<Job>,
    next: AtomicUsize,
    key: SigningKey,
    config: ProviderConfig,
    records: Arc<Mutex<Vec<EventRecord>>>,
    progress: Arc<Progress>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the webhook secret does not parse: {0}")]
    Secret(#[from] shared::signature::KeyError),
    #[error("the webhook secret holds no key")]
    NoKey,
    #[error("a provider worker panicked")]
    Worker(#[from] tokio::task::JoinError),
}

impl Provider {
    pub fn start(
        address: SocketAddr,
        webhooks: Arc<Vec<Webhook>>,
        config: ProviderConfig,
    ) -> Result<Self, ProviderError> {
        let keys = SignatureScheme::StandardWebhooks.parse_keys(WEBHOOK_SECRET)?;
        let key = keys.first().ok_or(ProviderError::NoKey)?.clone();
        let jobs = schedule(webhooks.len(), config.duplicate_rate, config.seed);
        let progress = Arc::new(Progress::default());
        progress
            .deliveries_total
            .store(jobs.len(), Ordering::Relaxed);
        let records = Arc::new(Mutex::new(vec![EventRecord::default(); webhooks.len()]));
        let shared = Arc::new(Shared {
            address,
            webhooks,
            jobs,
            next: AtomicUsize::new(0),
            key,
            records: Arc::clone(&records),
            progress: Arc::clone(&progress),
            config,
        });
        let workers = (0..shared.config.concurrency.max(1))
            .map(|worker| tokio::spawn(work(Arc::clone(&shared), worker)))
            .collect();
        Ok(Self {
            workers,
            records,
            progress,
        })
    }

    /// Waits for every delivery to finish (each is bounded by its attempts and timeouts).
    pub async fn finish(self) -> Result<ProviderResult, ProviderError> {
        for worker in self.workers {
            worker.await?;
        }
        let records = lock(&self.records).clone();
        let mut answers = BTreeMap::new();
        for answer in records.iter().flat_map(|record| &record.answers) {
            *answers.entry(answer.label()).or_default() += 1;
        }
        Ok(ProviderResult {
            requests: records.iter().map(|r| r.answers.len() as u64).sum(),
            deliveries: records.iter().map(|r| u64::from(r.deliveries)).sum(),
            records,
            answers,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every event once, in order, plus a second delivery of `duplicate_rate` of them at a random
/// later place (sometimes close enough to run concurrently with the first).
fn schedule(count: usize, duplicate_rate: f64, seed: u64) -> Vec<Job> {
    let mut rng = XorShift64::derive(seed, "schedule");
    let mut jobs: Vec<Job> = (0..count).map(|index| Job { index }).collect();
    for index in 0..count {
        if rng.chance(duplicate_rate) {
            let position = jobs.iter().position(|job| job.index == index).unwrap_or(0);
            let spread = u64::try_from(jobs.len() - position).unwrap_or(1).min(64);
            let at = position + 1 + usize::try_from(rng.below(spread)).unwrap_or(0);
            jobs.insert(at.min(jobs.len()), Job { index });
        }
    }
    jobs
}

async fn work(shared: Arc<Shared>, worker: usize) {
    let mut rng = XorShift64::derive(shared.config.seed, &format!("provider-{worker}"));
    // Bounded by the job list: each iteration takes one job or stops.
    loop {
        let next = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = shared.jobs.get(next) else {
            return;
        };
        let Some(webhook) = shared.webhooks.get(job.index) else {
            continue;
        };
        lock(&shared.records)[job.index].deliveries += 1;
        let mut accepted = false;
        for attempt in 0..shared.config.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(&shared.config, attempt, &mut rng)).await;
            }
            shared.progress.in_flight.fetch_add(1, Ordering::SeqCst);
            shared.progress.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            let answer = post(&shared, webhook).await;
            let took = u64::try_from(sent_at.elapsed().as_millis()).unwrap_or(u64::MAX);
            shared.progress.in_flight.fetch_sub(1, Ordering::SeqCst);
            let (success, retry) = (answer.is_success(), answer.is_retryable());
            {
                let mut records = lock(&shared.records);
                let record = &mut records[job.index];
                if matches!(answer, Answer::Status(_)) {
                    record.answer_ms.push(took);
                }
                record.answers.push(answer);
            }
            if success {
                accepted = true;
                break;
            }
            if !retry {
                break;
            }
        }
        {
            let mut records = lock(&shared.records);
            let record = &mut records[job.index];
            if accepted {
                if !record.accepted {
                    shared.progress.accepted.fetch_add(1, Ordering::Relaxed);
                }
                record.accepted = true;
            } else {
                record.gave_up = true;
            }
        }
        shared
            .progress
            .deliveries_done
            .fetch_add(1, Ordering::SeqCst);
    }
}

fn backoff(config: &ProviderConfig, attempt: u32, rng: &mut XorShift64) -> Duration {
    let doubled = config
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = doubled.min(config.max_backoff);
    // Jitter between half and all of the delay, as providers spread their retries.
    capped.mul_f64(0.5 + rng.next_f64() * 0.5)
}

/// Aborts the connection task when an attempt ends, however it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One POST on a fresh connection, signed now (the timestamp changes per attempt, the id and
/// bytes never do).
async fn post(shared: &Shared, webhook: &Webhook) -> Answer {
    let exchange = async {
        let stream = TcpStream::connect(shared.address).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let mut request = Request::post("/webhook")
            .header(header::HOST, shared.address.to_string())
            .header(header::CONTENT_TYPE, webhook.content_type)
            .header(header::USER_AGENT, "e2e-provider/1");
        let signed = SignatureScheme::StandardWebhooks.sign(
            &shared.key,
            &webhook.event_id,
            now_millis() / 1000,
            &webhook.body,
        );
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(webhook.body.clone())).ok()?;
        let response = sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        // An answer only counts once it arrived whole.
        response.into_body().collect().await.ok()?;
        Some(status)
    };
    match tokio::time::timeout(shared.config.timeout, exchange).await {
        Ok(Some(status)) => Answer::Status(status),
        Ok(None) => Answer::ConnectionError,
        Err(_) => Answer::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_distinct_deterministic_and_of_every_kind() {
        let first = generate(400, 9, "t", 3);
        let again = generate(400, 9, "t", 3);
        assert!(first
            .iter()
            .zip(&again)
            .all(|(a, b)| a.body == b.body && a.event_id == b.event_id));
        let hashes: std::collections::HashSet<&str> =
            first.iter().map(|w| w.sha256.as_str()).collect();
        assert_eq!(hashes.len(), 400);
        for kind in [
            BodyKind::Json,
            BodyKind::LargeJson,
            BodyKind::Binary,
            BodyKind::ControlText,
            BodyKind::Huge,
            BodyKind::ClaimCheck,
        ] {
            assert!(first.iter().any(|w| w.kind == kind), "{kind:?}");
        }
        for webhook in first
            .iter()
            .filter(|w| matches!(w.kind, BodyKind::Binary | BodyKind::Huge))
        {
            assert!(std::str::from_utf8(&webhook.body).is_err());
        }
        for webhook in first.iter().filter(|w| w.kind == BodyKind::ControlText) {
            assert!(shared::message::sqs_safe_text(&webhook.body).is_none());
        }
    }

    #[test]
    fn schedule_keeps_every_event_and_adds_later_duplicates() {
        let jobs = schedule(1000, 0.05, 3);
        let mut seen = vec![0u32; 1000];
        let mut first_position = vec![usize::MAX; 1000];
        for (position, job) in jobs.iter().enumerate() {
            seen[job.index] += 1;
            first_position[job.index] = first_position[job.index].min(position);
        }
        assert!(seen.iter().all(|n| (1..=2).contains(n)));
        let duplicates = seen.iter().filter(|n| **n == 2).count();
        assert!((20..=90).contains(&duplicates), "{duplicates}");
        assert_eq!(jobs.len(), 1000 + duplicates);
    }

    #[test]
    fn answers_are_classified_like_a_provider_does() {
        assert!(Answer::Status(200).is_success());
        assert!(Answer::Status(500).is_retryable());
        assert!(!Answer::Status(404).is_retryable());
        assert!(Answer::Timeout.is_retryable());
        assert!(Answer::ConnectionError.is_retryable());
    }
}
