//! `outboxctl backfill` against local HTTP servers that answer GitHub's and Stripe's endpoints
//! with their documented payloads (pagination, failed and successful deliveries, rate limits).
//! The GitHub server redelivers as GitHub does: it POSTs the stored payload, signed with the hook
//! secret, to the real ingress binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backfill::api::ApiClient;
use backfill::{Act, Sink, Window};
use bytes::Bytes;
use e2e::provider_api::{
    ago, github_handler, reply, stripe_event, stripe_handler, GitHubHook, Handler, MockApi,
    RecordingSleeper, GITHUB_SECRET, GITHUB_TOKEN, HOOK, STRIPE_KEY,
};
use e2e::testing::{provision, sdk_config};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use shared::aws::sqs::Queues;
use shared::config::{Env, OutboxSettings};
use shared::time::now_millis;

use super::{event, Scene, SOURCE};

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
    let queues = Queues::new(queue, &settings.routes).ports();
    let sink = Sink {
        outbox: &outbox,
        queues: &queues,
        settings: &settings,
        claim_check: None,
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
    let summary = backfill::stripe(&api, window, false, &sink, Act::DryRun, &|_| {})
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
    let summary = backfill::github(&api, &hook, window, &sink, Act::DryRun, &|_| {})
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
    let err = backfill::github(&api, &hook, window, &sink, Act::DryRun, &|_| {})
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

/// An API gone wrong or hostile ends the run with an error saying what happened: never a panic,
/// a loop, an unbounded read or an endless wait. In-memory outbox and queue: nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_hostile_api_ends_the_run_with_a_clear_error() {
    use e2e::fakes::{InMemoryOutbox, InMemoryQueue};
    use shared::ports::QueueSet;

    let env: HashMap<&str, &str> = HashMap::from([
        ("SOURCE_NAME", SOURCE),
        ("OUTBOX_TABLE", "unused"),
        ("QUEUE_URL", "http://queue/main"),
    ]);
    let settings = OutboxSettings::from_env(&Env::new(&env)).expect("settings");
    let outbox = InMemoryOutbox::new(SOURCE, 4);
    let queues = QueueSet::new(Arc::new(InMemoryQueue::new("http://queue/main")), vec![]);
    let sink = Sink {
        outbox: &outbox,
        queues: &queues,
        settings: &settings,
        claim_check: None,
    };
    let window = Window {
        since: now_millis() - 3_600_000,
        until: now_millis(),
    };
    let act = Act::Recover { stop_by: None };
    let client = |base: &str| {
        ApiClient::new(base, "Bearer t", &[], Arc::new(RecordingSleeper::default()))
            .expect("client")
    };
    let hook: backfill::github::HookPath = HOOK.parse().expect("hook");
    let stripe_page = |body: String| -> Handler {
        Arc::new(move |_, _, _| {
            let body = body.clone();
            Box::pin(async move {
                let mut response =
                    http::Response::new(http_body_util::Full::new(Bytes::from(body)));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                response
            })
        })
    };

    // Stripe: a `created` in the year 10000 (and one past i64 milliseconds).
    for created in ["253402300800", "9223372036854775807"] {
        let api = MockApi::start(stripe_page(format!(
            r#"{{"object":"list","has_more":false,"data":[{{"id":"evt_far","object":"event","created":{created}}}]}}"#
        )))
        .await;
        let err = backfill::stripe(&client(&api.base), window, false, &sink, act, &|_| {})
            .await
            .expect_err("no time");
        assert!(
            err.to_string().contains("evt_far has `created`")
                && err.to_string().contains("not a time between 1970 and 9999"),
            "{err}"
        );
    }

    // Stripe: `has_more` forever with the same last event: the same page again.
    let api = MockApi::start(stripe_page(
        r#"{"object":"list","has_more":true,"data":[{"id":"evt_same","object":"event","created":1}]}"#
            .to_owned(),
    ))
    .await;
    let err = backfill::stripe(&client(&api.base), window, false, &sink, act, &|_| {})
        .await
        .expect_err("a cycle");
    assert!(err.to_string().contains("the same page again"), "{err}");
    assert_eq!(api.count("GET"), 2, "stopped at the first repeat");

    // GitHub: a `next` link back to the page just read.
    let looping = {
        let base = Arc::new(Mutex::new(String::new()));
        let handler: Handler = {
            let base = Arc::clone(&base);
            Arc::new(move |_, path, _| {
                let base = Arc::clone(&base);
                Box::pin(async move {
                    let link = format!("<{}{path}>; rel=\"next\"", base.lock().expect("lock"));
                    reply(StatusCode::OK, &[("link", link)], json!([]))
                })
            })
        };
        let api = MockApi::start(handler).await;
        *base.lock().expect("lock") = api.base.clone();
        api
    };
    let err = backfill::github(&client(&looping.base), &hook, window, &sink, act, &|_| {})
        .await
        .expect_err("a cycle");
    assert!(
        err.to_string()
            .contains("links back to a page already read"),
        "{err}"
    );

    // GitHub: a new `next` link on every page, forever: the page cap ends it.
    let endless = {
        let base = Arc::new(Mutex::new(String::new()));
        let handler: Handler = {
            let base = Arc::clone(&base);
            Arc::new(move |_, path, _| {
                let base = Arc::clone(&base);
                Box::pin(async move {
                    let link = format!("<{}{path}&c=1>; rel=\"next\"", base.lock().expect("lock"));
                    reply(StatusCode::OK, &[("link", link)], json!([]))
                })
            })
        };
        let api = MockApi::start(handler).await;
        *base.lock().expect("lock") = api.base.clone();
        api
    };
    let err = backfill::github(&client(&endless.base), &hook, window, &sink, act, &|_| {})
        .await
        .expect_err("capped");
    assert!(
        err.to_string()
            .contains(&format!("past {} pages", backfill::MAX_PAGES)),
        "{err}"
    );
    assert_eq!(endless.count("GET"), backfill::MAX_PAGES);

    // An answer larger than the limit is not read.
    let huge = MockApi::start(stripe_page(
        " ".repeat(backfill::api::MAX_RESPONSE_BYTES + 1),
    ))
    .await;
    let err = backfill::stripe(&client(&huge.base), window, false, &sink, act, &|_| {})
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("bytes: not read"), "{err}");

    // "Wait" forever: the waits stop at the run's budget.
    let limiting: Handler = Arc::new(|_, _, _| {
        Box::pin(async {
            reply(
                StatusCode::TOO_MANY_REQUESTS,
                &[("retry-after", "600".to_owned())],
                json!({"error": {"message": "Too many requests"}}),
            )
        })
    });
    let limited = MockApi::start(limiting).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let api = ApiClient::new(&limited.base, "Bearer t", &[], sleeper.clone())
        .expect("client")
        .with_wait_budget(Duration::from_secs(900));
    let err = backfill::stripe(&api, window, false, &sink, act, &|_| {})
        .await
        .expect_err("budget spent");
    assert!(
        err.to_string().contains("this run may wait in all"),
        "{err}"
    );
    assert_eq!(*sleeper.0.lock().expect("lock"), [Duration::from_secs(600)]);

    // Control characters in the provider's refusal reach no terminal as such.
    let refusing: Handler = Arc::new(|_, _, _| {
        Box::pin(async {
            reply(
                StatusCode::FORBIDDEN,
                &[],
                json!({"message": "denied\u{1b}]0;owned\u{7}\u{1b}[2J"}),
            )
        })
    });
    let refused = MockApi::start(refusing).await;
    let err = backfill::github(&client(&refused.base), &hook, window, &sink, act, &|_| {})
        .await
        .expect_err("refused");
    assert!(!err.to_string().contains('\u{1b}'), "{err}");
    assert!(err.to_string().contains("denied\\u{1b}]0;owned"), "{err}");
    assert!(outbox.is_empty() && queues.all().count() == 1);
}

