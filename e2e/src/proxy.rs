//! An HTTP/1.1 fault proxy between a binary under test and moto.
//!
//! The ingress and the sweeper promise that a webhook answered 2xx reaches the queue whatever AWS
//! does. moto never fails, so the proxy makes AWS fail the ways it really does: 500s, throttling,
//! calls that never answer, dropped connections, and the nastiest one, a write that happened but
//! was reported as failed. The binaries are pointed at it with `AWS_ENDPOINT_URL`, so it sees
//! every AWS call they make (SSM included, never faulted).
//!
//! Every request is identified by its `X-Amz-Target` header (both DynamoDB and the SQS JSON
//! protocol the Rust SDK uses carry one), or for S3 (a REST API without one) by its signing
//! scope, method and headers, and named IAM-style, `dynamodb:PutItem`, `sqs:SendMessage`,
//! `s3:PutObject`, `s3:CopyObject`. Per operation, [`FaultRules`] give each [`Fault`] a rate; one seeded
//! generator draws the decisions. The proxy counts every operation it sees and every fault it
//! injects, so a test can assert both what a binary called and that the faults really happened.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::rng::XorShift64;

/// One way an AWS call can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// 500 with the service's JSON internal-error body; nothing reaches moto.
    Error500,
    /// 400 with the service's throttling error code (the SDK retries it with backoff).
    Throttle,
    /// The request is read but never answered, so the client's attempt timeout fires; the
    /// connection is dropped after [`ProxyConfig::hang_for`].
    Hang,
    /// The connection is reset (RST) without an answer; nothing reaches moto.
    Reset,
    /// The request is forwarded, so the write happens, but the client gets a 500.
    FailAfterWrite,
    /// A SendMessageBatch answered 200 with every entry failed, as SQS reports messages it
    /// refuses one by one (a sender fault per entry); nothing reaches moto. Not in [`Fault::ALL`]:
    /// only a rule naming `sqs:SendMessageBatch` asks for it.
    RejectEntries,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::Error500,
        Fault::Throttle,
        Fault::Hang,
        Fault::Reset,
        Fault::FailAfterWrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Error500 => "error-500",
            Self::Throttle => "throttle",
            Self::Hang => "hang",
            Self::Reset => "reset",
            Self::FailAfterWrite => "fail-after-write",
            Self::RejectEntries => "reject-entries",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The AWS service a request is for, from its `X-Amz-Target` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Sqs,
    S3,
    Other,
}

/// An AWS operation, named like its IAM action (`dynamodb:PutItem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub service: Service,
    /// `dynamodb:PutItem`, `sqs:SendMessage`, `<prefix>:<name>` for another target, or
    /// `unknown` when the request has no `X-Amz-Target`.
    pub name: String,
}

impl Operation {
    pub fn from_headers(method: &http::Method, headers: &HeaderMap) -> Self {
        let target = headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok());
        let signed_for_s3 = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|auth| auth.contains("/s3/aws4_request"));
        if target.is_none() && signed_for_s3 {
            return Self::s3(method, headers.contains_key("x-amz-copy-source"));
        }
        Self::from_target(target)
    }

    /// An S3 object call: `s3:PutObject`, `s3:CopyObject` (a PUT naming a copy source),
    /// `s3:GetObject`, or `s3:<METHOD>` for anything else.
    pub fn s3(method: &http::Method, copy: bool) -> Self {
        let name = match (method.as_str(), copy) {
            ("PUT", true) => "s3:CopyObject".to_owned(),
            ("PUT", false) => "s3:PutObject".to_owned(),
            ("GET", _) => "s3:GetObject".to_owned(),
            (other, _) => format!("s3:{other}"),
        };
        Self {
            service: Service::S3,
            name,
        }
    }

    /// `DynamoDB_20120810.PutItem` -> `dynamodb:PutItem`; `AmazonSQS.SendMessage` ->
    /// `sqs:SendMessage`.
    pub fn from_target(target: Option<&str>) -> Self {
        let Some((prefix, action)) = target.and_then(|t| t.rsplit_once('.')) else {
            return Self {
                service: Service::Other,
                name: "unknown".to_owned(),
            };
        };
        let (service, label) = if prefix.starts_with("DynamoDB_") {
            (Service::DynamoDb, "dynamodb")
        } else if prefix == "AmazonSQS" {
            (Service::Sqs, "sqs")
        } else if prefix == "AmazonSSM" {
            (Service::Other, "ssm")
        } else {
            (Service::Other, prefix)
        };
        Self {
            service,
            name: format!("{label}:{action}"),
        }
    }
}

