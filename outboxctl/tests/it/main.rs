//! outboxctl end to end: the built binary against moto, each test with its own table, queue, DLQ
//! and secret parameter (provisioned like the local stack), the scene set up with the same
//! adapters the ingress and the sweeper use.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use bytes::Bytes;
use e2e::proxy::{Fault, FaultProxy, FaultRules, ProxyConfig};
use e2e::samples::with_long_names;
use e2e::testing::{provision, sdk_config, ReceivedMessage, Resources, STANDARD_SECRET};
use serde_json::Value;
use shared::aws::dynamodb::{after_sent, pending_item, sent_changes, DynamoDbOutbox};
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::SqsQueue;
use shared::aws::CallLimits;
use shared::config::SweeperConfig;
use shared::event::{shard_of, AcceptedEvent};
use shared::large_body::{
    object_key, parse_pointer_message_body, BodyPointer, STATE_SENT, STATE_TAG, STATE_UNSENT,
};
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{InsertOutcome, MarkOutcome};
use shared::time::now_millis;

mod backfill;

const SOURCE: &str = "market";
const SHARDS: &str = "4";

/// A test's own resources, the adapters on them, and a way to run the binary against them.
struct Scene {
    resources: Resources,
    /// Where outboxctl sends its AWS calls: moto, or a proxy in front of it that counts them.
    endpoint: String,
    outbox: DynamoDbOutbox,
    queue: SqsQueue,
    dlq: SqsQueue,
    sqs: aws_sdk_sqs::Client,
    /// The large-body bucket on moto, directly (S3 claim check).
    s3: aws_sdk_s3::Client,
    /// The AWS settings on moto, for clients the adapters do not cover.
    sdk: aws_config::SdkConfig,
}

/// What one run of the binary printed and returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}\n{}", self.stdout, self.stderr))
    }
}

impl Scene {
    async fn new(prefix: &str) -> Self {
        let resources = provision(prefix, STANDARD_SECRET).unwrap_or_else(|err| panic!("{err}"));
        let sdk = sdk_config(&resources.endpoint, CallLimits::background()).await;
        let (dynamodb, sqs) = (
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
        );
        // The test's own view of the table goes through the same adapter as outboxctl's.
        Self {
            endpoint: resources.endpoint.clone(),
            outbox: DynamoDbOutbox::new(dynamodb, &resources.table, SOURCE, 4),
            queue: SqsQueue::new(sqs.clone(), &resources.queue_url),
            dlq: SqsQueue::new(sqs.clone(), &resources.dlq_url),
            resources,
            sqs,
            s3: shared::aws::s3_client(&sdk),
            sdk,
        }
    }

    /// Stores `event`'s body in the bucket, as the ingress does for a body the row cannot hold,
    /// and returns the event pointing to it.
    async fn in_s3(&self, event: AcceptedEvent) -> AcceptedEvent {
        let pointer = BodyPointer {
            bucket: self.resources.bucket.clone(),
            key: object_key("", &event.key, &event.body_sha256),
            size: event.body.len() as u64,
        };
        S3BodyStore::new(self.s3.clone(), None)
            .put(&pointer, event.body.clone())
            .await
            .expect("PutObject");
        event.with_claim_check(pointer)
    }

    /// The bytes a worker gets: an Extended Client pointer followed to its object.
    async fn worker_body(&self, message: &ReceivedMessage) -> Vec<u8> {
        match parse_pointer_message_body(&message.body) {
            Some((bucket, key)) => S3BodyStore::new(self.s3.clone(), None)
                .get(&bucket, &key)
                .await
                .expect("GetObject")
                .to_vec(),
            None => message.raw_body(),
        }
    }

    /// The `outbox-state` tag of a stored body.
    async fn body_state(&self, key: &str) -> Option<String> {
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&self.resources.bucket)
            .key(key)
            .send()
            .await
            .expect("GetObjectTagging");
        tags.tag_set()
            .iter()
            .find(|tag| tag.key() == STATE_TAG)
            .map(|tag| tag.value().to_owned())
    }

    /// The environment a deployed function would have (no DLQ_URL: it is found from the
    /// queue's RedrivePolicy), plus the AWS settings of the emulator.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SOURCE_NAME", SOURCE.to_owned()),
            ("OUTBOX_TABLE", self.resources.table.clone()),
            ("QUEUE_URL", self.resources.queue_url.clone()),
            ("SECRET_PARAMETER", self.resources.parameter.clone()),
            ("PENDING_SHARDS", SHARDS.to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
    }

    /// Runs outboxctl in a directory without `.local/env`, so only this environment counts.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&[], args)
    }

    /// Like [`Scene::run`], with variables added to the function's environment.
    fn run_with(&self, extra: &[(&str, String)], args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_outboxctl"))
            .args(args)
            .env_clear()
            .envs(self.env())
            .envs(extra.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run outboxctl");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    async fn insert(&self, event: &AcceptedEvent) {
        let inserted = self.outbox.insert_pending(event).await.expect("PutItem");
        assert_eq!(inserted, InsertOutcome::Inserted);
    }

    /// Marks `event`'s row sent by the ingress, as after a first delivery with `message_id`.
    async fn mark_sent(&self, event: &AcceptedEvent, message_id: &str) {
        let marked = self
            .outbox
            .mark_sent(
                &event.key,
                event.received_at,
                message_id,
                DeliveredBy::Ingress,
                now_millis(),
                Duration::from_secs(86_400),
            )
            .await
            .expect("UpdateItem");
        assert_eq!(marked, MarkOutcome::Marked);
    }

    /// Every message on the main queue, received and deleted.
    async fn drain(&self) -> Vec<ReceivedMessage> {
        let mut messages = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            let batch = self.queue.receive(10, 60).await.expect("ReceiveMessage");
            if batch.is_empty() {
                empty += 1;
            }
            for message in batch {
                self.queue.delete(&message).await.expect("DeleteMessage");
                messages.push(ReceivedMessage {
                    body: message.body.clone(),
                    attributes: message
                        .attributes
                        .iter()
                        .map(|(name, value)| {
                            (
                                name.clone(),
                                value.string_value().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                });
            }
        }
        messages
    }
}

fn event(id: &str, event_type: &str, body: &[u8], received_at: i64) -> AcceptedEvent {
    AcceptedEvent::new(
        SOURCE,
        id.to_owned(),
        Some(event_type.to_owned()),
        Bytes::copy_from_slice(body),
        received_at,
    )
}

/// Parks `events` the way production does: sweeps while SQS refuses each of their messages.
async fn park_by_sweeps_sqs_refuses(scene: &Scene, events: &[AcceptedEvent]) {
    for event in events {
        scene.insert(event).await;
    }
    let refused = FaultRules::none().with("sqs:SendMessageBatch", Fault::RejectEntries, 1.0);
    let proxy = FaultProxy::start(ProxyConfig::new(scene.resources.moto, refused, 5))
        .await
        .expect("start the proxy");
    let sdk = sdk_config(&proxy.endpoint(), CallLimits::background()).await;
    let config = SweeperConfig::from_env(&HashMap::from([
        ("SOURCE_NAME", SOURCE),
        ("OUTBOX_TABLE", scene.resources.table.as_str()),
        ("QUEUE_URL", scene.resources.queue_url.as_str()),
        ("PENDING_SHARDS", SHARDS),
        ("GRACE_SECS", "0"),
        ("MAX_ATTEMPTS", "2"),
    ]))
    .expect("sweeper config");
    let sweeper = sweeper::Sweeper::new(
        config,
        scene.outbox.clone(),
        SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &scene.resources.queue_url),
    );
    let mut parked = 0;
    for _ in 0..2 {
        let report = sweeper
            .sweep_once(now_millis(), Instant::now() + Duration::from_secs(600))
            .await;
        parked += report.parked;
    }
    assert_eq!(
        parked,
        events.len() as u64,
        "every row parked after 2 failed sweeps"
    );
}

/// Sends `events` as the ingress would and lets a failing worker receive each one until SQS
/// moves it to the DLQ (maxReceiveCount 5).
async fn fail_into_the_dlq(scene: &Scene, events: &[AcceptedEvent]) {
    for event in events {
        scene.insert(event).await;
        let message = OutgoingMessage::for_event(event, DeliveredBy::Ingress);
        let id = scene.queue.send(&message).await.expect("SendMessage");
        scene.mark_sent(event, &id).await;
    }
    // Counted in receives, not seconds: each message needs 6 receives (the 6th moves it), and
    // a receive returns up to 10, so this many rounds is far more than enough.
    let rounds = 10 * (events.len() + 10);
    for _ in 0..rounds {
        let depth = scene.dlq.depth().await.expect("DLQ depth");
        if depth.visible as usize == events.len() {
            return;
        }
        // A worker that fails: receive, never delete, visible again at once.
        scene.queue.receive(10, 0).await.expect("ReceiveMessage");
    }
    let depth = scene.dlq.depth().await.expect("DLQ depth");
    panic!("messages did not reach the DLQ after {rounds} receives: {depth:?}");
}

fn keys_of(listed: &Value) -> Vec<String> {
    listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|row| row["key"].as_str().expect("key").to_owned())
        .collect()
}