/// `status` shows the reconciler's checkpoint age and its last run's figures.
#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_reconcilers_checkpoint_and_last_run() {
    let scene = Scene::new("status-reconciler").await;
    let before = scene.run(&["--json", "status"]).json();
    assert_eq!(before["figures"]["reconciler"], Value::Null, "{before}");
    let now = now_millis();
    let lease = scene
        .outbox
        .acquire_checkpoint_lease("run-1", now, Duration::from_secs(60))
        .await
        .expect("UpdateItem");
    assert!(
        matches!(lease, shared::checkpoint::Lease::Acquired(_)),
        "{lease:?}"
    );
    let run = shared::checkpoint::LastRun {
        at: now,
        window_since: now - 3_600_000,
        window_until: now - 300_000,
        listed: 7,
        missing: 3,
        recovered: 2,
        unrecoverable: 1,
        failed: 0,
        error: None,
    };
    assert!(scene
        .outbox
        .finish_checkpoint_run("run-1", now, Some(now - 300_000), &run)
        .await
        .expect("UpdateItem"));
    let shown = scene.run(&["--json", "status"]).json();
    let reconciler = &shown["figures"]["reconciler"];
    assert_eq!(reconciler["listed"], 7, "{shown}");
    assert_eq!(reconciler["unrecoverable"], 1);
    let age = reconciler["checkpoint_age_secs"].as_f64().expect("an age");
    assert!(age >= 300.0, "{age}");
    let text = scene.run(&["status"]).stdout;
    assert!(
        text.contains("listed 7, missing 3, recovered 2, unrecoverable 1, failed 0"),
        "{text}"
    );
}