/// The rate of each fault, per operation. Operations without a rule are forwarded untouched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultRules {
    rules: BTreeMap<String, Vec<(Fault, f64)>>,
}

impl FaultRules {
    /// No faults: a transparent, counting proxy.
    pub fn none() -> Self {
        Self::default()
    }

    /// `operation` (`dynamodb:PutItem`) gets `fault` with probability `rate`, on top of its
    /// other rules.
    pub fn with(mut self, operation: &str, fault: Fault, rate: f64) -> Self {
        self.rules
            .entry(operation.to_owned())
            .or_default()
            .push((fault, rate));
        self
    }

    /// `operation` fails with probability `total_rate`, split evenly over `faults`.
    pub fn spread(mut self, operation: &str, total_rate: f64, faults: &[Fault]) -> Self {
        if faults.is_empty() || total_rate <= 0.0 {
            return self;
        }
        let each = total_rate / faults.len() as f64;
        for fault in faults {
            self = self.with(operation, *fault, each);
        }
        self
    }

    /// The probability that `operation` gets some fault.
    pub fn total_rate(&self, operation: &str) -> f64 {
        self.rules
            .get(operation)
            .map(|faults| faults.iter().map(|(_, rate)| rate).sum())
            .unwrap_or(0.0)
    }

    /// The operations that have rules.
    pub fn operations(&self) -> impl Iterator<Item = &str> {
        self.rules.keys().map(String::as_str)
    }

    fn validate(&self) -> Result<(), ProxyError> {
        for (operation, faults) in &self.rules {
            let total: f64 = faults.iter().map(|(_, rate)| rate).sum();
            let negative = faults
                .iter()
                .any(|(_, rate)| !rate.is_finite() || *rate < 0.0);
            if negative || total > 1.0 + 1e-9 {
                return Err(ProxyError::InvalidRates {
                    operation: operation.clone(),
                    total,
                });
            }
        }
        Ok(())
    }

    /// The fault for a call to `operation` given a uniform draw in `[0, 1)`.
    fn choose(&self, operation: &str, draw: f64) -> Option<Fault> {
        let mut edge = 0.0;
        for (fault, rate) in self.rules.get(operation)? {
            edge += rate;
            if draw < edge {
                return Some(*fault);
            }
        }
        None
    }
}

/// What the proxy has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests per operation, faulted or not.
    pub requests: BTreeMap<String, u64>,
    /// Faults injected, per operation and kind.
    pub faults: BTreeMap<String, BTreeMap<Fault, u64>>,
    /// TCP connections accepted.
    pub connections: u64,
    /// Forwards to moto that failed (answered 502): a problem of the test rig, not of the code
    /// under test, so reports show it separately.
    pub upstream_errors: u64,
}

impl ProxyStats {
    pub fn requests_for(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// Faults of `kind` over every operation.
    pub fn faults_of(&self, kind: Fault) -> u64 {
        self.faults
            .values()
            .map(|kinds| kinds.get(&kind).copied().unwrap_or(0))
            .sum()
    }

    /// Faults injected into calls to `operation`.
    pub fn faults_for(&self, operation: &str) -> u64 {
        self.faults
            .get(operation)
            .map(|kinds| kinds.values().sum())
            .unwrap_or(0)
    }

    pub fn total_faults(&self) -> u64 {
        self.faults.values().flat_map(|kinds| kinds.values()).sum()
    }
}

/// How a proxy is started.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where moto listens.
    pub upstream: SocketAddr,
    pub rules: FaultRules,
    pub seed: u64,
    /// How long a [`Fault::Hang`] holds the request before dropping the connection. Longer than
    /// any attempt timeout of the binaries under test.
    pub hang_for: Duration,
    /// Limit on one forward to moto (request and whole response).
    pub upstream_timeout: Duration,
    /// Fixed time added before forwarding each call, to see how a client scales with AWS's
    /// latency (the sweeper's drain-rate benchmark); zero in the fault runs.
    pub added_latency: Duration,
}

