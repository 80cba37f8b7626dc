//! A small HTTPS client for a provider's REST API: one base URL, one credential, JSON answers,
//! and the provider's rate limits honoured (`Retry-After`, GitHub's `x-ratelimit-reset`) through
//! an injected [`Sleeper`], so tests never wait in real time.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::terminal::escape;

/// How long one call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Rate-limited answers waited out for one call before giving up.
const RATE_LIMIT_RETRIES: u32 = 5;
/// The longest single wait a rate limit may impose; a longer one stops the run (a person
/// re-runs it later: nothing is lost, the run is repeatable).
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// The longest all of a client's rate-limit waits may add up to, unless set otherwise
/// ([`ApiClient::with_wait_budget`]): an API answering "wait" forever does not hold a run forever.
pub const DEFAULT_WAIT_BUDGET: Duration = Duration::from_secs(30 * 60);
/// The largest answer read: a page of 100 Stripe events with large objects is a few MB; more is
/// an API gone wrong, and is not read into memory.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Waits between calls. Production sleeps; tests record the waits and return at once.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("`{url}` is not a URL the client can call: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{method} {url} failed: {message}")]
    Transport {
        method: Method,
        url: String,
        message: String,
    },
    #[error("{method} {url} did not answer within {timeout:?}")]
    Timeout {
        method: Method,
        url: String,
        timeout: Duration,
    },
    #[error("{method} {url} is rate limited for {wait:?} more (over the {MAX_RATE_LIMIT_WAIT:?} this run waits): run it again later")]
    RateLimited {
        method: Method,
        url: String,
        wait: Duration,
    },
    #[error("{method} {url} is rate limited for {wait:?} more, past the {budget:?} this run may wait in all: run it again later")]
    WaitBudgetSpent {
        method: Method,
        url: String,
        wait: Duration,
        budget: Duration,
    },
    #[error("{method} {url} answered more than {MAX_RESPONSE_BYTES} bytes: not read")]
    TooLarge { method: Method, url: String },
    #[error("cannot load the system's TLS root certificates: {0}")]
    Tls(String),
}

/// An answer: status, headers and the whole body.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    /// The provider's own explanation of a refusal (`message`, Stripe's `error.message`, Paddle's
    /// `error.detail`, GitLab's `error` or a `message` that is an object), else the status.
    pub fn refusal(&self) -> String {
        let json: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let message = json.as_ref().and_then(|json| {
            json["message"]
                .as_str()
                .or_else(|| json["error"]["message"].as_str())
                .or_else(|| json["error"]["detail"].as_str())
                .or_else(|| json["error"].as_str())
                .map(str::to_owned)
                .or_else(|| {
                    json["message"]
                        .is_object()
                        .then(|| json["message"].to_string())
                })
        });
        // The provider's words: escaped, as they may reach a terminal.
        match message {
            Some(message) => format!("{}: {}", self.status, escape(&message)),
            None => self.status.to_string(),
        }
    }
}

