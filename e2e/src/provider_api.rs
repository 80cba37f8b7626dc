//! Local stand-ins for providers' REST APIs, for backfill and reconciler tests: an in-process
//! HTTP server ([`MockApi`]) recording every request, GitHub's hook deliveries API (listing with
//! `Link` pagination; a redelivery POSTs the stored payload, signed with the hook secret, to the
//! ingress, as GitHub does), GitLab's hook events (`x-next-page` pagination; a resend POSTs the
//! logged payload with the hook's token and a new `X-Gitlab-Event-UUID`), Paddle Billing's
//! notifications (`meta.pagination.next`; a replay POSTs the event signed with `Paddle-Signature`)
//! and Stripe's `/v1/events` (`starting_after` pagination), answering with their documented
//! payloads.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use shared::signature::SignatureScheme;
use shared::time::{now_millis, rfc3339_millis};

pub const GITHUB_SECRET: &str = "github-hook-secret-for-backfill";
pub const GITHUB_TOKEN: &str = "ghp_backfillTestToken0123456789";
pub const STRIPE_KEY: &str = "rk_test_backfillRestrictedKey42";
pub const HOOK: &str = "repos/acme/shop/42";

pub type Reply = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
pub type Handler = Arc<dyn Fn(Method, String, HeaderMap) -> Reply + Send + Sync>;

/// An in-process HTTP server answering with `handler`; every request is recorded as
/// `METHOD /path?query`.
pub struct MockApi {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl MockApi {
    pub async fn start(handler: Handler) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address: SocketAddr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (handler, recorded) = (Arc::clone(&handler), Arc::clone(&recorded));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (handler, recorded) = (Arc::clone(&handler), Arc::clone(&recorded));
                        async move {
                            let path = request
                                .uri()
                                .path_and_query()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            let method = request.method().clone();
                            recorded
                                .lock()
                                .expect("lock")
                                .push(format!("{method} {path}"));
                            let headers = request.headers().clone();
                            Ok::<_, Infallible>(handler(method, path, headers).await)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base: format!("http://{address}"),
            requests,
            server,
        }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn reply(status: StatusCode, headers: &[(&str, String)], body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        response.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(value).expect("value"),
        );
    }
    response
}

pub fn bearer(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {expected}"))
}

/// Records the waits a rate limit asks for, and returns at once.
#[derive(Default)]
pub struct RecordingSleeper(pub Mutex<Vec<Duration>>);

impl backfill::api::Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().expect("lock").push(duration);
        Box::pin(async {})
    }
}

/// GitHub's side: the hook's deliveries, newest first, and the payload of each event.
pub struct GitHubHook {
    /// `(id, guid, event, status_code, delivered_at)`.
    pub deliveries: Vec<(u64, String, String, u16, String)>,
    pub payloads: HashMap<String, Bytes>,
    pub next_id: u64,
    pub ingress_url: String,
    /// Redeliveries GitHub refuses (older than three days, as it says).
    pub too_old: Vec<String>,
}