impl ProxyConfig {
    pub fn new(upstream: SocketAddr, rules: FaultRules, seed: u64) -> Self {
        Self {
            upstream,
            rules,
            seed,
            hang_for: Duration::from_secs(20),
            upstream_timeout: Duration::from_secs(30),
            added_latency: Duration::ZERO,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on 127.0.0.1 for the fault proxy")]
    Bind(#[source] io::Error),
    #[error("fault rates for {operation} add up to {total}, which is not a probability")]
    InvalidRates { operation: String, total: f64 },
}

/// A running proxy; it stops (and drops every connection it holds) when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept_loop: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on an ephemeral 127.0.0.1 port.
    pub async fn start(config: ProxyConfig) -> Result<Self, ProxyError> {
        config.rules.validate()?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(ProxyError::Bind)?;
        let address = listener.local_addr().map_err(ProxyError::Bind)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let shared = Arc::new(Shared {
            upstream: config.upstream,
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
            hang_for: config.hang_for,
            upstream_timeout: config.upstream_timeout,
            added_latency: config.added_latency,
            state: Mutex::new(State {
                rules: config.rules,
                rng: XorShift64::derive(config.seed, "fault-proxy"),
                stats: ProxyStats::default(),
            }),
        });
        let accept_loop = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            address,
            shared,
            accept_loop,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The URL to give a client as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        self.shared.lock().stats.clone()
    }

    /// Replaces the rules from the next request on.
    pub fn set_rules(&self, rules: FaultRules) -> Result<(), ProxyError> {
        rules.validate()?;
        self.shared.lock().rules = rules;
        Ok(())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept loop owns the connection tasks: aborting it drops them all.
        self.accept_loop.abort();
    }
}

struct Shared {
    upstream: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    hang_for: Duration,
    upstream_timeout: Duration,
    added_latency: Duration,
    state: Mutex<State>,
}

struct State {
    rules: FaultRules,
    rng: XorShift64,
    stats: ProxyStats,
}

/// Why the proxy closed a connection instead of answering (hyper then drops it).
#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error("fault injected: connection reset")]
    Reset,
    #[error("fault injected: request held unanswered, then dropped")]
    Hung,
    #[error("the request body could not be read")]
    Body,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters inconsistent: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts the request and draws its fault.
    fn decide(&self, operation: &Operation) -> Option<Fault> {
        let mut state = self.lock();
        *state
            .stats
            .requests
            .entry(operation.name.clone())
            .or_default() += 1;
        let draw = state.rng.next_f64();
        let fault = state.rules.choose(&operation.name, draw)?;
        *state
            .stats
            .faults
            .entry(operation.name.clone())
            .or_default()
            .entry(fault)
            .or_default() += 1;
        Some(fault)
    }

    async fn handle(
        &self,
        request: Request<Incoming>,
        reset: &AtomicBool,
    ) -> Result<Response<Full<Bytes>>, Abort> {
        let (parts, body) = request.into_parts();
        let operation = Operation::from_headers(&parts.method, &parts.headers);
        let body = match tokio::time::timeout(self.upstream_timeout, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => return Err(Abort::Body),
        };
        if !self.added_latency.is_zero() {
            tokio::time::sleep(self.added_latency).await;
        }
        match self.decide(&operation) {
            None => Ok(self.forward(parts, body).await),
            Some(Fault::Error500) => Ok(internal_error(operation.service)),
            Some(Fault::Throttle) => Ok(throttled(operation.service)),
            Some(Fault::Hang) => {
                tokio::time::sleep(self.hang_for).await;
                reset.store(true, Ordering::Relaxed);
                Err(Abort::Hung)
            }
            Some(Fault::Reset) => {
                reset.store(true, Ordering::Relaxed);
                Err(Abort::Reset)
            }
            Some(Fault::FailAfterWrite) => {
                let _written = self.forward(parts, body).await;
                Ok(internal_error(operation.service))
            }
            Some(Fault::RejectEntries) => Ok(rejected_entries(&body)),
        }
    }

    /// Sends the request to moto unchanged and returns its answer unchanged (hop-by-hop headers
    /// aside); a failed forward is a 502.
    async fn forward(&self, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        match self.try_forward(parts, body).await {
            Some(response) => response,
            None => {
                self.lock().stats.upstream_errors += 1;
                let mut response = Response::new(Full::new(Bytes::from_static(
                    b"{\"message\":\"e2e fault proxy: moto did not answer\"}",
                )));
                *response.status_mut() = StatusCode::BAD_GATEWAY;
                response
            }
        }
    }

    async fn try_forward(
        &self,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Option<Response<Full<Bytes>>> {
        let path = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let uri: Uri = format!("http://{}{path}", self.upstream).parse().ok()?;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = end_to_end(parts.headers);
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let (head, body) = response.into_parts();
            let bytes = body.collect().await.ok()?.to_bytes();
            let mut answer = Response::new(Full::new(bytes));
            *answer.status_mut() = head.status;
            *answer.headers_mut() = end_to_end(head.headers);
            Some(answer)
        };
        tokio::time::timeout(self.upstream_timeout, exchange)
            .await
            .ok()
            .flatten()
    }
}

/// Headers minus the hop-by-hop ones and the framing, which hyper sets for the new message.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers
}

