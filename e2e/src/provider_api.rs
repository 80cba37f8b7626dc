//! Local stand-ins for providers' REST APIs, for backfill and reconciler tests: an in-process
//! HTTP server ([`MockApi`]) recording every request, GitHub's hook deliveries API (listing with
//! `Link` pagination; a redelivery POSTs the stored payload, signed with the hook secret, to the
//! ingress, as GitHub does) and Stripe's `/v1/events` (`starting_after` pagination), answering
//! with their documented payloads.

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
