//! `outboxctl backfill` against local HTTP servers that answer GitHub's and Stripe's endpoints
//! with their documented payloads (pagination, failed and successful deliveries, rate limits).
//! The GitHub server redelivers as GitHub does: it POSTs the stored payload, signed with the hook
//! secret, to the real ingress binary.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use e2e::testing::{provision, sdk_config};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use indicatif::ProgressBar;
use outboxctl::backfill::api::{ApiClient, Sleeper};
use outboxctl::backfill::{self, Sink, Window};
use serde_json::{json, Value};
use shared::aws::sqs::Queues;
use shared::config::{Env, OutboxSettings};
use shared::signature::SignatureScheme;
use shared::time::{now_millis, rfc3339_millis};

use super::{event, Scene, SOURCE};

const GITHUB_SECRET: &str = "github-hook-secret-for-backfill";
const GITHUB_TOKEN: &str = "ghp_backfillTestToken0123456789";
const STRIPE_KEY: &str = "rk_test_backfillRestrictedKey42";
const HOOK: &str = "repos/acme/shop/42";

type Reply = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
type Handler = Arc<dyn Fn(Method, String, HeaderMap) -> Reply + Send + Sync>;

/// An in-process HTTP server answering with `handler`; every request is recorded as
/// `METHOD /path?query`.
struct MockApi {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl MockApi {
    async fn start(handler: Handler) -> Self {
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

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    fn count(&self, prefix: &str) -> usize {
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

fn reply(status: StatusCode, headers: &[(&str, String)], body: Value) -> Response<Full<Bytes>> {
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

fn bearer(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {expected}"))
}

/// Records the waits a rate limit asks for, and returns at once.
#[derive(Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().expect("lock").push(duration);
        Box::pin(async {})
    }
}

async fn put_credential(scene: &Scene, value: &str) -> String {
    let name = format!("/{}/backfill", e2e::testing::unique("cred"));
    aws_sdk_ssm::Client::new(&scene.sdk)
        .put_parameter()
        .name(&name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    name
}

/// GitHub's side: the hook's deliveries, newest first, and the payload of each event.
struct GitHubHook {
    /// `(id, guid, event, status_code, delivered_at)`.
    deliveries: Vec<(u64, String, String, u16, String)>,
    payloads: HashMap<String, Bytes>,
    next_id: u64,
    ingress_url: String,
    /// Redeliveries GitHub refuses (older than three days, as it says).
    too_old: Vec<String>,
}

fn github_handler(hook: Arc<Mutex<GitHubHook>>, base: Arc<Mutex<String>>) -> Handler {
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

fn ago(minutes: i64) -> String {
    let at = rfc3339_millis(now_millis() - minutes * 60_000);
    // GitHub writes whole seconds.
    format!("{}Z", &at[..19])
}

#[tokio::test(flavor = "multi_thread")]
async fn github_failed_deliveries_are_redelivered_through_the_signed_ingress_once() {
    let scene = Scene::new("backfill-github").await;
    // The hook secret the ingress reads, for the github scheme.
    aws_sdk_ssm::Client::new(&scene.sdk)
        .put_parameter()
        .name(&scene.resources.parameter)
        .value(GITHUB_SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("PutParameter");
    let binary = e2e::processes::ingress_binary().unwrap_or_else(|err| panic!("{err}"));
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let mut ingress_env: Vec<(String, String)> = scene
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    ingress_env.push(("SIGNATURE_SCHEME".to_owned(), "github".to_owned()));
    let logs = std::env::temp_dir().join(e2e::testing::unique("backfill-ingress"));
    std::fs::create_dir_all(&logs).expect("a log directory");
    let _ingress = e2e::processes::IngressProcess::start(binary, ingress_env, address, logs)
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let payload =
        |guid: &str| Bytes::from(format!(r#"{{"action":"opened","guid_in_test":"{guid}"}}"#));
    let guids = [
        "g-new",
        "g-ok",
        "g-present",
        "g-second-page",
        "g-too-old",
        "g-before",
    ];
    // Newest first, as GitHub lists them: g-ok had a failed attempt and then a good one.
    let deliveries = vec![
        (19, "g-new", "issues", 404, ago(5)),
        (18, "g-ok", "issues", 200, ago(6)),
        (17, "g-ok", "issues", 404, ago(7)),
        (16, "g-present", "issues", 502, ago(8)),
        (15, "g-second-page", "issues", 0, ago(9)),
        (14, "g-too-old", "issues", 500, ago(10)),
        (13, "g-before", "issues", 404, ago(180)),
    ];
    let hook = Arc::new(Mutex::new(GitHubHook {
        deliveries: deliveries
            .into_iter()
            .map(|(id, guid, event, status, at)| {
                (id, guid.to_owned(), event.to_owned(), status, at)
            })
            .collect(),
        payloads: guids
            .iter()
            .map(|g| ((*g).to_owned(), payload(g)))
            .collect(),
        next_id: 100,
        ingress_url: format!("http://{address}/"),
        too_old: vec!["g-too-old".to_owned()],
    }));
    let base = Arc::new(Mutex::new(String::new()));
    let github = MockApi::start(github_handler(Arc::clone(&hook), Arc::clone(&base))).await;
    *base.lock().expect("lock") = github.base.clone();
    // g-present reached the outbox (the ingress wrote its row, then answered too late).
    scene
        .insert(&event(
            "g-present",
            "issues",
            b"{}",
            now_millis() - 8 * 60_000,
        ))
        .await;
    let parameter = put_credential(&scene, GITHUB_TOKEN).await;
    let extra = [
        ("BACKFILL_CREDENTIAL_PARAMETER", parameter),
        ("GITHUB_API_BASE", github.base.clone()),
    ];
    let args = [
        "--json",
        "backfill",
        "--provider",
        "github",
        "--github-hook",
        HOOK,
        "--since",
        "2h",
    ];

    // Dry run: lists, says what it would POST, changes nothing.
    let dry = scene.run_with(&extra, &args);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    let dry_json = dry.json();
    assert_eq!(
        dry_json["listed"], 5,
        "g-before is outside the window: {dry_json}"
    );
    assert_eq!(dry_json["delivered"], 1);
    assert_eq!(dry_json["already_present"], 1);
    let missing: Vec<&str> = dry_json["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        missing,
        ["g-too-old", "g-second-page", "g-new"],
        "oldest first"
    );
    let calls = dry_json["calls"].to_string();
    assert!(
        calls.contains("cursor=p2"),
        "followed the Link header: {calls}"
    );
    assert!(
        calls.contains("would POST") && calls.contains("/deliveries/19/attempts"),
        "{calls}"
    );
    assert_eq!(github.count("POST"), 0, "a dry run asks for nothing");
    assert!(scene.drain().await.is_empty());
    for printed in [&dry.stdout, &dry.stderr] {
        assert!(
            !printed.contains(GITHUB_TOKEN),
            "the token is never printed"
        );
    }

    // With --yes: two redelivered through the ingress, the refused one reported, exit 3.
    let mut yes_args = args.to_vec();
    yes_args.push("--yes");
    let done = scene.run_with(&extra, &yes_args);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let done_json = done.json();
    assert_eq!(done_json["redelivered"], json!(["g-second-page", "g-new"]));
    let failed = done_json["failed"].to_string();
    assert!(
        failed.contains("g-too-old") && failed.contains("Validation Failed"),
        "{failed}"
    );
    let messages = scene.drain().await;
    let mut delivered: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            (
                m.attribute("event-id").unwrap_or_default().to_owned(),
                m.attribute("delivered-by").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            ("g-new".to_owned(), "ingress".to_owned()),
            ("g-second-page".to_owned(), "ingress".to_owned())
        ],
        "redelivered through the signed path"
    );
    let new = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some("g-new"))
        .expect("g-new");
    assert_eq!(new.raw_body(), payload("g-new").to_vec(), "byte for byte");

    // Again: nothing is asked twice (the redelivered events have rows now).
    let again = scene.run_with(&extra, &yes_args);
    assert_eq!(again.code, 3, "g-too-old still cannot be recovered");
    let again_json = again.json();
    assert_eq!(again_json["redelivered"], json!([]));
    assert_eq!(again_json["already_present"], 1);
    assert_eq!(
        github.count("POST /repos/acme/shop/hooks/42/deliveries/19/"),
        1
    );
    assert_eq!(
        github.count("POST /repos/acme/shop/hooks/42/deliveries/15/"),
        1
    );
    assert!(scene.drain().await.is_empty(), "nothing sent twice");
}

/// Stripe's `/v1/events`: the events newest first, `limit` per page, `starting_after` paging.
fn stripe_handler(events: Arc<Vec<String>>, limited_once: Arc<Mutex<bool>>) -> Handler {
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

fn stripe_event(id: &str, kind: &str, created: i64) -> String {
    format!(
        "{{\n    \"id\": \"{id}\",\n    \"object\": \"event\",\n    \"api_version\": \"2024-06-20\",\n    \"created\": {created},\n    \"data\": {{\"object\": {{\"id\": \"in_1\", \"object\": \"invoice\", \"amount_paid\": 2000}}}},\n    \"livemode\": false,\n    \"pending_webhooks\": 1,\n    \"request\": {{\"id\": null, \"idempotency_key\": null}},\n    \"type\": \"{kind}\"\n  }}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_events_missing_from_the_outbox_are_recorded_and_sent_once() {
    let scene = Scene::new("backfill-stripe").await;
    let created = now_millis() / 1000 - 600;
    let events = Arc::new(vec![
        stripe_event("evt_4", "invoice.paid", created + 4),
        stripe_event("evt_3", "customer.created", created + 3),
        stripe_event("evt_2", "invoice.paid", created + 2),
        stripe_event("evt_1", "charge.succeeded", created + 1),
    ]);
    // The first call is rate limited: the binary waits Retry-After (asserted in-process below,
    // where the clock is injected); here the server limits nothing.
    let stripe = MockApi::start(stripe_handler(
        Arc::clone(&events),
        Arc::new(Mutex::new(true)),
    ))
    .await;
    scene
        .insert(&event(
            "evt_2",
            "invoice.paid",
            b"{}",
            now_millis() - 60_000,
        ))
        .await;
    let parameter = put_credential(&scene, STRIPE_KEY).await;
    let extra = [
        ("BACKFILL_CREDENTIAL_PARAMETER", parameter),
        ("STRIPE_API_BASE", stripe.base.clone()),
    ];
    let args = [
        "--json",
        "backfill",
        "--provider",
        "stripe",
        "--since",
        "1h",
        "--yes",
    ];

    // A dry run for people: what is missing, what it would do, the summary; nothing changes.
    let dry = scene.run_with(
        &extra,
        &["backfill", "--provider", "stripe", "--since", "1h"],
    );
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    for expected in [
        "would record evt_1 in",
        "(PutItem) and send it to",
        "listed 4, already present 1, backfilled 0, failed 0",
        "dry run: 3 event(s) missing from the outbox; add --yes",
    ] {
        assert!(dry.stdout.contains(expected), "{expected}: {}", dry.stdout);
    }
    assert!(scene.drain().await.is_empty(), "a dry run sends nothing");

    let done = scene.run_with(&extra, &args);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let summary = done.json();
    assert_eq!(summary["listed"], 4);
    assert_eq!(summary["already_present"], 1);
    assert_eq!(summary["backfilled"], json!(["evt_1", "evt_3", "evt_4"]));
    // The --yes run's calls, after the dry run's two.
    let first = stripe.requests()[2].clone();
    assert!(
        first.contains("delivery_success=false") && first.contains("created%5Bgte%5D="),
        "{first}"
    );
    assert!(
        stripe.requests()[3].contains("starting_after=evt_3"),
        "{:?}",
        stripe.requests()
    );
    for printed in [&done.stdout, &done.stderr] {
        assert!(!printed.contains(STRIPE_KEY), "the key is never printed");
    }
    let messages = scene.drain().await;
    assert_eq!(messages.len(), 3);
    for message in &messages {
        let id = message.attribute("event-id").expect("event-id");
        assert_eq!(message.attribute("delivered-by"), Some("backfill"));
        assert_eq!(message.attribute("source"), Some(SOURCE));
        let sent = events
            .iter()
            .find(|e| e.contains(&format!("\"{id}\"")))
            .expect("a listed event");
        assert_eq!(
            message.raw_body(),
            sent.as_bytes(),
            "the event's JSON exactly as the API sent it"
        );
    }
    let evt_4 = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some("evt_4"))
        .expect("evt_4");
    assert_eq!(evt_4.attribute("event-type"), Some("invoice.paid"));
    let shown = scene.run(&["--json", "show", "evt_4"]).json();
    assert_eq!(shown["status"], "sent", "{shown}");

    // Again: every event has a row now; nothing is sent twice.
    let again = scene.run_with(&extra, &args).json();
    assert_eq!(again["backfilled"], json!([]));
    assert_eq!(again["already_present"], 4);
    assert!(scene.drain().await.is_empty());

    // A dry run with --all asks for every event and changes nothing.
    let all = scene.run_with(
        &extra,
        &[
            "--json",
            "backfill",
            "--provider",
            "stripe",
            "--since",
            "1h",
            "--all",
        ],
    );
    assert_eq!(all.code, 0, "{}", all.stderr);
    let last = stripe.requests().last().cloned().unwrap_or_default();
    assert!(!last.contains("delivery_success"), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out_as_the_api_asks_without_real_waiting() {
    let resources = provision("backfill-limits", e2e::testing::STANDARD_SECRET)
        .unwrap_or_else(|err| panic!("{err}"));
    let sdk = sdk_config(&resources.endpoint, shared::aws::CallLimits::background()).await;
    let outbox = shared::aws::dynamodb::DynamoDbOutbox::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &resources.table,
        SOURCE,
        4,
    );
    let queue =
        shared::aws::sqs::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &resources.queue_url);
    let env: HashMap<&str, &str> = HashMap::from([
        ("SOURCE_NAME", SOURCE),
        ("OUTBOX_TABLE", resources.table.as_str()),
        ("QUEUE_URL", resources.queue_url.as_str()),
        ("PENDING_SHARDS", "4"),
    ]);
    let settings = OutboxSettings::from_env(&Env::new(&env)).expect("settings");
    let queues = Queues::new(queue, &settings.routes);
    let sink = Sink {
        outbox: &outbox,
        queues: &queues,
        settings: &settings,
    };
    let window = Window {
        since: now_millis() - 3_600_000,
        until: now_millis(),
    };

    // Stripe: a 429 with Retry-After: 30, then the list.
    let created = now_millis() / 1000 - 60;
    let events = Arc::new(vec![stripe_event("evt_r", "invoice.paid", created)]);
    let stripe = MockApi::start(stripe_handler(events, Arc::new(Mutex::new(false)))).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let api = ApiClient::new(
        &stripe.base,
        &format!("Bearer {STRIPE_KEY}"),
        &[],
        sleeper.clone(),
    )
    .expect("client");
    let summary = backfill::stripe(&api, window, false, &sink, false, &ProgressBar::hidden())
        .await
        .expect("listed after waiting");
    assert_eq!(summary.listed, 1);
    assert_eq!(*sleeper.0.lock().expect("lock"), [Duration::from_secs(30)]);
    assert_eq!(
        stripe.count("GET /v1/events"),
        2,
        "asked again after the wait"
    );

    // GitHub: the primary limit (403, no requests left) waits until the reset it names.
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 120;
    let calls = Arc::new(Mutex::new(0));
    let handler: Handler = {
        let calls = Arc::clone(&calls);
        Arc::new(move |_, _, _| {
            let calls = Arc::clone(&calls);
            Box::pin(async move {
                let mut calls = calls.lock().expect("lock");
                *calls += 1;
                if *calls == 1 {
                    return reply(
                        StatusCode::FORBIDDEN,
                        &[
                            ("x-ratelimit-remaining", "0".to_owned()),
                            ("x-ratelimit-reset", reset.to_string()),
                        ],
                        json!({"message": "API rate limit exceeded"}),
                    );
                }
                reply(StatusCode::OK, &[], json!([]))
            })
        })
    };
    let github = MockApi::start(handler).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let api = ApiClient::new(&github.base, "Bearer t", &[], sleeper.clone()).expect("client");
    let hook = HOOK.parse().expect("hook");
    let summary = backfill::github(&api, &hook, window, &outbox, false, &ProgressBar::hidden())
        .await
        .expect("listed after waiting");
    assert_eq!(summary.listed, 0);
    let waited = sleeper.0.lock().expect("lock").clone();
    assert_eq!(waited.len(), 1);
    assert!(
        (Duration::from_secs(115)..=Duration::from_secs(122)).contains(&waited[0]),
        "until the reset: {waited:?}"
    );

    // A refusal that is no rate limit stops the listing with the provider's words.
    let refusing: Handler = Arc::new(|_, _, _| {
        Box::pin(async {
            reply(
                StatusCode::FORBIDDEN,
                &[],
                json!({"message": "Must have admin rights to Repository."}),
            )
        })
    });
    let refused = MockApi::start(refusing).await;
    let api = ApiClient::new(
        &refused.base,
        "Bearer t",
        &[],
        Arc::new(RecordingSleeper::default()),
    )
    .expect("client");
    let err = backfill::github(&api, &hook, window, &outbox, false, &ProgressBar::hidden())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("Must have admin rights"), "{err}");
}

/// Whether `authorization` is `Bearer <JWT>` signed RS256 by the test App's key, issued by `app_id`.
fn signed_by_the_app(headers: &HeaderMap, app_id: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let Some(token) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    let (Ok(claims), Ok(signature)) = (
        URL_SAFE_NO_PAD.decode(claims),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return false;
    };
    let public = include_bytes!("data/github-app-test-key.public.der");
    let verified = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &public[..],
    )
    .verify(
        format!("{header}.{}", URL_SAFE_NO_PAD.encode(&claims)).as_bytes(),
        &signature,
    )
    .is_ok();
    let claims: Value = serde_json::from_slice(&claims).unwrap_or_default();
    verified && claims["iss"] == app_id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_apps_own_hook_is_read_with_a_token_signed_by_the_apps_key() {
    let scene = Scene::new("backfill-github-app").await;
    let handler: Handler = Arc::new(|method, path, headers| {
        Box::pin(async move {
            if !signed_by_the_app(&headers, "424242") {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    &[],
                    json!({"message": "A JSON web token could not be decoded"}),
                );
            }
            match (method, path.as_str()) {
                (Method::GET, "/app/hook/deliveries?per_page=100") => reply(
                    StatusCode::OK,
                    &[],
                    json!([
                        {"id": 8, "guid": "g-app-failed", "delivered_at": ago(3), "status_code": 503, "event": "installation", "action": "created"},
                        {"id": 7, "guid": "g-app-ok", "delivered_at": ago(4), "status_code": 200, "event": "installation", "action": "created"},
                    ]),
                ),
                (Method::POST, "/app/hook/deliveries/8/attempts") => {
                    reply(StatusCode::ACCEPTED, &[], json!({}))
                }
                _ => reply(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"})),
            }
        })
    });
    let github = MockApi::start(handler).await;
    let credential = json!({
        "app_id": 424242,
        "private_key": include_str!("data/github-app-test-key.pem"),
    });
    let parameter = put_credential(&scene, &credential.to_string()).await;
    let extra = [
        ("BACKFILL_CREDENTIAL_PARAMETER", parameter),
        ("GITHUB_API_BASE", github.base.clone()),
    ];
    let done = scene.run_with(
        &extra,
        &[
            "--json",
            "backfill",
            "--provider",
            "github",
            "--github-hook",
            "app",
            "--since",
            "1h",
            "--yes",
        ],
    );
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let summary = done.json();
    assert_eq!(summary["listed"], 2);
    assert_eq!(summary["redelivered"], json!(["g-app-failed"]));
    assert_eq!(github.count("POST /app/hook/deliveries/8/attempts"), 1);
    assert!(!done.stdout.contains("PRIVATE KEY") && !done.stderr.contains("PRIVATE KEY"));
}