const DYNAMODB_ERROR_PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";

/// The 500 each service sends for an internal failure.
fn internal_error(service: Service) -> Response<Full<Bytes>> {
    if service == Service::S3 {
        return s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
    }
    let (code, query_error) = match service {
        Service::DynamoDb => (format!("{DYNAMODB_ERROR_PREFIX}InternalServerError"), None),
        Service::Sqs | Service::S3 | Service::Other => (
            "com.amazonaws.sqs#InternalFailure".to_owned(),
            Some("InternalFailure;Receiver"),
        ),
    };
    aws_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &code,
        "We encountered an internal error. Please try again. (injected by the e2e fault proxy)",
        query_error,
    )
}

/// A SendMessageBatch answer (JSON protocol) in which every entry of `request` failed.
fn rejected_entries(request: &[u8]) -> Response<Full<Bytes>> {
    let entries = serde_json::from_slice::<serde_json::Value>(request)
        .ok()
        .and_then(|json| json["Entries"].as_array().cloned())
        .unwrap_or_default();
    let failed: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| {
            serde_json::json!({
                "Id": entry["Id"],
                "SenderFault": true,
                "Code": "InvalidParameterValue",
                "Message": "SendMessageBatch entry refused (injected by the e2e fault proxy)",
            })
        })
        .collect();
    let body = serde_json::json!({"Successful": [], "Failed": failed}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

/// The 400 each service sends when it throttles: codes the SDK's retry classifier lists as
/// throttling (`ThrottlingException`; SQS's query-compatible `RequestThrottled`).
fn throttled(service: Service) -> Response<Full<Bytes>> {
    if service == Service::S3 {
        return s3_error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown");
    }
    let (code, query_error) = match service {
        Service::DynamoDb => (format!("{DYNAMODB_ERROR_PREFIX}ThrottlingException"), None),
        Service::Sqs | Service::S3 | Service::Other => (
            "com.amazonaws.sqs#RequestThrottled".to_owned(),
            Some("RequestThrottled;Sender"),
        ),
    };
    aws_error(
        StatusCode::BAD_REQUEST,
        &code,
        "Rate exceeded (injected by the e2e fault proxy)",
        query_error,
    )
}

/// S3's REST error: an XML document (`SlowDown` with 503 is its throttling).
fn s3_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the e2e fault proxy</Message></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

fn aws_error(
    status: StatusCode,
    code: &str,
    message: &str,
    query_error: Option<&'static str>,
) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    if let Some(value) = query_error {
        headers.insert(
            HeaderName::from_static("x-amzn-query-error"),
            HeaderValue::from_static(value),
        );
    }
    response
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.lock().stats.connections += 1;
                    connections.spawn(serve_connection(Arc::clone(&shared), stream));
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        reset: Arc::clone(&reset),
    });
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let reset = Arc::clone(&reset);
        async move { shared.handle(request, &reset).await }
    });
    // Errors here are the faults themselves or clients going away: nothing to report.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await;
}