pub fn github_handler(hook: Arc<Mutex<GitHubHook>>, base: Arc<Mutex<String>>) -> Handler {
    Arc::new(move |method, path, headers| {
        let (hook, base) = (Arc::clone(&hook), Arc::clone(&base));
        Box::pin(async move {
            if !bearer(&headers, GITHUB_TOKEN) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    &[],
                    json!({"message": "Bad credentials"}),
                );
            }
            let prefix = "/repos/acme/shop/hooks/42/deliveries";
            if method == Method::GET && path.starts_with(prefix) {
                let listed: Vec<Value> = hook
                    .lock()
                    .expect("lock")
                    .deliveries
                    .iter()
                    .map(|(id, guid, event, status_code, at)| {
                        json!({
                            "id": id, "guid": guid, "delivered_at": at,
                            "redelivery": false, "duration": 0.2,
                            "status": if (200..300).contains(status_code) { "OK" } else { "failed" },
                            "status_code": status_code, "event": event, "action": "opened",
                            "installation_id": null, "repository_id": 7,
                        })
                    })
                    .collect();
                // Three per page, the cursor in the Link header.
                let second = path.contains("cursor=p2");
                let page: Vec<Value> = listed
                    .iter()
                    .skip(if second { 3 } else { 0 })
                    .take(if second { usize::MAX } else { 3 })
                    .cloned()
                    .collect();
                let link = if second {
                    vec![]
                } else {
                    let base = base.lock().expect("lock").clone();
                    vec![(
                        "link",
                        format!("<{base}{prefix}?per_page=100&cursor=p2>; rel=\"next\""),
                    )]
                };
                return reply(StatusCode::OK, &link, Value::Array(page));
            }
            let attempt = path
                .strip_prefix(&format!("{prefix}/"))
                .and_then(|rest| rest.strip_suffix("/attempts"))
                .and_then(|id| id.parse::<u64>().ok());
            let Some(delivery_id) = attempt.filter(|_| method == Method::POST) else {
                return reply(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"}));
            };
            let (guid, event, body, url, refused) = {
                let hook = hook.lock().expect("lock");
                let Some((_, guid, event, _, _)) =
                    hook.deliveries.iter().find(|d| d.0 == delivery_id)
                else {
                    return reply(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"}));
                };
                (
                    guid.clone(),
                    event.clone(),
                    hook.payloads[guid].clone(),
                    hook.ingress_url.clone(),
                    hook.too_old.contains(guid),
                )
            };
            if refused {
                return reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &[],
                    json!({"message": "Validation Failed", "errors": [{"resource": "Delivery", "code": "custom", "message": "delivery is too old to redeliver"}]}),
                );
            }
            // As GitHub does: the same payload and delivery guid, signed with the hook's secret.
            let keys = SignatureScheme::GitHub
                .parse_keys(GITHUB_SECRET)
                .expect("key");
            let key = keys.first().expect("a key");
            let mut request = Request::builder()
                .method(Method::POST)
                .uri(&url)
                .header("content-type", "application/json")
                .header("x-github-event", &event)
                .header("x-github-hook-id", "42");
            for (name, value) in SignatureScheme::GitHub.sign(key, &guid, 0, &body) {
                request = request.header(name, value);
            }
            let client = Client::builder(TokioExecutor::new()).build_http();
            let status = client
                .request(request.body(Full::new(body)).expect("request"))
                .await
                .map(|response| response.status().as_u16())
                .unwrap_or(0);
            let mut hook = hook.lock().expect("lock");
            let id = hook.next_id;
            hook.next_id += 1;
            hook.deliveries
                .insert(0, (id, guid, event, status, rfc3339_millis(now_millis())));
            reply(StatusCode::ACCEPTED, &[], json!({}))
        })
    })
}

pub fn ago(minutes: i64) -> String {
    let at = rfc3339_millis(now_millis() - minutes * 60_000);
    // GitHub writes whole seconds.
    format!("{}Z", &at[..19])
}

/// Stripe's `/v1/events`: the events newest first, `limit` per page, `starting_after` paging.
pub fn stripe_handler(events: Arc<Vec<String>>, limited_once: Arc<Mutex<bool>>) -> Handler {
    Arc::new(move |method, path, headers| {
        let (events, limited_once) = (Arc::clone(&events), Arc::clone(&limited_once));
        Box::pin(async move {
            if !bearer(&headers, STRIPE_KEY) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    &[],
                    json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
                );
            }
            if method != Method::GET || !path.starts_with("/v1/events?") {
                return reply(
                    StatusCode::NOT_FOUND,
                    &[],
                    json!({"error": {"message": "no such path"}}),
                );
            }
            let mut limited = limited_once.lock().expect("lock");
            if !*limited {
                *limited = true;
                return reply(
                    StatusCode::TOO_MANY_REQUESTS,
                    &[("retry-after", "30".to_owned())],
                    json!({"error": {"type": "rate_limit_error", "message": "Too many requests"}}),
                );
            }
            drop(limited);
            let query: HashMap<String, String> = path
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let limit = 2; // smaller than asked, as a server may: paging must follow has_more
            let start = query
                .get("starting_after")
                .and_then(|after| {
                    events
                        .iter()
                        .position(|e| e.contains(&format!("\"{after}\"")))
                })
                .map_or(0, |position| position + 1);
            let page: Vec<&String> = events.iter().skip(start).take(limit).collect();
            let has_more = start + limit < events.len();
            // The raw text of each event exactly as stored: spacing and key order are the API's.
            let body = format!(
                "{{\n  \"object\": \"list\",\n  \"data\": [{}],\n  \"has_more\": {has_more},\n  \"url\": \"/v1/events\"\n}}",
                page.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",\n    ")
            );
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        })
    })
}