/// One provider's API: every call goes to `base` with the credential.
pub struct ApiClient {
    base: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    sleeper: Arc<dyn Sleeper>,
    /// What the rate-limit waits may still add up to.
    wait_left: Mutex<Duration>,
    /// How long one call may take.
    call_timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    // The headers hold the credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client for `base` (`https://api.github.com`; `http://` only for a loopback address, a
    /// local test server), sending `authorization` (marked sensitive, so no HTTP layer logs it)
    /// and `extra` headers with every call.
    pub fn new(
        base: &str,
        authorization: &str,
        extra: &[(&'static str, &str)],
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, ApiError> {
        Self::with_credential_header(base, AUTHORIZATION, authorization, extra, sleeper)
    }

    /// [`ApiClient::new`] with the credential in `header` (GitLab's `PRIVATE-TOKEN`) rather than
    /// `Authorization`; it is marked sensitive all the same.
    pub fn with_credential_header(
        base: &str,
        header: HeaderName,
        credential: &str,
        extra: &[(&'static str, &str)],
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, ApiError> {
        let bad = |reason: &str| ApiError::BadUrl {
            url: base.to_owned(),
            reason: reason.to_owned(),
        };
        let base = base.trim_end_matches('/').to_owned();
        let uri: http::Uri = base.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if uri.host().is_some_and(is_loopback) => {}
            Some("http") => {
                return Err(bad(
                    "http:// is only for a test server on this machine (localhost, 127.0.0.1, [::1]): the credential would cross the network in clear; use https://",
                ))
            }
            _ => {
                return Err(bad(
                    "it must start with https:// (or http:// for a local test server)",
                ))
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("it names no host"));
        }
        let mut credential = HeaderValue::from_str(credential)
            .map_err(|_| bad("the credential holds characters a header cannot carry"))?;
        credential.set_sensitive(true);
        let mut headers = vec![
            (header, credential),
            (
                USER_AGENT,
                HeaderValue::from_static(concat!(
                    "webhook-ingress-backfill/",
                    env!("CARGO_PKG_VERSION")
                )),
            ),
        ];
        for (name, value) in extra {
            let value =
                HeaderValue::from_str(value).map_err(|_| bad("a header value is not valid"))?;
            headers.push((HeaderName::from_static(name), value));
        }
        if !headers.iter().any(|(name, _)| name == ACCEPT) {
            headers.push((ACCEPT, HeaderValue::from_static("application/json")));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|err| ApiError::Tls(err.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            base,
            headers,
            client: Client::builder(TokioExecutor::new()).build(connector),
            sleeper,
            wait_left: Mutex::new(DEFAULT_WAIT_BUDGET),
            call_timeout: CALL_TIMEOUT,
        })
    }

    /// The most all rate-limit waits of this client may add up to (default
    /// [`DEFAULT_WAIT_BUDGET`]): a scheduled run gives what its invocation has left.
    pub fn with_wait_budget(self, budget: Duration) -> Self {
        Self {
            wait_left: Mutex::new(budget),
            ..self
        }
    }

    /// How long one call may take (default 30 s).
    pub fn with_call_timeout(self, timeout: Duration) -> Self {
        Self {
            call_timeout: timeout,
            ..self
        }
    }

    /// The full URL of an API path (`/v1/events?...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether `url` (a pagination link the API returned) points at this API: the credential is
    /// only ever sent there.
    pub fn owns(&self, url: &str) -> bool {
        url.strip_prefix(&self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    }

    pub async fn get(&self, url: &str) -> Result<ApiResponse, ApiError> {
        self.call(Method::GET, url).await
    }

    pub async fn post(&self, url: &str) -> Result<ApiResponse, ApiError> {
        self.call(Method::POST, url).await
    }

    /// One call, repeated after each rate-limited answer once the wait the API asks for is over.
    async fn call(&self, method: Method, url: &str) -> Result<ApiResponse, ApiError> {
        let mut waits = 0;
        loop {
            let response = self.once(&method, url).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            let Some(wait) = rate_limit_wait(response.status, &response.headers, now, waits) else {
                return Ok(response);
            };
            if waits >= RATE_LIMIT_RETRIES || wait > MAX_RATE_LIMIT_WAIT {
                return Err(ApiError::RateLimited {
                    method,
                    url: url.to_owned(),
                    wait,
                });
            }
            {
                let mut left = self.wait_left.lock().unwrap_or_else(|p| p.into_inner());
                if wait > *left {
                    return Err(ApiError::WaitBudgetSpent {
                        method,
                        url: url.to_owned(),
                        wait,
                        budget: *left,
                    });
                }
                *left -= wait;
            }
            waits += 1;
            tracing::info!(%method, url, wait_secs = wait.as_secs(), "rate limited; waiting as the API asks");
            self.sleeper.sleep(wait).await;
        }
    }

    async fn once(&self, method: &Method, url: &str) -> Result<ApiResponse, ApiError> {
        let mut request = Request::builder().method(method.clone()).uri(url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|err| ApiError::BadUrl {
                url: url.to_owned(),
                reason: err.to_string(),
            })?;
        let transport = |message: String| ApiError::Transport {
            method: method.clone(),
            url: url.to_owned(),
            message,
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|err| transport(err.to_string()))?;
            let (parts, body) = response.into_parts();
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let too_large = || ApiError::TooLarge {
                method: method.clone(),
                url: url.to_owned(),
            };
            if declared.is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
                return Err(too_large());
            }
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|err| {
                    if err.is::<http_body_util::LengthLimitError>() {
                        too_large()
                    } else {
                        transport(err.to_string())
                    }
                })?
                .to_bytes();
            Ok(ApiResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.call_timeout, exchange)
            .await
            .map_err(|_| ApiError::Timeout {
                method: method.clone(),
                url: url.to_owned(),
                timeout: self.call_timeout,
            })?
    }
}

/// Whether `host` (a URI's host, IPv6 in brackets) is this machine.
/// Encodes everything but ASCII alphanumerics and `_-.` in a path segment or query value: ids and
/// names from a provider or a person are encoded rather than trusted.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How long to wait before calling again, when the answer is a rate limit: 429, or 403 with
/// `Retry-After` or `x-ratelimit-remaining: 0` (GitHub's primary and secondary limits; a 403
/// without them is a refusal, not a limit). `Retry-After` in seconds wins; else GitHub's
/// `x-ratelimit-reset` (epoch seconds) less `now_secs`; else a backoff doubling from one second
/// with each of `earlier_waits` (Stripe's advice for a 429 without a header).
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now_secs: u64,
    earlier_waits: u32,
) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header(RETRY_AFTER.as_str()).and_then(|value| value.parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted));
    if !limited {
        return None;
    }
    if let Some(seconds) = retry_after {
        return Some(Duration::from_secs(seconds));
    }
    if exhausted {
        if let Some(reset) = header("x-ratelimit-reset").and_then(|value| value.parse::<u64>().ok())
        {
            // One second more: the reset time is when the window turns, not after it.
            return Some(Duration::from_secs(reset.saturating_sub(now_secs) + 1));
        }
    }
    Some(Duration::from_secs(1u64 << earlier_waits.min(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_refusal_reads_each_providers_error_shape_escaped() {
        let refusal = |body: &str| {
            ApiResponse {
                status: StatusCode::BAD_REQUEST,
                headers: HeaderMap::new(),
                body: Bytes::from(body.to_owned()),
            }
            .refusal()
        };
        assert_eq!(
            refusal(r#"{"message":"Bad\u001b"}"#),
            "400 Bad Request: Bad\\u{1b}"
        );
        assert_eq!(
            refusal(r#"{"error":{"message":"No such key"}}"#),
            "400 Bad Request: No such key"
        );
        assert_eq!(
            refusal(r#"{"error":{"code":"not_found","detail":"Entity ntf_1 not found"}}"#),
            "400 Bad Request: Entity ntf_1 not found"
        );
        assert_eq!(
            refusal(r#"{"error":"404 Not Found"}"#),
            "400 Bad Request: 404 Not Found"
        );
        assert_eq!(
            refusal(r#"{"message":{"url":["is blocked"]}}"#),
            r#"400 Bad Request: {"url":["is blocked"]}"#
        );
        assert_eq!(refusal("<html>"), "400 Bad Request");
    }

    #[test]
    fn retry_after_wins_on_429_and_on_a_limited_403() {
        let asked = headers(&[("retry-after", "7")]);
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &asked, 0, 0),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &asked, 0, 3),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn githubs_primary_limit_waits_until_the_reset() {
        let exhausted = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1000"),
        ]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &exhausted, 940, 0),
            Some(Duration::from_secs(61))
        );
    }

    #[test]
    fn a_plain_403_is_a_refusal_and_success_is_no_limit() {
        let plenty = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &plenty, 0, 0), None);
        assert_eq!(
            rate_limit_wait(StatusCode::OK, &HeaderMap::new(), 0, 0),
            None
        );
    }

    #[test]
    fn a_bare_429_backs_off_doubling() {
        let none = HeaderMap::new();
        let waits: Vec<u64> = (0..4)
            .map(|n| {
                rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &none, 0, n)
                    .unwrap()
                    .as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8]);
    }

    #[test]
    fn the_credential_goes_only_to_the_apis_own_urls() {
        let client = ApiClient::new(
            "https://api.github.com/",
            "Bearer x",
            &[],
            Arc::new(TokioSleeper),
        )
        .unwrap();
        assert!(client.owns("https://api.github.com/repos/o/r/hooks/1/deliveries?cursor=v1"));
        assert!(!client.owns("https://api.github.com.evil.example/repos"));
        assert!(!client.owns("https://elsewhere.example/"));
        assert!(!format!("{client:?}").contains("Bearer"));
    }

    #[test]
    fn plain_http_only_reaches_this_machine() {
        let client = |base: &str| ApiClient::new(base, "Bearer x", &[], Arc::new(TokioSleeper));
        for local in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://localhost:99/api",
            "http://[::1]:7000",
            "https://api.stripe.com",
        ] {
            assert!(client(local).is_ok(), "{local}");
        }
        for remote in [
            "http://api.stripe.com",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "ftp://127.0.0.1",
            "https://",
        ] {
            let err = client(remote).unwrap_err().to_string();
            assert!(!err.contains("Bearer"), "{err}");
            assert!(
                err.contains(remote) || remote == "https://",
                "{remote}: {err}"
            );
        }
    }
}