/// A TCP stream that, once flagged, closes with an RST (zero linger) instead of a FIN, the way a
/// crashed load balancer or a killed peer drops a connection.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_like_iam_actions() {
        assert_eq!(
            Operation::from_target(Some("DynamoDB_20120810.PutItem")).name,
            "dynamodb:PutItem"
        );
        assert_eq!(
            Operation::from_target(Some("AmazonSQS.SendMessageBatch")).name,
            "sqs:SendMessageBatch"
        );
        assert_eq!(
            Operation::from_target(Some("AmazonSSM.GetParameter")).name,
            "ssm:GetParameter"
        );
        assert_eq!(Operation::from_target(None).name, "unknown");
        let mut s3 = HeaderMap::new();
        s3.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=test/20261129/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            ),
        );
        assert_eq!(
            Operation::from_headers(&http::Method::PUT, &s3).name,
            "s3:PutObject"
        );
        s3.insert("x-amz-copy-source", HeaderValue::from_static("b/k"));
        assert_eq!(
            Operation::from_headers(&http::Method::PUT, &s3).name,
            "s3:CopyObject"
        );
        assert_eq!(
            throttled(Service::S3).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            Operation::from_target(Some("AmazonSQS.SendMessage")).service,
            Service::Sqs
        );
    }

    #[test]
    fn rules_pick_faults_by_cumulative_rate() {
        let rules = FaultRules::none()
            .with("sqs:SendMessage", Fault::Error500, 0.1)
            .with("sqs:SendMessage", Fault::Hang, 0.2);
        assert_eq!(rules.choose("sqs:SendMessage", 0.05), Some(Fault::Error500));
        assert_eq!(rules.choose("sqs:SendMessage", 0.15), Some(Fault::Hang));
        assert_eq!(rules.choose("sqs:SendMessage", 0.35), None);
        assert_eq!(rules.choose("dynamodb:PutItem", 0.0), None);
        assert!((rules.total_rate("sqs:SendMessage") - 0.3).abs() < 1e-12);
    }

    #[test]
    fn spread_splits_the_rate_evenly_and_bad_rates_are_refused() {
        let rules = FaultRules::none().spread("dynamodb:PutItem", 0.5, &Fault::ALL);
        assert!((rules.total_rate("dynamodb:PutItem") - 0.5).abs() < 1e-12);
        assert_eq!(rules.choose("dynamodb:PutItem", 0.0), Some(Fault::Error500));
        assert_eq!(
            rules.choose("dynamodb:PutItem", 0.45),
            Some(Fault::FailAfterWrite)
        );
        assert!(rules.validate().is_ok());
        let too_much = FaultRules::none().spread("sqs:SendMessage", 1.5, &[Fault::Reset]);
        assert!(matches!(
            too_much.validate(),
            Err(ProxyError::InvalidRates { .. })
        ));
        let negative = FaultRules::none().with("sqs:SendMessage", Fault::Reset, -0.1);
        assert!(negative.validate().is_err());
    }

    #[test]
    fn error_bodies_carry_the_codes_the_sdk_classifies() {
        let throttle = throttled(Service::Sqs);
        assert_eq!(throttle.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            throttle.headers()["x-amzn-query-error"],
            "RequestThrottled;Sender"
        );
        let dynamo = throttled(Service::DynamoDb);
        assert!(dynamo.headers().get("x-amzn-query-error").is_none());
        assert_eq!(
            internal_error(Service::DynamoDb).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
