//! The reconciler against moto (its own table, queue and credential per test) and local HTTP
//! servers answering Stripe's and GitHub's documented endpoints (e2e's `provider_api`); GitHub
//! redelivers by POSTing the signed payload to the real ingress binary. Runs are in process, so
//! the clock a lease is judged by is given, never waited for.

mod delivery;
mod large_bodies;
mod providers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::provider_api::{
    ago, github_handler, reply, stripe_event, stripe_handler, GitHubHook, Handler, MockApi,
    RecordingSleeper, GITHUB_SECRET, GITHUB_TOKEN, HOOK, STRIPE_KEY,
};
use e2e::testing::{ReceivedMessage, Stack};
use http::StatusCode;
use reconciler::{Reconciler, ReconcilerConfig, RunOutcome, RunReport};
use serde_json::json;
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::{Queues, SqsQueue};
use shared::aws::CallLimits;
use shared::checkpoint::checkpoint_key;
use shared::event::AcceptedEvent;
use shared::time::now_millis;

const SOURCE: &str = "market";
const LEASE_SECS: i64 = 960;

/// A test's stack, the credential in SSM, and a reconciler factory.
struct Scene {
    stack: Stack,
    credential: String,
}

impl Scene {
    async fn new(credential: &str) -> Self {
        let stack = Stack::new().await;
        let name = format!("/{}/backfill", e2e::testing::unique("cred"));
        stack
            .ssm
            .put_parameter()
            .name(&name)
            .value(credential)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("PutParameter");
        Self {
            stack,
            credential: name,
        }
    }

    async fn reconciler(&self, settings: &[(&'static str, &str)]) -> Reconciler {
        let mut env = self.stack.env();
        env.insert("BACKFILL_CREDENTIAL_PARAMETER", self.credential.clone());
        env.insert("RECONCILE_LOOKBACK_SECS", "7200".to_owned());
        env.insert("RECONCILE_SETTLE_SECS", "0".to_owned());
        for (name, value) in settings {
            env.insert(name, (*value).to_owned());
        }
        let config = ReconcilerConfig::from_env(&env).expect("config");
        let sdk = e2e::testing::sdk_config(&self.stack.endpoint, CallLimits::background()).await;
        let outbox = self.outbox().await;
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &self.stack.queue_url);
        let queues = Queues::new(queue, &config.outbox.routes).ports();
        // As the binary builds it: the claim check is on when the settings name a bucket.
        let store = S3BodyStore::new(shared::aws::s3_client(&sdk), None);
        Reconciler::new(config, outbox, queues, aws_sdk_ssm::Client::new(&sdk))
            .with_body_store(store)
            .with_sleeper(Arc::new(RecordingSleeper::default()))
    }

    async fn outbox(&self) -> DynamoDbOutbox {
        let sdk = e2e::testing::sdk_config(&self.stack.endpoint, CallLimits::background()).await;
        DynamoDbOutbox::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &self.stack.table,
            SOURCE,
            4,
        )
    }

    async fn drain(&self) -> Vec<ReceivedMessage> {
        self.stack.drain(&self.stack.queue_url).await
    }

    async fn checkpoint_at(&self) -> Option<i64> {
        self.outbox()
            .await
            .checkpoint()
            .await
            .expect("GetItem")
            .and_then(|c| c.at)
    }
}

fn ids(messages: &[ReceivedMessage]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn run(reconciler: &Reconciler, now: i64) -> RunReport {
    reconciler
        .run_once(now, Instant::now() + Duration::from_secs(120))
        .await
}

fn stripe_reconciler_settings(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("RECONCILE_PROVIDER", "stripe".to_owned()),
        ("STRIPE_API_BASE", base.to_owned()),
    ]
}