/// The ingress binary for `scene` with `scheme` and the secret `secret`; its URL.
async fn start_ingress(
    scene: &Scene,
    scheme: &str,
    secret: &str,
) -> (e2e::processes::IngressProcess, String) {
    aws_sdk_ssm::Client::new(&scene.sdk)
        .put_parameter()
        .name(&scene.resources.parameter)
        .value(secret)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("PutParameter");
    let binary = e2e::processes::ingress_binary().unwrap_or_else(|err| panic!("{err}"));
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let mut env: Vec<(String, String)> = scene
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("SIGNATURE_SCHEME".to_owned(), scheme.to_owned()));
    let logs = std::env::temp_dir().join(e2e::testing::unique("backfill-ingress"));
    std::fs::create_dir_all(&logs).expect("a log directory");
    let process = e2e::processes::IngressProcess::start(binary, env, address, logs)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    (process, format!("http://{address}/"))
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_failed_events_are_resent_through_the_ingress_with_the_hooks_token() {
    use e2e::provider_api::{gitlab_handler, GitLabHook, GITLAB_HOOK, GITLAB_SECRET, GITLAB_TOKEN};

    let scene = Scene::new("backfill-gitlab").await;
    let (_ingress, ingress_url) = start_ingress(&scene, "gitlab", GITLAB_SECRET).await;
    let hook = Arc::new(Mutex::new(GitLabHook::new(ingress_url)));
    {
        let mut hook = hook.lock().expect("lock");
        hook.log(9, "k-failed", "internal error", 5);
        hook.log(8, "k-ok", "200", 6);
        hook.log(7, "k-retried", "502", 7);
        hook.log(6, "k-retried", "404", 8);
        hook.log(5, "k-gone", "500", 9);
        hook.gone.push("k-gone".to_owned());
    }
    let gitlab = MockApi::start(gitlab_handler(Arc::clone(&hook))).await;
    let parameter = put_credential(&scene, GITLAB_TOKEN).await;
    let extra = [
        ("BACKFILL_CREDENTIAL_PARAMETER", parameter),
        ("GITLAB_API_BASE", gitlab.base.clone()),
    ];
    let args = [
        "--json",
        "backfill",
        "--provider",
        "gitlab",
        "--gitlab-hook",
        GITLAB_HOOK,
        "--since",
        "1h",
    ];

    let dry = scene.run_with(&extra, &args);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    let dry_json = dry.json();
    assert_eq!(
        (dry_json["listed"].as_u64(), dry_json["delivered"].as_u64()),
        (Some(4), Some(1))
    );
    let missing: Vec<&str> = dry_json["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(missing, ["k-gone", "k-retried", "k-failed"], "oldest first");
    assert_eq!(dry_json["missing"][1]["last_status"], 502, "{dry_json}");
    assert!(
        dry_json["calls"]
            .to_string()
            .contains("would POST http://127.0.0.1"),
        "{dry_json}"
    );
    assert!(
        dry_json["calls"].to_string().contains("/events/7/resend"),
        "the latest delivery"
    );
    assert_eq!(gitlab.count("POST"), 0, "a dry run asks for nothing");

    let mut yes = args.to_vec();
    yes.push("--yes");
    let done = scene.run_with(&extra, &yes);
    assert_eq!(done.code, 3, "k-gone: {}{}", done.stdout, done.stderr);
    let done_json = done.json();
    assert_eq!(done_json["redelivered"], json!(["k-retried", "k-failed"]));
    assert!(
        done_json["failed"].to_string().contains("404 Not found"),
        "{done_json}"
    );
    for printed in [&dry.stdout, &dry.stderr, &done.stdout, &done.stderr] {
        assert!(
            !printed.contains(GITLAB_TOKEN),
            "the token is never printed"
        );
    }
    let messages = scene.drain().await;
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(message.attribute("delivered-by"), Some("ingress"));
        let body: Value = serde_json::from_slice(&message.raw_body()).expect("JSON");
        let key = body["key_in_test"].as_str().expect("marker");
        assert_eq!(
            message.raw_body(),
            hook.lock().expect("lock").payloads[key].to_vec(),
            "the logged payload, byte for byte"
        );
    }

    // Again: each resent event has a delivery that succeeded now; nothing is sent twice.
    let again = scene.run_with(&extra, &yes).json();
    assert_eq!(again["redelivered"], json!([]), "{again}");
    assert!(scene.drain().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn paddle_events_not_delivered_are_replayed_and_a_present_one_is_left_alone() {
    use e2e::provider_api::{
        paddle_handler, PaddleAccount, PADDLE_DESTINATION, PADDLE_KEY, PADDLE_SECRET,
    };

    let scene = Scene::new("backfill-paddle").await;
    let (_ingress, ingress_url) = start_ingress(&scene, "paddle", PADDLE_SECRET).await;
    let account = Arc::new(Mutex::new(PaddleAccount::new(ingress_url)));
    {
        let mut account = account.lock().expect("lock");
        account.notify("ntf_3", "evt_missing", "failed", 5, PADDLE_DESTINATION);
        account.notify("ntf_2", "evt_present", "failed", 6, PADDLE_DESTINATION);
        account.notify("ntf_1", "evt_other", "failed", 7, "ntfset_another");
    }
    scene
        .insert(&event(
            "evt_present",
            "transaction.completed",
            b"{}",
            now_millis() - 60_000,
        ))
        .await;
    let base = Arc::new(Mutex::new(String::new()));
    let paddle = MockApi::start(paddle_handler(Arc::clone(&account), Arc::clone(&base))).await;
    *base.lock().expect("lock") = paddle.base.clone();
    let parameter = put_credential(&scene, PADDLE_KEY).await;
    let extra = [
        ("BACKFILL_CREDENTIAL_PARAMETER", parameter),
        ("PADDLE_API_BASE", paddle.base.clone()),
    ];
    let dry = scene.run_with(
        &extra,
        &[
            "backfill",
            "--provider",
            "paddle",
            "--paddle-destination",
            PADDLE_DESTINATION,
            "--since",
            "1h",
        ],
    );
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    for expected in [
        "/notifications/ntf_3/replay",
        "listed 2, already present 1, redelivered 0, failed 0",
        "dry run: 1 event(s) missing from the outbox; add --yes to ask Paddle to replay them",
    ] {
        assert!(dry.stdout.contains(expected), "{expected}: {}", dry.stdout);
    }
    let done = scene.run_with(
        &extra,
        &[
            "--json",
            "backfill",
            "--provider",
            "paddle",
            "--paddle-destination",
            PADDLE_DESTINATION,
            "--since",
            "1h",
            "--yes",
        ],
    );
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(done.json()["redelivered"], json!(["evt_missing"]));
    for printed in [&dry.stdout, &dry.stderr, &done.stdout, &done.stderr] {
        assert!(!printed.contains(PADDLE_KEY), "the key is never printed");
    }
    let messages = scene.drain().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].attribute("event-id"), Some("evt_missing"));
    assert_eq!(messages[0].attribute("delivered-by"), Some("ingress"));
    assert_eq!(
        paddle.count("POST"),
        1,
        "evt_other is another destination's"
    );
}