pub fn stripe_event(id: &str, kind: &str, created: i64) -> String {
    format!(
        "{{\n    \"id\": \"{id}\",\n    \"object\": \"event\",\n    \"api_version\": \"2024-06-20\",\n    \"created\": {created},\n    \"data\": {{\"object\": {{\"id\": \"in_1\", \"object\": \"invoice\", \"amount_paid\": 2000}}}},\n    \"livemode\": false,\n    \"pending_webhooks\": 1,\n    \"request\": {{\"id\": null, \"idempotency_key\": null}},\n    \"type\": \"{kind}\"\n  }}"
    )
}

pub const GITLAB_SECRET: &str = "gitlab-hook-token-for-backfill";
pub const GITLAB_TOKEN: &str = "glpat-backfillTestToken0123";
pub const GITLAB_HOOK: &str = "projects/acme/shop/42";
pub const PADDLE_SECRET: &str = "pdl_ntfset_backfill_endpoint_secret";
pub const PADDLE_KEY: &str = "pdl_live_apikey_backfillTestKey";
pub const PADDLE_DESTINATION: &str = "ntfset_01backfilltest";

/// POSTs `body` with `headers` to `url`; the status answered, 0 when nothing answered.
async fn deliver(url: &str, headers: Vec<(String, String)>, body: Bytes) -> u16 {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let client = Client::builder(TokioExecutor::new()).build_http();
    client
        .request(request.body(Full::new(body)).expect("request"))
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

/// One delivery in GitLab's hook log.
#[derive(Debug, Clone)]
pub struct GitLabLog {
    pub id: u64,
    /// `Idempotency-Key`: the same for every delivery of the event.
    pub key: String,
    /// `X-Gitlab-Event-UUID`: new for a resend.
    pub uuid: String,
    /// `response_status` as GitLab logs it: `"200"`, `"502"`, `"internal error"`.
    pub status: String,
    pub created_at: String,
}

/// GitLab's side: the hook's log (newest first) and each event's payload.
pub struct GitLabHook {
    pub logs: Vec<GitLabLog>,
    pub payloads: HashMap<String, Bytes>,
    pub next_id: u64,
    pub ingress_url: String,
    /// Events whose log GitLab no longer has: a resend is answered 404.
    pub gone: Vec<String>,
    /// Resends answered 429 (the endpoint's five a minute) before the next one is done.
    pub limited_resends: u32,
}

impl GitLabHook {
    pub fn new(ingress_url: String) -> Self {
        Self {
            logs: Vec::new(),
            payloads: HashMap::new(),
            next_id: 1000,
            ingress_url,
            gone: Vec::new(),
            limited_resends: 0,
        }
    }

    /// Logs a delivery of event `key` (`minutes` ago) answered `status`, newest first.
    pub fn log(&mut self, id: u64, key: &str, status: &str, minutes: i64) {
        self.payloads.entry(key.to_owned()).or_insert_with(|| {
            Bytes::from(format!(
                r#"{{"object_kind":"push","event_name":"push","ref":"refs/heads/main","key_in_test":"{key}"}}"#
            ))
        });
        self.logs.push(GitLabLog {
            id,
            key: key.to_owned(),
            uuid: format!("{key}-uuid-{id}"),
            status: status.to_owned(),
            created_at: ago(minutes),
        });
        self.logs
            .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    }
}

fn private_token(headers: &HeaderMap, expected: &str) -> bool {
    headers.get("private-token").and_then(|v| v.to_str().ok()) == Some(expected)
}

/// GitLab's project hook events API for `projects/acme%2Fshop/hooks/42`: the log three to a page
/// (`x-next-page`), and a resend that sends the logged payload again with the hook's token (a new
/// `X-Gitlab-Event-UUID`, the same `Idempotency-Key`, as GitLab does) to the ingress.
pub fn gitlab_handler(hook: Arc<Mutex<GitLabHook>>) -> Handler {
    Arc::new(move |method, path, headers| {
        let hook = Arc::clone(&hook);
        Box::pin(async move {
            if !private_token(&headers, GITLAB_TOKEN) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    &[],
                    json!({"message": "401 Unauthorized"}),
                );
            }
            let prefix = "/projects/acme%2Fshop/hooks/42/events";
            if method == Method::GET && path.starts_with(&format!("{prefix}?")) {
                let page: usize = path
                    .split(['?', '&'])
                    .find_map(|pair| pair.strip_prefix("page="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let hook = hook.lock().expect("lock");
                let per_page = 3; // fewer than asked: paging must follow x-next-page
                let listed: Vec<Value> = hook
                    .logs
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|log| {
                        let data: Value =
                            serde_json::from_slice(&hook.payloads[&log.key]).expect("payload");
                        json!({
                            "id": log.id, "url": "https://example.net/", "trigger": "push_hooks",
                            "request_headers": {
                                "Content-Type": "application/json", "User-Agent": "GitLab/17.6.0",
                                "Idempotency-Key": log.key, "X-Gitlab-Event": "Push Hook",
                                "X-Gitlab-Webhook-UUID": "3c5c0404-c866-44bc-a5f6-452bb1bfc76e",
                                "X-Gitlab-Instance": "https://gitlab.example.com",
                                "X-Gitlab-Event-UUID": log.uuid, "X-Gitlab-Token": "[REDACTED]",
                            },
                            "request_data": data,
                            "response_headers": {}, "response_body": "",
                            "execution_duration": 0.21, "response_status": log.status,
                            "created_at": log.created_at,
                        })
                    })
                    .collect();
                let next = if page * per_page < hook.logs.len() {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                return reply(
                    StatusCode::OK,
                    &[
                        ("x-page", page.to_string()),
                        ("x-per-page", per_page.to_string()),
                        ("x-next-page", next),
                    ],
                    Value::Array(listed),
                );
            }
            let resend = path
                .strip_prefix(&format!("{prefix}/"))
                .and_then(|rest| rest.strip_suffix("/resend"))
                .and_then(|id| id.parse::<u64>().ok());
            let Some(log_id) = resend.filter(|_| method == Method::POST) else {
                return reply(
                    StatusCode::NOT_FOUND,
                    &[],
                    json!({"error": "404 Not Found"}),
                );
            };
            let (key, uuid, body, url) = {
                let mut hook = hook.lock().expect("lock");
                if hook.limited_resends > 0 {
                    hook.limited_resends -= 1;
                    return reply(
                        StatusCode::TOO_MANY_REQUESTS,
                        &[("retry-after", "60".to_owned())],
                        json!({"message": "This endpoint has been requested too many times. Try again later."}),
                    );
                }
                let Some(log) = hook.logs.iter().find(|l| l.id == log_id).cloned() else {
                    return reply(
                        StatusCode::NOT_FOUND,
                        &[],
                        json!({"message": "404 Not found"}),
                    );
                };
                if hook.gone.contains(&log.key) {
                    return reply(
                        StatusCode::NOT_FOUND,
                        &[],
                        json!({"message": "404 Not found"}),
                    );
                }
                let id = hook.next_id;
                (
                    log.key.clone(),
                    format!("{}-uuid-{id}", log.key),
                    hook.payloads[&log.key].clone(),
                    hook.ingress_url.clone(),
                )
            };
            let keys = SignatureScheme::GitLab
                .parse_keys(GITLAB_SECRET)
                .expect("key");
            let mut sent: Vec<(String, String)> = SignatureScheme::GitLab
                .sign(keys.first().expect("a key"), &uuid, 0, &body)
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            sent.push(("idempotency-key".to_owned(), key.clone()));
            sent.push(("x-gitlab-event".to_owned(), "Push Hook".to_owned()));
            let status = deliver(&url, sent, body).await;
            let mut hook = hook.lock().expect("lock");
            let id = hook.next_id;
            hook.next_id += 1;
            let logged = if status == 0 {
                "internal error".to_owned()
            } else {
                status.to_string()
            };
            hook.logs.insert(
                0,
                GitLabLog {
                    id,
                    key,
                    uuid,
                    status: logged,
                    created_at: rfc3339_millis(now_millis()),
                },
            );
            reply(StatusCode::CREATED, &[], json!({"response_status": status}))
        })
    })
}

/// One notification of Paddle's.
#[derive(Debug, Clone)]
pub struct PaddleNotification {
    pub id: String,
    pub event_id: String,
    /// `delivered`, `failed`, `needs_retry`, `not_attempted`.
    pub status: String,
    /// `event` or `replay`.
    pub origin: String,
    pub occurred_at: String,
    pub setting: String,
}

impl PaddleNotification {
    /// The event as Paddle delivers it for this notification (its own `notification_id`).
    pub fn payload(&self) -> String {
        format!(
            r#"{{"event_id":"{}","event_type":"transaction.completed","occurred_at":"{}","notification_id":"{}","data":{{"id":"txn_{}","status":"completed"}}}}"#,
            self.event_id, self.occurred_at, self.id, self.event_id
        )
    }
}

/// Paddle's side: the notifications, newest first.
pub struct PaddleAccount {
    pub notifications: Vec<PaddleNotification>,
    pub next_id: u64,
    pub ingress_url: String,
    /// Notifications Paddle no longer keeps (older than 90 days): a replay is answered 404.
    pub gone: Vec<String>,
    /// Whether the first listing has been answered 429 already.
    pub limited_once: bool,
}

impl PaddleAccount {
    pub fn new(ingress_url: String) -> Self {
        Self {
            notifications: Vec::new(),
            next_id: 100,
            ingress_url,
            gone: Vec::new(),
            limited_once: true,
        }
    }

    /// A notification of `event` to `setting`, `minutes` ago.
    pub fn notify(&mut self, id: &str, event: &str, status: &str, minutes: i64, setting: &str) {
        self.notifications.push(PaddleNotification {
            id: id.to_owned(),
            event_id: event.to_owned(),
            status: status.to_owned(),
            origin: "event".to_owned(),
            occurred_at: rfc3339_millis(now_millis() - minutes * 60_000),
            setting: setting.to_owned(),
        });
        self.notifications
            .sort_by(|a, b| b.occurred_at.cmp(&a.occurred_at).then(b.id.cmp(&a.id)));
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(byte)) = text
                .get(i + 1..i + 3)
                .map(|hex| u8::from_str_radix(hex, 16))
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Paddle Billing's `/notifications` (filters by destination, status and time, two to a page with
/// `meta.pagination.next`) and `/notifications/{id}/replay`, which sends the event again, signed
/// with the destination's secret, to the ingress, as a new notification of origin `replay`.
pub fn paddle_handler(account: Arc<Mutex<PaddleAccount>>, base: Arc<Mutex<String>>) -> Handler {
    Arc::new(move |method, path, headers| {
        let (account, base) = (Arc::clone(&account), Arc::clone(&base));
        Box::pin(async move {
            if !bearer(&headers, PADDLE_KEY) {
                return reply(
                    StatusCode::FORBIDDEN,
                    &[],
                    json!({"error": {"type": "request_error", "code": "forbidden", "detail": "You aren't permitted to perform this request."}}),
                );
            }
            if method == Method::GET && path.starts_with("/notifications?") {
                let query: HashMap<String, String> = path
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or_default()
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (k.to_owned(), percent_decode(v)))
                    .collect();
                let mut account = account.lock().expect("lock");
                if !account.limited_once {
                    account.limited_once = true;
                    return reply(
                        StatusCode::TOO_MANY_REQUESTS,
                        &[("retry-after", "30".to_owned())],
                        json!({"error": {"type": "request_error", "code": "too_many_requests", "detail": "Too many requests"}}),
                    );
                }
                let time = |name: &str| {
                    query
                        .get(name)
                        .and_then(|t| backfill::github::rfc3339_to_millis(t))
                };
                let (from, to) = (time("from"), time("to"));
                let statuses: Vec<&str> = query
                    .get("status")
                    .map(|s| s.split(',').collect())
                    .unwrap_or_default();
                let matching: Vec<&PaddleNotification> = account
                    .notifications
                    .iter()
                    .filter(|n| {
                        query
                            .get("notification_setting_id")
                            .is_none_or(|s| *s == n.setting)
                    })
                    .filter(|n| statuses.is_empty() || statuses.contains(&n.status.as_str()))
                    .filter(|n| {
                        let at = backfill::github::rfc3339_to_millis(&n.occurred_at).unwrap_or(0);
                        from.is_none_or(|from| at >= from) && to.is_none_or(|to| at < to)
                    })
                    .collect();
                let start = query
                    .get("after")
                    .and_then(|after| matching.iter().position(|n| &n.id == after))
                    .map_or(0, |position| position + 1);
                let per_page = 2; // fewer than asked: paging must follow meta.pagination
                let page: Vec<Value> = matching
                    .iter()
                    .skip(start)
                    .take(per_page)
                    .map(|n| {
                        json!({
                            "id": n.id, "type": "transaction.completed", "status": n.status,
                            "payload": serde_json::from_str::<Value>(&n.payload()).expect("payload"),
                            "occurred_at": n.occurred_at, "delivered_at": null, "replayed_at": null,
                            "origin": n.origin, "last_attempt_at": n.occurred_at, "retry_at": null,
                            "times_attempted": 3, "notification_setting_id": n.setting,
                        })
                    })
                    .collect();
                let has_more = start + per_page < matching.len();
                let last = matching
                    .get((start + per_page).min(matching.len()).saturating_sub(1))
                    .map(|n| n.id.clone())
                    .unwrap_or_default();
                let kept: Vec<&str> = path
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or_default()
                    .split('&')
                    .filter(|pair| !pair.starts_with("after="))
                    .collect();
                let next = format!(
                    "{}/notifications?{}&after={last}",
                    base.lock().expect("lock"),
                    kept.join("&")
                );
                return reply(
                    StatusCode::OK,
                    &[],
                    json!({
                        "data": page,
                        "meta": {
                            "request_id": "00000000-0000-0000-0000-000000000000",
                            "pagination": {"per_page": per_page, "next": next, "has_more": has_more, "estimated_total": matching.len()},
                        },
                    }),
                );
            }
            let replay = path
                .strip_prefix("/notifications/")
                .and_then(|rest| rest.strip_suffix("/replay"))
                .map(str::to_owned);
            let Some(id) = replay.filter(|_| method == Method::POST) else {
                return reply(
                    StatusCode::NOT_FOUND,
                    &[],
                    json!({"error": {"type": "request_error", "code": "not_found", "detail": "Not found"}}),
                );
            };
            let (original, url, new_id) = {
                let mut account = account.lock().expect("lock");
                let found = account.notifications.iter().find(|n| n.id == id).cloned();
                let refuse = |status: StatusCode, code: &str, detail: String| {
                    reply(
                        status,
                        &[],
                        json!({"error": {"type": "request_error", "code": code, "detail": detail}, "meta": {"request_id": "r"}}),
                    )
                };
                let Some(original) = found.filter(|_| !account.gone.contains(&id)) else {
                    return refuse(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("Entity {id} not found"),
                    );
                };
                if original.origin != "event" {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "notification_replay_invalid_origin_type",
                        "Only notifications with the origin `event` can be replayed.".to_owned(),
                    );
                }
                if !matches!(original.status.as_str(), "delivered" | "failed") {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "notification_cannot_replay",
                        format!("Notification {id} can't be replayed because it's not `delivered` or `failed`."),
                    );
                }
                let new_id = format!("ntf_replay{}", account.next_id);
                account.next_id += 1;
                (original, account.ingress_url.clone(), new_id)
            };
            let replayed = PaddleNotification {
                id: new_id.clone(),
                origin: "replay".to_owned(),
                ..original
            };
            let body = Bytes::from(replayed.payload());
            let scheme = SignatureScheme::named("paddle").expect("the paddle scheme");
            let keys = scheme.parse_keys(PADDLE_SECRET).expect("key");
            let sent: Vec<(String, String)> = scheme
                .sign(
                    keys.first().expect("a key"),
                    &replayed.event_id,
                    now_millis() / 1000,
                    &body,
                )
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            let status = deliver(&url, sent, body).await;
            let mut account = account.lock().expect("lock");
            account.notifications.insert(
                0,
                PaddleNotification {
                    status: if (200..300).contains(&status) {
                        "delivered".to_owned()
                    } else {
                        "failed".to_owned()
                    },
                    ..replayed
                },
            );
            reply(
                StatusCode::ACCEPTED,
                &[],
                json!({"data": {"notification_id": new_id}, "meta": {"request_id": "r"}}),
            )
        })
    })
}