/// The IAM actions behind the operations a proxy saw (batch calls are authorised by the single call).
fn iam_actions_called(proxy: &FaultProxy) -> BTreeSet<String> {
    proxy
        .stats()
        .requests
        .keys()
        .flat_map(|operation| match operation.as_str() {
            "sqs:ChangeMessageVisibilityBatch" => vec!["sqs:ChangeMessageVisibility"],
            "sqs:SendMessageBatch" => vec!["sqs:SendMessage"],
            // The re-tag of a body in S3: a copy onto itself that reads its source.
            "s3:CopyObject" => vec!["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            other => vec![other],
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_is_diagnosed_and_repaired_with_outboxctl_alone() {
    let mut scene = Scene::new("outboxctl-incident").await;
    // Every AWS call outboxctl makes goes through a proxy that names each operation.
    let proxy = FaultProxy::start(ProxyConfig::new(
        scene.resources.moto,
        FaultRules::none(),
        7,
    ))
    .await
    .expect("start the proxy");
    scene.endpoint = proxy.endpoint();
    let now = now_millis();
    let minute = 60_000;

    // Parked: the queue was missing while the sweeper ran (one binary body, base64 on the queue).
    // The third one's body is over what a row holds: in S3, the row holding a pointer.
    let mut parked: Vec<AcceptedEvent> = (0..3)
        .map(|n| {
            let body: Vec<u8> = match n {
                0 => b"\x00\xffbinary parked".to_vec(),
                1 => format!(r#"{{"type":"order.paid","n":{n}}}"#).into_bytes(),
                _ => format!(
                    r#"{{"type":"order.paid","n":{n},"pad":"{}"}}"#,
                    "p".repeat(500_000)
                )
                .into_bytes(),
            };
            event(
                &format!("parked-{n}"),
                "order.paid",
                &body,
                now - 180 * minute + n,
            )
        })
        .collect();
    let large = parked.pop().expect("three parked events");
    parked.push(scene.in_s3(large).await);
    let large_key = parked[2].claim_check.as_ref().expect("in S3").key.clone();
    park_by_sweeps_sqs_refuses(&scene, &parked).await;
    // In the DLQ: delivered, but a worker failed on each five times.
    let dead: Vec<AcceptedEvent> = (0..3)
        .map(|n| {
            let body = format!(r#"{{"type":"order.refunded","n":{n}}}"#);
            event(
                &format!("dead-{n}"),
                "order.refunded",
                body.as_bytes(),
                now - 90 * minute,
            )
        })
        .collect();
    fail_into_the_dlq(&scene, &dead).await;
    // Needed again: sent and consumed an hour ago, then a worker bug lost what it did with it.
    let lost = event(
        "lost-0",
        "invoice.created",
        br#"{"type":"invoice.created","total":42}"#,
        now - 60 * minute,
    );
    scene.insert(&lost).await;
    let first_id = scene
        .queue
        .send(&OutgoingMessage::for_event(&lost, DeliveredBy::Ingress))
        .await
        .expect("SendMessage");
    scene
        .outbox
        .mark_sent(
            &lost.key,
            lost.received_at,
            &first_id,
            DeliveredBy::Ingress,
            now,
            Duration::from_secs(86_400),
        )
        .await
        .expect("UpdateItem");
    assert_eq!(
        scene.drain().await.len(),
        1,
        "the worker took the lost event"
    );
    // A backlog of pending rows the sweeper has not sent for 20 minutes.
    let backlog: Vec<AcceptedEvent> = (0..4)
        .map(|n| {
            let body = format!(r#"{{"type":"order.created","n":{n}}}"#);
            event(
                &format!("pending-{n}"),
                "order.created",
                body.as_bytes(),
                now - 20 * minute + n,
            )
        })
        .collect();
    for row in &backlog {
        scene.insert(row).await;
    }

    // Diagnose.
    let before = scene.run(&["status"]);
    assert_eq!(before.code, 3, "{}{}", before.stdout, before.stderr);
    assert!(
        before.stdout.contains("verdict: attention"),
        "{}",
        before.stdout
    );
    let figures = scene.run(&["--json", "status"]).json()["figures"].clone();
    assert_eq!(
        (
            figures["parked"].as_u64(),
            figures["pending"].as_u64(),
            figures["dlq"]["visible"].as_u64()
        ),
        (Some(3), Some(4), Some(3)),
        "{figures}"
    );
    assert!(figures["oldest_pending_age_secs"].as_f64().unwrap() > 1_100.0);

    let parked_list = scene.run(&["--json", "list", "--status", "parked"]).json();
    let mut parked_keys = keys_of(&parked_list);
    parked_keys.sort();
    assert_eq!(
        parked_keys,
        parked.iter().map(|e| e.key.clone()).collect::<Vec<_>>()
    );
    assert!(
        parked_list[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("InvalidParameterValue"),
        "the parked row says why: {parked_list}"
    );
    let window = scene
        .run(&[
            "--json", "list", "--status", "pending", "--since", "30m", "--limit", "2",
        ])
        .json();
    assert_eq!(
        keys_of(&window),
        vec![backlog[0].key.clone(), backlog[1].key.clone()],
        "oldest first, limited"
    );
    let shown = scene.run(&["show", "parked-1"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("\"n\": 1") && shown.stdout.contains("attempts"),
        "{}",
        shown.stdout
    );
    let raw = Command::new(env!("CARGO_BIN_EXE_outboxctl"))
        .args(["show", &parked[0].key, "--body"])
        .env_clear()
        .envs(scene.env())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run outboxctl");
    assert_eq!(
        raw.stdout,
        parked[0].body.to_vec(),
        "--body writes the exact bytes"
    );
    // A row whose body is in S3: `show` reads the object, `--body` writes its exact bytes.
    let shown_large = scene.run(&["show", "parked-2"]);
    assert_eq!(shown_large.code, 0, "{}", shown_large.stderr);
    assert!(
        shown_large.stdout.contains("body_s3_key") && shown_large.stdout.contains("\"n\": 2"),
        "{}",
        shown_large.stdout
    );
    let raw_large = Command::new(env!("CARGO_BIN_EXE_outboxctl"))
        .args(["show", "parked-2", "--body"])
        .env_clear()
        .envs(scene.env())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run outboxctl");
    assert!(
        raw_large.stdout == parked[2].body.to_vec(),
        "--body writes the S3 object's exact bytes"
    );
    assert_eq!(
        scene.body_state(&large_key).await.as_deref(),
        Some(STATE_UNSENT)
    );
    let dlq_list = scene.run(&["--json", "dlq", "list"]).json();
    assert_eq!(dlq_list.as_array().map(Vec::len), Some(3), "{dlq_list}");

    // Repair. A dry run first changes nothing.
    let dry = scene.run(&["resend", "--status", "parked"]);
    assert!(
        dry.code == 0 && dry.stdout.contains("dry run"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        scene.run(&["--json", "status"]).json()["figures"]["parked"],
        3
    );

    let resent = scene.run(&["--json", "resend", "--status", "parked", "--yes"]);
    assert_eq!(resent.code, 0, "{}{}", resent.stdout, resent.stderr);
    let pending_ids: Vec<String> = backlog.iter().map(|e| e.event_id.clone()).collect();
    let mut args = vec!["resend", "--yes"];
    args.extend(pending_ids.iter().map(String::as_str));
    let resent = scene.run(&args);
    assert_eq!(resent.code, 0, "{}{}", resent.stdout, resent.stderr);
    let redriven = scene.run(&["--json", "dlq", "redrive", "--yes"]);
    assert_eq!(redriven.code, 0, "{}{}", redriven.stdout, redriven.stderr);
    assert_eq!(redriven.json()["moved"], 3);
    let replay_args = [
        "replay",
        "--since",
        "70m",
        "--until",
        "50m",
        "--event-type",
        "invoice.created",
    ];
    let counted = scene
        .run(&[&["--json"][..], &replay_args, &["--dry-run"]].concat())
        .json();
    assert_eq!(
        (counted["matched"].as_u64(), counted["sent"].as_u64()),
        (Some(1), Some(0)),
        "{counted}"
    );
    assert!(
        counted["items_scanned"].as_u64().unwrap() >= 11,
        "a Scan reads every row: {counted}"
    );
    let replayed = scene.run(&[&replay_args[..], &["--yes"]].concat());
    assert_eq!(replayed.code, 0, "{}{}", replayed.stdout, replayed.stderr);

    // Healthy again, and every affected event is on the queue, byte for byte.
    let after = scene.run(&["status"]);
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert!(after.stdout.contains("verdict: ok"), "{}", after.stdout);
    let on_queue = scene.drain().await;
    let by_id: HashMap<String, &ReceivedMessage> = on_queue
        .iter()
        .map(|m| (m.attribute("event-id").unwrap_or_default().to_owned(), m))
        .collect();
    assert_eq!(
        on_queue.len(),
        11,
        "one message per affected event, no more"
    );
    for event in parked.iter().chain(&backlog).chain(&dead).chain([&lost]) {
        let message = by_id
            .get(&event.event_id)
            .unwrap_or_else(|| panic!("{} is not on the queue", event.event_id));
        assert!(
            scene.worker_body(message).await == event.body.to_vec(),
            "{} byte-exact",
            event.event_id
        );
    }
    // Resent: the body in S3 was re-tagged sent, so the bucket's lifecycle rule may expire it.
    assert_eq!(
        scene.body_state(&large_key).await.as_deref(),
        Some(STATE_SENT)
    );
    for event in parked.iter().chain(&backlog) {
        assert_eq!(
            by_id[&event.event_id].attribute("delivered-by"),
            Some("outboxctl")
        );
        let row = scene.outbox.view(&event.key).await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.attribute("delivered_by")),
            ("sent", Some("outboxctl"))
        );
    }
    for event in &dead {
        assert_eq!(
            by_id[&event.event_id].attribute("delivered-by"),
            Some("ingress"),
            "redrive keeps attributes"
        );
    }
    assert_eq!(
        by_id[&lost.event_id].attribute("replay-of"),
        Some(first_id.as_str())
    );
    assert_eq!(
        by_id[&lost.event_id].attribute("delivered-by"),
        Some("outboxctl")
    );

    // Least privilege, checked at run time: every operation outboxctl called is in its declared
    // IAM actions, and the incident used every declared action but the deployed-only ones
    // (the Lambda API for --function and send-test's URL) and backfill's PutItem (a Stripe
    // event's row; the backfill tests make it).
    let called = iam_actions_called(&proxy);
    let declared: BTreeSet<String> = outboxctl::OUTBOXCTL_IAM_ACTIONS
        .iter()
        .map(|action| (*action).to_owned())
        .collect();
    let deployed_only: BTreeSet<String> = [
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionUrlConfig",
        "dynamodb:PutItem",
    ]
    .iter()
    .map(|action| (*action).to_owned())
    .collect();
    assert_eq!(
        called,
        &declared - &deployed_only,
        "called {called:?}, declared {declared:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parking_by_hand_is_kept_apart_and_discard_says_who_and_why() {
    let scene = Scene::new("outboxctl-discard").await;
    let swept = event("swept", "test.only", b"{\"n\":1}", now_millis() - 50_000);
    park_by_sweeps_sqs_refuses(&scene, std::slice::from_ref(&swept)).await;
    let row = event("doomed", "test.only", b"{}", now_millis() - 60_000);
    scene.insert(&row).await;

    let no_reason = scene.run(&["park", "doomed", "--yes"]);
    assert_eq!(no_reason.code, 2, "a park needs --reason");
    let parked = scene.run(&["park", "doomed", "--reason", "poison body", "-y"]);
    assert_eq!(parked.code, 0, "{}", parked.stderr);
    let view = scene.outbox.view(&row.key).await.unwrap().unwrap();
    assert_eq!(view.status, "parked");
    assert_eq!(view.attribute("park_reason"), Some("poison body"));
    assert!(
        view.attribute("parked_by")
            .is_some_and(|by| by.starts_with("arn:aws:")),
        "{view:?}"
    );
    let again = scene.run(&["park", "doomed", "--reason", "again", "--yes"]);
    assert_eq!(again.code, 3, "every row skipped: {}", again.stdout);

    // Listing parked rows shows what waits for a person: exit 3, the event id, who parked it.
    let listed = scene.run(&["--json", "list", "--status", "parked"]);
    assert_eq!(listed.code, 3, "{}", listed.stderr);
    let listed = listed.json();
    let doomed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == row.key.as_str())
        .expect("listed");
    assert_eq!(doomed["event_id"], "doomed");
    assert_eq!(doomed["park_reason"], "poison body");

    // A bulk resend leaves the row parked on purpose, and says how to include it.
    let resent = scene.run(&["--json", "resend", "--status", "parked", "--yes"]);
    assert_eq!(resent.code, 3, "{}{}", resent.stdout, resent.stderr);
    assert!(
        resent.stderr.contains("--include-parked-by-hand"),
        "{}",
        resent.stderr
    );
    let on_queue = scene.drain().await;
    assert_eq!(on_queue.len(), 1, "only the row the sweeper parked");
    assert_eq!(on_queue[0].attribute("event-id"), Some("swept"));
    assert_eq!(
        scene.outbox.view(&row.key).await.unwrap().unwrap().status,
        "parked"
    );

    // Unpark: pending again, no attempts, for the sweeper.
    let unparked = scene.run(&["unpark", "doomed", "--yes"]);
    assert_eq!(unparked.code, 0, "{}{}", unparked.stdout, unparked.stderr);
    let view = scene.outbox.view(&row.key).await.unwrap().unwrap();
    assert_eq!(view.status, "pending");
    assert_eq!(view.attribute("attempts"), Some("0"));
    assert_eq!(view.attribute("parked_by"), None);
    assert!(view
        .attribute("unsent_key")
        .is_some_and(|key| key.starts_with("pending#")));

    let refused = scene.run(&["discard", "doomed", "--yes"]);
    assert_eq!(refused.code, 2, "a discard needs --reason");
    let discarded = scene.run(&[
        "discard",
        "doomed",
        "--reason",
        "provider test event",
        "--yes",
    ]);
    assert_eq!(discarded.code, 0, "{}", discarded.stderr);
    assert!(
        discarded.stdout.contains("may still send it once"),
        "says what a sweep under way may do: {}",
        discarded.stdout
    );
    let kept = scene
        .outbox
        .view(&row.key)
        .await
        .unwrap()
        .expect("the row is kept");
    assert_eq!(kept.status, "discarded");
    assert_eq!(
        kept.attribute("discard_reason"),
        Some("provider test event")
    );
    assert!(
        kept.attribute("discarded_by")
            .is_some_and(|by| by.starts_with("arn:aws:")),
        "the AWS identity that discarded it: {kept:?}"
    );
    assert!(kept.attribute("expires_at").is_some());
    assert!(
        kept.attribute("unsent_key").is_none(),
        "out of the unsent index"
    );
    assert_eq!(kept.body.as_deref(), Some(&b"{}"[..]));

    let resend = scene.run(&["--json", "resend", "doomed", "--yes"]);
    assert_eq!(resend.code, 3, "a skipped row needs a look");
    assert_eq!(
        resend.json()[0]["result"],
        "skipped",
        "a discarded row is not sent: {}{}",
        resend.stdout,
        resend.stderr
    );
    assert!(scene.drain().await.is_empty());
    let status = scene.run(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resend_batches_and_on_an_aws_error_says_what_is_left_and_how_to_continue() {
    let mut scene = Scene::new("outboxctl-resend-stop").await;
    let events: Vec<AcceptedEvent> = (0..3)
        .map(|n| event(&format!("stuck-{n}"), "t", b"{}", now_millis() - 60_000 + n))
        .collect();
    park_by_sweeps_sqs_refuses(&scene, &events).await;
    let proxy = FaultProxy::start(ProxyConfig::new(
        scene.resources.moto,
        FaultRules::none()
            .with("sqs:SendMessageBatch", Fault::Error500, 1.0)
            .with("sqs:SendMessage", Fault::Error500, 1.0),
        11,
    ))
    .await
    .expect("start the proxy");
    scene.endpoint = proxy.endpoint();

    let stopped = scene.run(&["resend", "--status", "parked", "--since", "1h", "--yes"]);
    assert_eq!(stopped.code, 1, "{}{}", stopped.stdout, stopped.stderr);
    assert!(
        stopped.stderr.contains("sent 0, failed 0, skipped 0, left 3")
            && stopped
                .stderr
                .contains("next: fix the cause (the error above), then `outboxctl resend --status parked --since '1h' --yes`"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("window (UTC): received "),
        "{}",
        stopped.stderr
    );

    proxy.set_rules(FaultRules::none()).expect("rules");
    let before = proxy.stats();
    let resent = scene.run(&["resend", "--status", "parked", "--since", "1h", "--yes"]);
    assert_eq!(resent.code, 0, "{}{}", resent.stdout, resent.stderr);
    assert!(
        resent.stdout.contains("sent 3 · failed 0"),
        "{}",
        resent.stdout
    );
    assert_eq!(scene.drain().await.len(), 3);
    let stats = proxy.stats();
    assert_eq!(
        (
            stats.requests_for("sqs:SendMessageBatch")
                - before.requests_for("sqs:SendMessageBatch"),
            stats.requests_for("sqs:SendMessage") - before.requests_for("sqs:SendMessage")
        ),
        (1, 0),
        "one batch for three rows once SQS answers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn show_prints_the_row_before_an_s3_error_and_every_command_says_where_it_points() {
    let scene = Scene::new("outboxctl-show-s3").await;
    let pending = scene
        .in_s3(event(
            "lost-body",
            "t",
            b"{\"big\":true}",
            now_millis() - 60_000,
        ))
        .await;
    scene.insert(&pending).await;
    scene
        .s3
        .delete_object()
        .bucket(&scene.resources.bucket)
        .key(&pending.claim_check.as_ref().expect("in S3").key)
        .send()
        .await
        .expect("DeleteObject");
    let shown = scene.run(&["show", "lost-body"]);
    assert_eq!(shown.code, 1, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("pending") && shown.stdout.contains("body_s3_key"),
        "the row first: {}",
        shown.stdout
    );
    assert!(
        shown.stderr.contains("cannot be read"),
        "then the S3 error: {}",
        shown.stderr
    );
    let pointing = format!(
        "outboxctl: environment variables · table {} · queue {} · source {SOURCE}",
        scene.resources.table, scene.resources.queue_url
    );
    assert!(shown.stderr.contains(&pointing), "{}", shown.stderr);

    // A `.local/env` in the current directory wins; a change then says it is not AWS.
    let dir = std::env::temp_dir().join(e2e::testing::unique("outboxctl-local"));
    std::fs::create_dir_all(dir.join(".local")).expect("mkdir");
    let env_file: String = scene
        .env()
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::write(dir.join(".local/env"), env_file).expect("write .local/env");
    let in_local = |extra: &[(&str, &str)], args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_outboxctl"))
            .args(args)
            .env_clear()
            .envs(extra.iter().copied())
            .current_dir(&dir)
            .output()
            .expect("run outboxctl");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = in_local(&[], &["list", "--status", "pending"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("outboxctl: local stack (.local/env) · table "),
        "{stderr}"
    );
    let (code, stderr) = in_local(
        &[("AWS_PROFILE", "production")],
        &["park", "lost-body", "--reason", "test", "--yes"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("changes the LOCAL stack") && stderr.contains("AWS_PROFILE=production"),
        "{stderr}"
    );
}
#[tokio::test(flavor = "multi_thread")]
async fn errors_say_what_to_do_next() {
    let scene = Scene::new("outboxctl-errors").await;
    let missing = scene.run(&["--table", "no-such-table", "status"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("next:") && missing.stderr.contains("OUTBOX_TABLE"),
        "{}",
        missing.stderr
    );
    // The error names the call and the service's code, and the SDK's own text follows once.
    let error_line = missing
        .stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error_line.contains("DynamoDB") && error_line.contains("failed: ResourceNotFoundException"),
        "{error_line}"
    );
    assert_eq!(
        error_line.matches("Requested resource not found").count(),
        1,
        "{error_line}"
    );
    let unknown = scene.run(&["show", "never-received"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("no outbox row market:never-received"),
        "{}",
        unknown.stderr
    );
    let usage = scene.run(&["list", "--status", "sent"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_routed_queue_s_dlq_shows_in_status_and_is_redriven_to_that_queue() {
    let scene = Scene::new("outboxctl-routes").await;
    let orders =
        provision("outboxctl-orders", STANDARD_SECRET).unwrap_or_else(|err| panic!("{err}"));
    let routes = vec![(
        "ROUTES",
        format!(
            r#"[{{"name":"orders","pointer":"/type","prefix":"order.","queue_url":"{}"}}]"#,
            orders.queue_url
        ),
    )];
    let event = event(
        "ord-1",
        "order.created",
        br#"{"type":"order.created","n":1}"#,
        now_millis(),
    );
    let orders_dlq = scene.queue.sibling(orders.dlq_url.clone());
    orders_dlq
        .send(&OutgoingMessage::for_event(&event, DeliveredBy::Ingress))
        .await
        .expect("SendMessage to the routed DLQ");

    let before = scene.run_with(&routes, &["--json", "status"]);
    assert_eq!(before.code, 3, "{}{}", before.stdout, before.stderr);
    let json = before.json();
    assert_eq!(
        json["figures"]["routed"][0]["url"],
        orders.queue_url.as_str()
    );
    assert_eq!(json["figures"]["routed"][0]["dlq"]["visible"], 1);
    assert_eq!(
        json["figures"]["dlq"]["visible"], 0,
        "the main DLQ is empty"
    );
    let reason = json["status"]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("outboxctl dlq --route orders redrive --yes"),
        "{reason}"
    );
    let listed = scene.run_with(&routes, &["--json", "dlq", "--route", "orders", "list"]);
    assert_eq!(listed.json()[0]["event_id"], "ord-1", "{}", listed.stdout);
    let unknown = scene.run_with(&routes, &["dlq", "--route", "nope", "list"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("routes: orders"),
        "{}",
        unknown.stderr
    );

    let moved = scene.run_with(
        &routes,
        &["dlq", "--route", "orders", "redrive", "--by-copy", "--yes"],
    );
    assert_eq!(moved.code, 0, "{}{}", moved.stdout, moved.stderr);
    let orders_queue = scene.queue.sibling(orders.queue_url.clone());
    let received = orders_queue.receive(10, 60).await.expect("ReceiveMessage");
    assert_eq!(received.len(), 1, "the message is back on its own queue");
    assert_eq!(received[0].body, r#"{"type":"order.created","n":1}"#);
    assert!(scene.drain().await.is_empty(), "nothing on the main queue");
    let after = scene.run_with(&routes, &["status"]);
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert!(after.stdout.contains("dlq of "), "{}", after.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_renews_a_body_in_s3_and_dlq_show_follows_a_pointer() {
    let scene = Scene::new("outboxctl-s3-replay").await;
    let body = format!(r#"{{"type":"order.paid","pad":"{}"}}"#, "q".repeat(450_000));
    let replayed = scene
        .in_s3(event(
            "big-1",
            "order.paid",
            body.as_bytes(),
            now_millis() - 120_000,
        ))
        .await;
    let gone = scene
        .in_s3(event(
            "big-2",
            "order.paid",
            b"{\"type\":\"order.paid\",\"gone\":true}",
            now_millis() - 110_000,
        ))
        .await;
    for sent in [&replayed, &gone] {
        scene.insert(sent).await;
        scene.mark_sent(sent, "m-first").await;
    }
    // The second body's object is gone (say a lifecycle rule took it): no pointer to nothing.
    let gone_key = gone.claim_check.as_ref().expect("in S3").key.clone();
    scene
        .s3
        .delete_object()
        .bucket(&scene.resources.bucket)
        .key(&gone_key)
        .send()
        .await
        .expect("DeleteObject");
    let key = replayed.claim_check.as_ref().expect("in S3").key.clone();
    assert_eq!(scene.body_state(&key).await.as_deref(), Some(STATE_UNSENT));

    let run = scene.run(&[
        "--json", "replay", "--since", "10m", "--until", "0s", "--yes",
    ]);
    assert_eq!(
        run.code, 1,
        "one event could not be replayed: {}{}",
        run.stdout, run.stderr
    );
    let failed = run.json()["failed"].to_string();
    assert!(
        failed.contains("big-2") && failed.contains("could not be renewed"),
        "{failed}"
    );
    assert_eq!(
        scene.body_state(&key).await.as_deref(),
        Some(STATE_SENT),
        "the replay restarted the object's life"
    );
    let messages = scene.drain().await;
    assert_eq!(messages.len(), 1, "only the event whose body exists");
    assert_eq!(scene.worker_body(&messages[0]).await, body.as_bytes());

    // The same pointer in the DLQ: `dlq show --body` writes the webhook's bytes, not the pointer.
    scene
        .dlq
        .send(&OutgoingMessage::for_event(&replayed, DeliveredBy::Ingress))
        .await
        .expect("SendMessage to the DLQ");
    let shown = scene.run(&["dlq", "show", "big-1", "--body"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout == body, "the S3 object's exact bytes");
}

/// A FIFO queue with its FIFO DLQ (maxReceiveCount 5), as the Terraform module makes them.
async fn fifo_queue_with_dlq(scene: &Scene, name: &str) -> (String, String) {
    let create = |name: String, attributes: Vec<(QueueAttributeName, String)>| {
        let mut request = scene
            .sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::FifoQueue, "true");
        for (key, value) in attributes {
            request = request.attributes(key, value);
        }
        request.send()
    };
    let dlq_url = create(
        e2e::testing::unique(&format!("{name}-dlq")) + ".fifo",
        vec![],
    )
    .await
    .expect("CreateQueue")
    .queue_url
    .expect("DLQ URL");
    let dlq_arn = scene
        .queue
        .sibling(dlq_url.clone())
        .arn()
        .await
        .expect("DLQ ARN");
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5});
    let queue_url = create(
        e2e::testing::unique(name) + ".fifo",
        vec![(QueueAttributeName::RedrivePolicy, redrive.to_string())],
    )
    .await
    .expect("CreateQueue")
    .queue_url
    .expect("queue URL");
    (queue_url, dlq_url)
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_fifo_route_replay_gets_past_deduplication_and_redrive_keeps_the_group() {
    let scene = Scene::new("outboxctl-fifo").await;
    let (orders_url, orders_dlq_url) = fifo_queue_with_dlq(&scene, "ctl-orders").await;
    let routes = vec![(
        "ROUTES",
        format!(
            r#"[{{"name":"orders","pointer":"/type","prefix":"order.","queue_url":"{orders_url}","group_pointer":"/order"}}]"#
        ),
    )];
    let orders = scene.queue.sibling(orders_url.clone());
    let mut sent = event(
        "ord-9",
        "order.paid",
        br#"{"type":"order.paid","order":"o-7"}"#,
        now_millis() - 60_000,
    );
    sent.destination.queue_url = Some(orders_url.clone());
    sent.destination.group_id = Some("o-7".to_owned());
    scene.insert(&sent).await;
    let first = orders
        .send(&OutgoingMessage::for_event(&sent, DeliveredBy::Ingress))
        .await
        .expect("SendMessage");
    scene.mark_sent(&sent, &first).await;

    // Within SQS's five-minute deduplication window of the first send.
    let replayed = scene.run_with(
        &routes,
        &[
            "--json", "replay", "--since", "10m", "--until", "0s", "--yes",
        ],
    );
    assert_eq!(replayed.code, 0, "{}{}", replayed.stdout, replayed.stderr);
    // A second replay within the same five minutes is a new message too, not one SQS drops.
    let again = scene.run_with(
        &routes,
        &[
            "--json", "replay", "--since", "10m", "--until", "0s", "--yes",
        ],
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_ne!(again.json()["run"], replayed.json()["run"]);
    let mut received = Vec::new();
    for _ in 0..5 {
        received.extend(orders.receive(10, 60).await.expect("ReceiveMessage"));
    }
    assert_eq!(
        received.len(),
        3,
        "the first delivery and both replays: {}",
        again.stdout
    );
    assert!(received
        .iter()
        .all(|m| m.group_id.as_deref() == Some("o-7")));
    assert_eq!(
        received
            .iter()
            .filter(|m| m.attribute("replay-of") == Some(first.as_str()))
            .count(),
        2
    );
    for message in &received {
        orders.delete(message).await.expect("DeleteMessage");
    }

    let orders_dlq = scene.queue.sibling(orders_dlq_url);
    orders_dlq
        .send(&OutgoingMessage::for_event(&sent, DeliveredBy::Ingress))
        .await
        .expect("SendMessage to the FIFO DLQ");
    let moved = scene.run_with(
        &routes,
        &["dlq", "--route", "orders", "redrive", "--by-copy", "--yes"],
    );
    assert_eq!(moved.code, 0, "{}{}", moved.stdout, moved.stderr);
    let redriven = orders.receive(10, 60).await.expect("ReceiveMessage");
    assert_eq!(
        redriven.len(),
        1,
        "the DLQ message is back on its FIFO queue"
    );
    assert_eq!(redriven[0].group_id.as_deref(), Some("o-7"));
    assert_eq!(redriven[0].body, r#"{"type":"order.paid","order":"o-7"}"#);
}

/// Deploys a function named `name` on moto whose environment is `env` (the Lambda API is reached
/// with boto3 from .venv, as the test resources are provisioned).
fn deploy_function(scene: &Scene, name: &str, env: &[(&'static str, String)]) {
    let variables: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    let script = r#"
import boto3, io, json, sys, zipfile
endpoint, name, variables = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = boto3.client("iam", **kw).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
package = io.BytesIO()
with zipfile.ZipFile(package, "w") as z:
    z.writestr("bootstrap", "placeholder")
boto3.client("lambda", **kw).create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
    Handler="bootstrap", Code={"ZipFile": package.getvalue()}, Environment={"Variables": variables})
"#;
    let root = e2e::testing::repo_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .args(["-c", script, &scene.resources.endpoint, name])
        .arg(Value::Object(variables).to_string())
        .output()
        .expect("run .venv/bin/python (`make venv` installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_function_name_is_enough_and_send_test_reaches_the_ingress() {
    let scene = Scene::new("outboxctl-function").await;
    let function = e2e::testing::unique("ingress");
    let deployed: Vec<(&'static str, String)> = scene
        .env()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("AWS_"))
        .collect();
    deploy_function(&scene, &function, &deployed);
    let parked = event("parked-by-function", "t", b"{}", now_millis() - 60_000);
    scene.insert(&parked).await;
    scene
        .outbox
        .park(&parked.key, "test", "test", now_millis())
        .await
        .expect("park");

    // Only the AWS settings in the environment: everything else from the function.
    let only_aws = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_outboxctl"))
            .args(args)
            .env_clear()
            .envs(
                scene
                    .env()
                    .into_iter()
                    .filter(|(name, _)| name.starts_with("AWS_")),
            )
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run outboxctl");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    let status = only_aws(&["--function", &function, "--json", "status"]);
    assert_eq!(status.code, 3, "{}", status.stderr);
    let status = status.json();
    assert_eq!(status["origin"], format!("function {function}"));
    assert_eq!(status["table"], scene.resources.table.as_str());
    assert_eq!(
        status["figures"]["parked"], 1,
        "the DLQ came from the queue's RedrivePolicy: {status}"
    );
    let unknown = only_aws(&["--function", "no-such-function", "status"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("list-functions"),
        "{}",
        unknown.stderr
    );

    // send-test: signed with the deployment's scheme and the secret from SSM, accepted by the
    // real ingress binary, and on the queue.
    let binary = e2e::processes::ingress_binary().unwrap_or_else(|err| panic!("{err}"));
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let ingress_env: Vec<(String, String)> = scene
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let logs = std::env::temp_dir().join(e2e::testing::unique("outboxctl-ingress"));
    std::fs::create_dir_all(&logs).expect("a log directory");
    let _ingress = e2e::processes::IngressProcess::start(binary, ingress_env, address, logs)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let url = format!("http://{address}/");
    let asked = only_aws(&["--function", &function, "send-test", "--url", &url]);
    assert_eq!(asked.code, 0, "{}", asked.stderr);
    assert!(asked.stdout.contains("add --yes"), "{}", asked.stdout);
    assert!(scene.drain().await.is_empty(), "nothing sent without --yes");
    let sent = only_aws(&[
        "--function",
        &function,
        "--json",
        "send-test",
        "--url",
        &url,
        "--yes",
    ]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    let sent = sent.json();
    assert_eq!(sent["status"], 200);
    let event_id = sent["event_id"].as_str().expect("event id");
    let on_queue = scene.drain().await;
    let test_message = on_queue
        .iter()
        .find(|m| m.attribute("event-id") == Some(event_id))
        .expect("the test event reached the queue");
    assert_eq!(
        test_message.attribute("event-type"),
        Some("outboxctl.test"),
        "marked as a test for the workers to skip"
    );
    let shown = only_aws(&["--function", &function, "--json", "show", event_id]).json();
    assert_eq!(shown["status"], "sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redrive_renews_each_body_in_s3_before_sending_its_pointer() {
    let scene = Scene::new("outboxctl-s3-redrive").await;
    let kept = scene
        .in_s3(event(
            "big-r1",
            "order.paid",
            br#"{"type":"order.paid","n":1}"#,
            now_millis() - 60_000,
        ))
        .await;
    let gone = scene
        .in_s3(event(
            "big-r2",
            "order.paid",
            br#"{"type":"order.paid","n":2}"#,
            now_millis() - 50_000,
        ))
        .await;
    let gone_key = gone.claim_check.as_ref().expect("in S3").key.clone();
    scene
        .s3
        .delete_object()
        .bucket(&scene.resources.bucket)
        .key(&gone_key)
        .send()
        .await
        .expect("DeleteObject");
    for dead in [&kept, &gone] {
        scene
            .dlq
            .send(&OutgoingMessage::for_event(dead, DeliveredBy::Ingress))
            .await
            .expect("SendMessage to the DLQ");
    }
    let key = kept.claim_check.as_ref().expect("in S3").key.clone();
    assert_eq!(scene.body_state(&key).await.as_deref(), Some(STATE_UNSENT));

    let run = scene.run(&["--json", "dlq", "redrive", "--yes"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["moved"], 1, "{json}");
    assert_eq!(json["renewed_s3_bodies"], 1, "{json}");
    assert!(
        json["failed"].to_string().contains("could not be renewed"),
        "{json}"
    );
    assert_eq!(
        scene.body_state(&key).await.as_deref(),
        Some(STATE_SENT),
        "the redrive restarted the object's life before sending its pointer"
    );
    let messages = scene.drain().await;
    assert_eq!(messages.len(), 1, "no pointer to a missing object is sent");
    assert_eq!(scene.worker_body(&messages[0]).await, kept.body.to_vec());
    let left = scene.dlq.depth().await.expect("DLQ depth");
    assert_eq!(
        left.visible + left.in_flight,
        1,
        "the message whose body is gone stays in the DLQ"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_that_would_mix_two_deployments_is_refused() {
    let scene = Scene::new("outboxctl-mixed").await;
    let github =
        provision("outboxctl-github", STANDARD_SECRET).unwrap_or_else(|err| panic!("{err}"));
    // Two sources share the table; each has its own queue.
    let github_outbox = DynamoDbOutbox::new(scene.dynamodb(), &scene.resources.table, "github", 4);
    let push = AcceptedEvent::new(
        "github",
        "gh-1".to_owned(),
        Some("push".to_owned()),
        Bytes::from_static(br#"{"ref":"main"}"#),
        now_millis() - 60_000,
    );
    assert_eq!(
        github_outbox.insert_pending(&push).await.expect("PutItem"),
        InsertOutcome::Inserted
    );
    github_outbox
        .park(&push.key, "test", "test", now_millis())
        .await
        .expect("park");

    let refused = scene.run(&[
        "--source",
        "github",
        "resend",
        "--status",
        "parked",
        "--include-parked-by-hand",
        "--yes",
    ]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("not the source of")
            && refused.stderr.contains("next:")
            && refused.stderr.contains("--queue-url"),
        "{}",
        refused.stderr
    );
    assert!(
        scene.drain().await.is_empty(),
        "nothing sent to market's queue"
    );
    assert_eq!(
        github_outbox.view(&push.key).await.unwrap().unwrap().status,
        "parked"
    );

    // Naming the source's own queue resolves it: sent there, and only there.
    let resent = scene.run(&[
        "--source",
        "github",
        "--queue-url",
        &github.queue_url,
        "resend",
        "--status",
        "parked",
        "--include-parked-by-hand",
        "--yes",
    ]);
    assert_eq!(resent.code, 0, "{}{}", resent.stdout, resent.stderr);
    let github_queue = scene.queue.sibling(github.queue_url.clone());
    let received = github_queue.receive(10, 60).await.expect("ReceiveMessage");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].attribute("event-id"), Some("gh-1"));
    assert!(scene.drain().await.is_empty());

    // Another deployment's DLQ is not redriven into this deployment's queue.
    scene
        .queue
        .sibling(github.dlq_url.clone())
        .send(&OutgoingMessage::for_event(&push, DeliveredBy::Ingress))
        .await
        .expect("SendMessage to github's DLQ");
    let mixed = scene.run(&["--dlq-url", &github.dlq_url, "dlq", "redrive", "--yes"]);
    assert_eq!(mixed.code, 1, "{}{}", mixed.stdout, mixed.stderr);
    assert!(
        mixed.stderr.contains("is not the dead-letter queue of") && mixed.stderr.contains("next:"),
        "{}",
        mixed.stderr
    );
    assert!(scene.drain().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_skips_a_malformed_row_and_reports_what_it_sent() {
    let scene = Scene::new("outboxctl-replay-bad").await;
    let good: Vec<AcceptedEvent> = (0..3)
        .map(|n| {
            event(
                &format!("ok-{n}"),
                "invoice.created",
                format!(r#"{{"n":{n}}}"#).as_bytes(),
                now_millis() - 120_000,
            )
        })
        .collect();
    for sent in &good {
        scene.insert(sent).await;
        scene.mark_sent(sent, "m-first").await;
    }
    // A sent row that lost its body (written by hand or by a bug): it cannot be replayed.
    scene
        .dynamodb()
        .put_item()
        .table_name(&scene.resources.table)
        .item("id", AttributeValue::S(format!("{SOURCE}:bad-1")))
        .item("status", AttributeValue::S("sent".to_owned()))
        .item(
            "received_at",
            AttributeValue::N((now_millis() - 100_000).to_string()),
        )
        .send()
        .await
        .expect("PutItem");

    let run = scene.run(&[
        "--json",
        "replay",
        "--since",
        "10m",
        "--until",
        "0s",
        "--segments",
        "2",
        "--yes",
    ]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(
        (json["matched"].as_u64(), json["sent"].as_u64()),
        (Some(4), Some(3)),
        "{json}"
    );
    assert!(json["skipped"].to_string().contains("bad-1"), "{json}");
    assert!(run.stderr.contains("next:"), "{}", run.stderr);
    assert_eq!(scene.drain().await.len(), 3, "every readable row replayed");
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_the_release_before_wrote_are_listed_shown_resent_and_replayed() {
    let scene = Scene::new("outboxctl-long-names").await;
    // Rows as the release before the short attribute names wrote them (`event_type`,
    // `message_id` as text, `delivered_by`): a deploy does not rewrite them.
    let received_at = now_millis() - 120_000;
    let unsent = event("old-pending", "invoice.created", br#"{"n":1}"#, received_at);
    let sent = event("old-sent", "invoice.created", br#"{"n":2}"#, received_at);
    let first_id = "5fea7756-0ea4-451a-a703-a558b933e274";
    let changes = sent_changes(
        first_id,
        DeliveredBy::Ingress,
        received_at + 30,
        Duration::from_secs(86_400),
    );
    for item in [
        with_long_names(&pending_item(&unsent, shard_of(&unsent.key, 4))),
        with_long_names(&after_sent(
            &pending_item(&sent, shard_of(&sent.key, 4)),
            &changes,
        )),
    ] {
        assert!(item.contains_key("event_type") && !item.contains_key("etype"));
        scene
            .dynamodb()
            .put_item()
            .table_name(&scene.resources.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("PutItem");
    }

    let listed = scene.run(&["--json", "list", "--status", "pending"]).json();
    assert_eq!(listed[0]["key"], unsent.key.as_str(), "{listed}");
    assert_eq!(listed[0]["event_type"], "invoice.created", "{listed}");
    let shown = scene.run(&["--json", "show", "old-sent"]).json();
    assert_eq!(shown["event_type"], "invoice.created", "{shown}");
    assert_eq!(shown["attributes"]["message_id"], first_id, "{shown}");
    assert_eq!(shown["attributes"]["delivered_by"], "ingress", "{shown}");

    let resent = scene.run(&["resend", "old-pending", "--yes"]);
    assert_eq!(resent.code, 0, "{}{}", resent.stdout, resent.stderr);
    let shown = scene.run(&["--json", "show", "old-pending"]).json();
    assert_eq!(shown["status"], "sent", "{shown}");
    assert_eq!(shown["event_type"], "invoice.created", "{shown}");
    assert_eq!(shown["attributes"]["delivered_by"], "outboxctl", "{shown}");
    let resent_id = shown["attributes"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(resent_id.len(), 36, "{shown}");
    let on_queue = scene.drain().await;
    assert_eq!(on_queue.len(), 1);
    assert_eq!(on_queue[0].attribute("event-type"), Some("invoice.created"));

    // A replay of the type finds both rows and names each one's first delivery.
    let replayed = scene.run(&[
        "--json",
        "replay",
        "--since",
        "10m",
        "--until",
        "0s",
        "--event-type",
        "invoice.created",
        "--yes",
    ]);
    assert_eq!(replayed.code, 0, "{}{}", replayed.stdout, replayed.stderr);
    assert_eq!(
        replayed.json()["sent"].as_u64(),
        Some(2),
        "{}",
        replayed.stdout
    );
    let mut replay_of: Vec<(String, String)> = scene
        .drain()
        .await
        .iter()
        .map(|m| {
            let attribute = |name| m.attribute(name).unwrap_or_default().to_owned();
            (attribute("event-id"), attribute("replay-of"))
        })
        .collect();
    replay_of.sort();
    assert_eq!(
        replay_of,
        vec![
            ("old-pending".to_owned(), resent_id),
            ("old-sent".to_owned(), first_id.to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_says_when_the_secret_is_still_terraform_s_placeholder() {
    let scene = Scene::new("outboxctl-placeholder").await;
    let fine = scene.run(&["status"]);
    assert_eq!(fine.code, 0, "{}{}", fine.stdout, fine.stderr);
    assert!(
        !fine.stdout.contains(STANDARD_SECRET),
        "never the secret itself"
    );
    aws_sdk_ssm::Client::new(&scene.sdk)
        .put_parameter()
        .name(&scene.resources.parameter)
        .value("placeholder-set-with-aws-ssm-put-parameter-overwrite")
        .overwrite(true)
        .send()
        .await
        .expect("PutParameter");
    let run = scene.run(&["status"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("still holds the placeholder")
            && run.stdout.contains(&format!(
                "next: aws ssm put-parameter --name {} --type SecureString --overwrite",
                scene.resources.parameter
            )),
        "{}",
        run.stdout
    );
}

#[test]
fn the_readme_tells_workers_to_keep_the_s3_object_when_deleting_a_message() {
    let readme =
        std::fs::read_to_string(e2e::testing::repo_root().join("README.md")).expect("README.md");
    let start = readme
        .find("## Message contract (for the workers)")
        .expect("the workers' section");
    let end = start
        + readme[start..]
            .find("\n## Providers")
            .expect("the next section");
    let workers = &readme[start..end];
    for needed in [
        "withPayloadSupportEnabled(s3, bucket, false)",
        "cleanupS3Payload",
        "Go",
        "delete_payload_from_s3",
        "outboxctl.test",
    ] {
        assert!(
            workers.contains(needed),
            "the workers' section lacks `{needed}`"
        );
    }
}