/// GitLab's and Paddle's listings gone wrong end the run with an error saying what happened (a
/// page number going back, a next page elsewhere or read before); their refusals reach no terminal
/// as such. In-memory outbox and queue: nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_gitlab_or_paddle_api_gone_wrong_ends_the_run_with_a_clear_error() {
    use e2e::fakes::{InMemoryOutbox, InMemoryQueue};
    use shared::ports::QueueSet;

    let env: HashMap<&str, &str> = HashMap::from([
        ("SOURCE_NAME", SOURCE),
        ("OUTBOX_TABLE", "unused"),
        ("QUEUE_URL", "http://queue/main"),
    ]);
    let settings = OutboxSettings::from_env(&Env::new(&env)).expect("settings");
    let outbox = InMemoryOutbox::new(SOURCE, 4);
    let queues = QueueSet::new(Arc::new(InMemoryQueue::new("http://queue/main")), vec![]);
    let sink = Sink {
        outbox: &outbox,
        queues: &queues,
        settings: &settings,
        claim_check: None,
    };
    let window = Window {
        since: now_millis() - 3_600_000,
        until: now_millis(),
    };
    let act = Act::Recover { stop_by: None };
    let client = |base: &str| {
        ApiClient::new(base, "Bearer t", &[], Arc::new(RecordingSleeper::default()))
            .expect("client")
    };
    let hook: backfill::gitlab::GitlabHook = "projects/7/1".parse().expect("hook");
    let answering = |headers: Vec<(&'static str, String)>, body: Value| -> Handler {
        Arc::new(move |_, _, _| {
            let (headers, body) = (headers.clone(), body.clone());
            Box::pin(async move { reply(StatusCode::OK, &headers, body) })
        })
    };

    // GitLab: page 1 names page 1 next.
    let api = MockApi::start(answering(vec![("x-next-page", "1".to_owned())], json!([]))).await;
    let err = backfill::gitlab(&client(&api.base), &hook, window, &sink, act, &|_| {})
        .await
        .expect_err("a cycle");
    assert!(err.to_string().contains("names page 1 next"), "{err}");
    assert_eq!(api.count("GET"), 1);

    // GitLab: a refusal, escaped.
    let refusing: Handler = Arc::new(|_, _, _| {
        Box::pin(async {
            reply(
                StatusCode::FORBIDDEN,
                &[],
                json!({"message": "403 Forbidden\u{1b}[2J"}),
            )
        })
    });
    let refused = MockApi::start(refusing).await;
    let err = backfill::gitlab(&client(&refused.base), &hook, window, &sink, act, &|_| {})
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("403 Forbidden\\u{1b}[2J") && !err.to_string().contains('\u{1b}'),
        "{err}"
    );

    // Paddle: a next page on another host, then one read before.
    let elsewhere = MockApi::start(answering(
        vec![],
        json!({"data": [], "meta": {"pagination": {"next": "https://evil.example/notifications?after=x", "has_more": true}}}),
    ))
    .await;
    let err = backfill::paddle(
        &client(&elsewhere.base),
        "ntfset_1",
        window,
        &sink,
        act,
        &|_| {},
    )
    .await
    .expect_err("elsewhere");
    assert!(
        err.to_string().contains("not on the API's own address"),
        "{err}"
    );
    let looping = {
        let base = Arc::new(Mutex::new(String::new()));
        let handler: Handler = {
            let base = Arc::clone(&base);
            Arc::new(move |_, path, _| {
                let base = Arc::clone(&base);
                Box::pin(async move {
                    let next = format!("{}{path}", base.lock().expect("lock"));
                    reply(
                        StatusCode::OK,
                        &[],
                        json!({"data": [], "meta": {"pagination": {"next": next, "has_more": true}}}),
                    )
                })
            })
        };
        let api = MockApi::start(handler).await;
        *base.lock().expect("lock") = api.base.clone();
        api
    };
    let err = backfill::paddle(
        &client(&looping.base),
        "ntfset_1",
        window,
        &sink,
        act,
        &|_| {},
    )
    .await
    .expect_err("a cycle");
    assert!(
        err.to_string()
            .contains("links back to a page already read"),
        "{err}"
    );
    assert_eq!(looping.count("GET"), 1);
    assert!(outbox.is_empty() && queues.all().count() == 1);
}