async fn stripe_reconciler(scene: &Scene, base: &str) -> Reconciler {
    let settings = stripe_reconciler_settings(base);
    let borrowed: Vec<(&'static str, &str)> =
        settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    scene.reconciler(&borrowed).await
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_events_missing_from_the_outbox_are_recovered_once_and_the_checkpoint_follows() {
    let scene = Scene::new(STRIPE_KEY).await;
    let created = now_millis() / 1000 - 600;
    let events = Arc::new(vec![
        stripe_event("evt_4", "invoice.paid", created + 4),
        stripe_event("evt_3", "customer.created", created + 3),
        stripe_event("evt_2", "invoice.paid", created + 2),
        stripe_event("evt_1", "charge.succeeded", created + 1),
    ]);
    // The first call is rate limited (Retry-After), then two events per page.
    let stripe = MockApi::start(stripe_handler(events, Arc::new(Mutex::new(false)))).await;
    let outbox = scene.outbox().await;
    let present = AcceptedEvent::new(
        SOURCE,
        "evt_2".to_owned(),
        None,
        Bytes::from_static(b"{}"),
        now_millis(),
    );
    outbox.insert_pending(&present).await.expect("PutItem");
    let reconciler = stripe_reconciler(&scene, &stripe.base).await;

    let now = now_millis();
    let report = run(&reconciler, now).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!((report.listed, report.missing, report.recovered), (4, 3, 3));
    assert_eq!(
        report.window_since,
        Some(now - 7_200_000),
        "the first run looks back"
    );
    assert_eq!(
        report.checkpoint_after,
        Some(now),
        "settled up to the window's end"
    );
    assert_eq!(scene.checkpoint_at().await, Some(now));
    assert!(stripe
        .requests()
        .iter()
        .any(|r| r.contains("starting_after=evt_3")));
    let messages = scene.drain().await;
    assert_eq!(ids(&messages), ["evt_1", "evt_3", "evt_4"]);
    assert!(messages
        .iter()
        .all(|m| m.attribute("delivered-by") == Some("backfill")));

    // The next run starts at the checkpoint less the overlap, finds everything present.
    let later = now + 600_000;
    let again = run(&reconciler, later).await;
    assert_eq!(again.outcome, RunOutcome::Reconciled);
    assert_eq!(again.window_since, Some(now - 900_000));
    assert_eq!((again.missing, again.recovered), (0, 0));
    assert!(scene.drain().await.is_empty(), "nothing sent twice");
    let stored = outbox.checkpoint().await.expect("GetItem").expect("a row");
    let last = stored.last_run.expect("figures");
    assert_eq!((last.listed, last.missing, last.recovered), (4, 0, 0));
    assert_eq!(stored.lease_until, 0, "released");
    // The checkpoint row is no event: the outbox's own reads never see it.
    assert!(scene.stack.row(&checkpoint_key(SOURCE)).await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_error_mid_listing_leaves_the_checkpoint_and_the_next_run_recovers() {
    let scene = Scene::new(STRIPE_KEY).await;
    let created = now_millis() / 1000 - 600;
    let events: Vec<String> = (1..=3)
        .rev()
        .map(|n| stripe_event(&format!("evt_{n}"), "invoice.paid", created + n))
        .collect();
    let broken = Arc::new(Mutex::new(true));
    let inner = stripe_handler(Arc::new(events), Arc::new(Mutex::new(true)));
    let handler: Handler = {
        let broken = Arc::clone(&broken);
        Arc::new(move |method, path: String, headers| {
            if *broken.lock().expect("lock") && path.contains("starting_after") {
                return Box::pin(async {
                    reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &[],
                        json!({"error": {"type": "api_error", "message": "Something went wrong"}}),
                    )
                });
            }
            inner(method, path, headers)
        })
    };
    let stripe = MockApi::start(handler).await;
    let reconciler = stripe_reconciler(&scene, &stripe.base).await;

    let now = now_millis();
    let failed = run(&reconciler, now).await;
    assert_eq!(failed.outcome, RunOutcome::Failed, "{failed:?}");
    assert!(failed
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("Something went wrong"));
    assert_eq!(
        scene.checkpoint_at().await,
        None,
        "the checkpoint did not move"
    );
    assert!(scene.drain().await.is_empty());

    *broken.lock().expect("lock") = false;
    let recovered = run(&reconciler, now + 60_000).await;
    assert_eq!(recovered.outcome, RunOutcome::Reconciled, "{recovered:?}");
    assert_eq!(
        recovered.window_since,
        Some(now + 60_000 - 7_200_000),
        "still the first window"
    );
    assert_eq!(ids(&scene.drain().await), ["evt_1", "evt_2", "evt_3"]);
}

/// The second run starts while the first holds the lease (its first listing is held back until
/// the second has run). Two lease requests arriving in the same instant are DynamoDB's to order
/// (a conditional write on one item): moto's threaded server does not serialize them, so a test
/// of that instant would test moto.
#[tokio::test(flavor = "multi_thread")]
async fn a_reconciler_started_while_another_runs_skips_and_each_missing_event_is_sent_once() {
    let scene = Scene::new(STRIPE_KEY).await;
    let created = now_millis() / 1000 - 600;
    let events: Vec<String> = (1..=5)
        .rev()
        .map(|n| stripe_event(&format!("evt_{n}"), "invoice.paid", created + n))
        .collect();
    let listing = stripe_handler(Arc::new(events), Arc::new(Mutex::new(true)));
    let gate = Arc::new(tokio::sync::Notify::new());
    let first_request = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let listing_held = Arc::new(tokio::sync::Notify::new());
    let held_back: Handler = {
        let (gate, listing_held) = (Arc::clone(&gate), Arc::clone(&listing_held));
        Arc::new(move |method, path, headers| {
            let (listing, gate) = (Arc::clone(&listing), Arc::clone(&gate));
            let hold = first_request.swap(false, std::sync::atomic::Ordering::SeqCst);
            if hold {
                listing_held.notify_one();
            }
            Box::pin(async move {
                if hold {
                    gate.notified().await;
                }
                listing(method, path, headers).await
            })
        })
    };
    let stripe = MockApi::start(held_back).await;
    let (first, second) = (
        stripe_reconciler(&scene, &stripe.base).await,
        stripe_reconciler(&scene, &stripe.base).await,
    );
    let now = now_millis();
    let first_run = tokio::spawn(async move {
        let report = run(&first, now).await;
        (first, report)
    });
    tokio::time::timeout(Duration::from_secs(60), listing_held.notified())
        .await
        .expect("the first run lists (a timeout only guards a hang)");
    let b = run(&second, now).await;
    assert_eq!(b.outcome, RunOutcome::Skipped, "{b:?}");
    gate.notify_one();
    let (first, a) = tokio::time::timeout(Duration::from_secs(60), first_run)
        .await
        .expect("the first run ends")
        .expect("the first run");
    assert_eq!(a.outcome, RunOutcome::Reconciled, "{a:?}");
    assert_eq!(a.recovered + b.recovered, 5);
    assert_eq!(
        ids(&scene.drain().await),
        ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5"],
        "each once"
    );
    // And again, both at once, later: nothing more.
    let (a, b) = tokio::join!(run(&first, now + 60_000), run(&second, now + 60_000));
    assert_eq!(a.recovered + b.recovered, 0);
    assert!(scene.drain().await.is_empty());
}

/// GitHub's side with the ingress binary behind it (the github scheme, the hook's secret).
struct GitHubScene {
    scene: Scene,
    hook: Arc<Mutex<GitHubHook>>,
    api: MockApi,
    _ingress: e2e::processes::IngressProcess,
}

impl GitHubScene {
    async fn new(deliveries: Vec<(u64, &str, u16, String)>, too_old: &[&str]) -> Self {
        let scene = Scene::new(GITHUB_TOKEN).await;
        scene.stack.put_secret(GITHUB_SECRET).await;
        let binary = e2e::processes::ingress_binary().unwrap_or_else(|err| panic!("{err}"));
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let mut env = scene.stack.binary_env();
        env.push(("SIGNATURE_SCHEME".to_owned(), "github".to_owned()));
        let logs = std::env::temp_dir().join(e2e::testing::unique("reconciler-ingress"));
        std::fs::create_dir_all(&logs).expect("a log directory");
        let ingress = e2e::processes::IngressProcess::start(binary, env, address, logs)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let guids: Vec<String> = deliveries.iter().map(|d| d.1.to_owned()).collect();
        let hook = Arc::new(Mutex::new(GitHubHook {
            deliveries: deliveries
                .into_iter()
                .map(|(id, guid, status, at)| {
                    (id, guid.to_owned(), "issues".to_owned(), status, at)
                })
                .collect(),
            payloads: guids
                .iter()
                .map(|g| {
                    (
                        g.clone(),
                        Bytes::from(format!(r#"{{"action":"opened","guid":"{g}"}}"#)),
                    )
                })
                .collect(),
            next_id: 100,
            ingress_url: format!("http://{address}/"),
            too_old: too_old.iter().map(|g| (*g).to_owned()).collect(),
        }));
        let base = Arc::new(Mutex::new(String::new()));
        let api = MockApi::start(github_handler(Arc::clone(&hook), Arc::clone(&base))).await;
        *base.lock().expect("lock") = api.base.clone();
        Self {
            scene,
            hook,
            api,
            _ingress: ingress,
        }
    }

    async fn reconciler(&self, base: &str) -> Reconciler {
        self.scene
            .reconciler(&[
                ("RECONCILE_PROVIDER", "github"),
                ("RECONCILE_GITHUB_HOOK", HOOK),
                ("GITHUB_API_BASE", base),
            ])
            .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn github_failed_deliveries_are_redelivered_and_one_too_old_is_reported_not_retried() {
    let github = GitHubScene::new(
        vec![
            (19, "g-new", 404, ago(5)),
            (18, "g-ok", 200, ago(6)),
            (17, "g-ok", 404, ago(7)),
            (16, "g-unreachable", 0, ago(8)),
            (15, "g-too-old", 500, ago(9)),
        ],
        &["g-too-old"],
    )
    .await;
    let reconciler = github.reconciler(&github.api.base).await;
    let now = now_millis();
    let report = run(&reconciler, now).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!((report.listed, report.missing), (4, 3));
    assert_eq!(
        (report.recovered, report.unrecoverable, report.failed),
        (2, 1, 0)
    );
    assert!(
        report.failures[0].contains("g-too-old"),
        "{:?}",
        report.failures
    );
    assert_eq!(
        report.checkpoint_after,
        Some(now),
        "a final refusal holds nothing back"
    );
    let messages = github.scene.drain().await;
    assert_eq!(ids(&messages), ["g-new", "g-unreachable"]);
    assert!(
        messages
            .iter()
            .all(|m| m.attribute("delivered-by") == Some("ingress")),
        "through the signed path"
    );

    let again = run(&reconciler, now + 60_000).await;
    assert_eq!(again.recovered, 0, "{again:?}");
    assert!(github.scene.drain().await.is_empty(), "nothing asked twice");
    assert_eq!(
        github
            .api
            .count("POST /repos/acme/shop/hooks/42/deliveries/19/"),
        1
    );
    assert_eq!(
        github.hook.lock().expect("lock").deliveries.len(),
        7,
        "two redeliveries"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_redelivery_holds_the_checkpoint_and_a_run_killed_mid_way_is_repeated_without_duplicates(
) {
    let late_delivered_at = ago(10);
    let github = GitHubScene::new(
        vec![
            (12, "g-late", 404, late_delivered_at.clone()),
            (11, "g-hang", 502, ago(20)),
            (10, "g-early", 404, ago(30)),
        ],
        &[],
    )
    .await;
    // The API in front: the first redelivery of g-hang never answers (the run is killed while
    // waiting), and later a redelivery of g-late fails with a 5xx once.
    let hang = Arc::new(Mutex::new(true));
    let flaky = Arc::new(Mutex::new(false));
    let front_base = Arc::new(Mutex::new(String::new()));
    let inner = github_handler(Arc::clone(&github.hook), Arc::clone(&front_base));
    let reached_hang = Arc::new(tokio::sync::Notify::new());
    let handler: Handler = {
        let (hang, flaky) = (Arc::clone(&hang), Arc::clone(&flaky));
        let reached_hang = Arc::clone(&reached_hang);
        Arc::new(move |method, path: String, headers| {
            if path.ends_with("/deliveries/11/attempts")
                && std::mem::take(&mut *hang.lock().expect("lock"))
            {
                reached_hang.notify_one();
                return Box::pin(std::future::pending());
            }
            if path.ends_with("/deliveries/12/attempts")
                && std::mem::take(&mut *flaky.lock().expect("lock"))
            {
                return Box::pin(async {
                    reply(
                        StatusCode::BAD_GATEWAY,
                        &[],
                        json!({"message": "Server Error"}),
                    )
                });
            }
            inner(method, path, headers)
        })
    };
    let front = MockApi::start(handler).await;
    *front_base.lock().expect("lock") = front.base.clone();
    let reconciler = Arc::new(github.reconciler(&front.base).await);
    let now = now_millis();

    // Killed mid-run: g-early redelivered, then stuck on g-hang.
    let killed = tokio::spawn({
        let reconciler = Arc::clone(&reconciler);
        async move { run(&reconciler, now).await }
    });
    tokio::time::timeout(Duration::from_secs(60), reached_hang.notified())
        .await
        .unwrap_or_else(|_| panic!("the run did not reach g-hang: {:?}", front.requests()));
    assert!(!killed.is_finished(), "{:?}", killed.await);
    killed.abort();
    let _ = killed.await;
    assert_eq!(github.scene.checkpoint_at().await, None, "nothing recorded");
    // Within its lease no other run starts.
    let held = run(&reconciler, now + 1_000).await;
    assert_eq!(held.outcome, RunOutcome::Skipped);

    // After the lease: the run is repeated; g-late's redelivery fails this time.
    *flaky.lock().expect("lock") = true;
    let after_lease = now + LEASE_SECS * 1000 + 1;
    let report = run(&reconciler, after_lease).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!(report.failed, 1, "{report:?}");
    let held_at = report.checkpoint_after.expect("a checkpoint");
    assert_eq!(held_at, e2e_time(&late_delivered_at), "held at g-late");
    assert_eq!(github.scene.checkpoint_at().await, Some(held_at));
    // g-late is missing and not recovered: its age is what the horizon alarm watches.
    let age = u64::try_from((after_lease - held_at) / 1000).unwrap();
    assert_eq!(report.oldest_missing_age_secs, Some(age), "{report:?}");
    assert_eq!(
        reconciler::metrics_of(&report, None).get("ReconcileOldestMissingAgeSeconds"),
        age as f64
    );

    // The next run recovers g-late, and the checkpoint moves to its window's end.
    let next = after_lease + 60_000;
    let report = run(&reconciler, next).await;
    assert_eq!((report.recovered, report.failed), (1, 0), "{report:?}");
    assert_eq!(report.checkpoint_after, Some(next));
    assert_eq!(
        report.oldest_missing_age_secs,
        Some(0),
        "nothing left missing"
    );
    assert_eq!(
        ids(&github.scene.drain().await),
        ["g-early", "g-hang", "g-late"],
        "each event once on the queue"
    );
}

/// An RFC 3339 time (GitHub's) as epoch milliseconds.
fn e2e_time(text: &str) -> i64 {
    backfill::github::rfc3339_to_millis(text).expect("a time")
}

#[test]
fn the_binary_documents_its_settings() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .arg("--help")
        .output()
        .expect("run reconciler");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for setting in reconciler::ENV_VARS {
        assert!(help.contains(setting), "--help names {setting}");
    }
}

/// The binary under the Lambda runtime: a scheduled invocation is one run, its report the result.
#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_invocation_of_the_binary_is_one_run() {
    let scene = Scene::new(STRIPE_KEY).await;
    let created = now_millis() / 1000 - 600;
    let events = Arc::new(vec![stripe_event("evt_lambda", "invoice.paid", created)]);
    let stripe = MockApi::start(stripe_handler(events, Arc::new(Mutex::new(true)))).await;
    let runtime = e2e::testing::RuntimeApi::start().await;
    // What EventBridge Scheduler sends with its default (empty) input.
    runtime.invoke("reconcile-1", "{}".to_owned());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .env_clear()
        .envs(scene.stack.binary_env())
        .envs(runtime.lambda_env("reconciler"))
        .env("RECONCILE_PROVIDER", "stripe")
        .env("STRIPE_API_BASE", &stripe.base)
        .env("BACKFILL_CREDENTIAL_PARAMETER", &scene.credential)
        .env("RECONCILE_SETTLE_SECS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start reconciler");
    let answer = runtime.next_answer(Duration::from_secs(120)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answer.kind, "response", "{answer:?}");
    let report: serde_json::Value = serde_json::from_str(&answer.body).expect("a report");
    assert_eq!(report["outcome"], "reconciled", "{report}");
    assert_eq!(report["recovered"], 1);
    assert_eq!(ids(&scene.drain().await), ["evt_lambda"]);
    assert!(scene.checkpoint_at().await.is_some());
}