/// A resend the API keeps rate limiting (GitLab allows five a minute) stops the asking: the events
/// left are failures a later run recovers, not one long wait each. In-memory outbox and queue.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_the_api_keeps_up_leaves_the_remaining_redeliveries_for_a_later_run() {
    use e2e::fakes::{InMemoryOutbox, InMemoryQueue};
    use shared::ports::QueueSet;

    let env: HashMap<&str, &str> = HashMap::from([
        ("SOURCE_NAME", SOURCE),
        ("OUTBOX_TABLE", "unused"),
        ("QUEUE_URL", "http://queue/main"),
    ]);
    let settings = OutboxSettings::from_env(&Env::new(&env)).expect("settings");
    let outbox = InMemoryOutbox::new(SOURCE, 4);
    let queues = QueueSet::new(Arc::new(InMemoryQueue::new("http://queue/main")), vec![]);
    let sink = Sink {
        outbox: &outbox,
        queues: &queues,
        settings: &settings,
        claim_check: None,
    };
    let window = Window {
        since: now_millis() - 3_600_000,
        until: now_millis(),
    };
    let handler: Handler = Arc::new(|method, _, _| {
        Box::pin(async move {
            if method == Method::POST {
                return reply(
                    StatusCode::TOO_MANY_REQUESTS,
                    &[("retry-after", "3600".to_owned())],
                    json!({"message": "This endpoint has been requested too many times. Try again later."}),
                );
            }
            let delivery = |id: u64, key: &str| {
                json!({
                    "id": id, "trigger": "push_hooks", "response_status": "internal error",
                    "request_headers": {"Idempotency-Key": key, "X-Gitlab-Event-UUID": format!("{key}-u"), "X-Gitlab-Event": "Push Hook"},
                    "request_data": {"object_kind": "push"}, "created_at": ago(5),
                })
            };
            reply(
                StatusCode::OK,
                &[("x-next-page", String::new())],
                json!([delivery(2, "k-2"), delivery(1, "k-1")]),
            )
        })
    });
    let gitlab = MockApi::start(handler).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let api = ApiClient::new(&gitlab.base, "Bearer t", &[], sleeper.clone()).expect("client");
    let hook: backfill::gitlab::GitlabHook = "projects/7/1".parse().expect("hook");
    let summary = backfill::gitlab(
        &api,
        &hook,
        window,
        &sink,
        Act::Recover { stop_by: None },
        &|_| {},
    )
    .await
    .expect("listed");
    assert_eq!(summary.recovered.len(), 0);
    let failed = summary.failed();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].contains("rate limited for 3600s"), "{failed:?}");
    assert!(failed[1].contains("not asked"), "{failed:?}");
    assert_eq!(summary.unrecoverable(), 0, "a later run may recover both");
    assert_eq!(gitlab.count("POST"), 1, "the second was not asked");
    assert!(
        sleeper.0.lock().expect("lock").is_empty(),
        "an hour is not waited"
    );
}
