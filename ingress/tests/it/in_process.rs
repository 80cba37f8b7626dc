//! The failure rules of the request path run in process against the in-memory outbox and queue
//! (`e2e::fakes`), in milliseconds and deterministically; and the contract those fakes share with
//! the DynamoDB and SQS adapters, run against both, so the fakes cannot drift from what the moto
//! tests (`rules`) prove of the real adapters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use e2e::fakes::{Fault, InMemoryOutbox, InMemoryQueue};
use http::StatusCode;
use ingress::{Delivery, DuplicateOf, Ingress, Outcome};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::{dynamodb_without_retry_quota, sqs_without_retry_quota, CallLimits};
use shared::config::IngressConfig;
use shared::event::AcceptedEvent;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{InsertOutcome, MarkOutcome, RowStatus, TokenSpend};
use shared::ports::{Outbox, Queue, QueueSet};
use shared::secrets::SecretCache;
use shared::signature::SignatureScheme;
use shared::time::now_millis;

use crate::rules::{post, signed};
use crate::support::{sdk_config, secret_for, Stack};

const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-events";
const BODY: &[u8] = br#"{"type":"product.reviewed","data":{"id":"p-1","status":"approved"}}"#;

struct InProcess {
    ingress: Ingress,
    outbox: Arc<InMemoryOutbox>,
    queue: Arc<InMemoryQueue>,
}

/// An ingress on in-memory ports, answering within `budget_ms`.
fn in_process(budget_ms: &str) -> InProcess {
    in_process_with("standard-webhooks", budget_ms)
}

/// [`in_process`] for the scheme `scheme`.
fn in_process_with(scheme: &str, budget_ms: &str) -> InProcess {
    let env = HashMap::from([
        ("SOURCE_NAME", "market"),
        ("OUTBOX_TABLE", "webhook-outbox"),
        ("QUEUE_URL", QUEUE_URL),
        ("SECRET_PARAMETER", "/webhook-ingress/secret"),
        ("SIGNATURE_SCHEME", scheme),
        ("RESPONSE_BUDGET_MS", budget_ms),
    ]);
    let config = IngressConfig::from_env(&env).expect("a valid configuration");
    let keys = config
        .scheme
        .parse_keys(&secret_for(&config.scheme))
        .unwrap();
    let outbox = Arc::new(InMemoryOutbox::new("market", 8));
    let queue = Arc::new(InMemoryQueue::new(QUEUE_URL));
    let ingress = Ingress::with_ports(
        config,
        SecretCache::fixed(keys),
        outbox.clone(),
        QueueSet::new(queue.clone(), Vec::new()),
    );
    InProcess {
        ingress,
        outbox,
        queue,
    }
}

async fn deliver(run: &InProcess, event_id: &str) -> ingress::Handled {
    let headers = signed(&SignatureScheme::StandardWebhooks, event_id, BODY);
    post(&run.ingress, &headers, BODY).await
}

#[tokio::test]
async fn in_process_an_event_is_queued_and_its_row_marked_sent() {
    let run = in_process("3000");
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(run.queue.sent().len(), 1);
    assert_eq!(run.queue.sent()[0].body, std::str::from_utf8(BODY).unwrap());
    let row = run.outbox.row("market:msg_1").unwrap();
    assert_eq!(row.status, RowStatus::Sent);
    assert_eq!(row.delivered_by, Some(DeliveredBy::Ingress));
}

/// Mailgun's signature covers its `timestamp` and `token` only: each token is spent once. One
/// that cannot be recorded spent is not trusted (500, the provider retries); once spent, the same
/// body again is a duplicate and any other body is refused.
#[tokio::test]
async fn in_process_a_mailgun_token_is_spent_once_and_an_unrecorded_spend_answers_500() {
    let run = in_process_with("mailgun", "3000");
    let keys = SignatureScheme::Mailgun
        .parse_keys(&secret_for(&SignatureScheme::Mailgun))
        .unwrap();
    let body = shared::signature::mailgun_signed_body(
        keys.first().unwrap(),
        now_millis() / 1000,
        "c0ffee0123456789",
        r#"{"id":"mg-1","event":"delivered"}"#,
    );
    let no_headers = http::HeaderMap::new();
    run.outbox.script("PutItem", Fault::Fail, 1);
    let handled = post(&run.ingress, &no_headers, body.as_bytes()).await;
    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(handled.metrics.get("TokenSpendFailed"), 1.0);
    assert!(run.queue.sent().is_empty());
    assert!(run.outbox.is_empty());

    let handled = post(&run.ingress, &no_headers, body.as_bytes()).await;
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    let handled = post(&run.ingress, &no_headers, body.as_bytes()).await;
    assert_eq!(handled.outcome, Outcome::Duplicate(DuplicateOf::Sent));
    let other = body.replace("mg-1", "mg-2");
    let handled = post(&run.ingress, &no_headers, other.as_bytes()).await;
    assert_eq!(handled.status, StatusCode::NOT_FOUND);
    assert_eq!(
        handled.outcome,
        Outcome::Rejected(shared::signature::Rejection::TokenReused)
    );
    assert_eq!(handled.metrics.get("TokenReused"), 1.0);
    assert_eq!(run.queue.sent().len(), 1);
    assert!(run.outbox.row("market:mg-2").is_none());
}

#[tokio::test]
async fn in_process_a_failed_put_item_still_queues_the_event() {
    let run = in_process("3000");
    run.outbox.script("PutItem", Fault::Fail, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
    );
    assert_eq!(handled.metrics.get("OutboxWriteFailed"), 1.0);
    assert_eq!(run.queue.sent().len(), 1);
    assert!(run.outbox.is_empty());
}

#[tokio::test]
async fn in_process_neither_outbox_nor_queue_answers_500() {
    let run = in_process("3000");
    run.outbox.script("PutItem", Fault::Fail, 1);
    run.queue.script("SendMessage", Fault::Fail, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(handled.outcome, Outcome::Failed);
    assert!(run.queue.sent().is_empty());
}

#[tokio::test]
async fn in_process_a_failed_send_after_the_row_is_deferred_to_the_sweeper() {
    let run = in_process("3000");
    run.queue.script("SendMessage", Fault::Fail, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Deferred));
    assert_eq!(handled.metrics.get("EnqueueDeferred"), 1.0);
    assert_eq!(
        run.outbox.row("market:msg_1").unwrap().status,
        RowStatus::Pending
    );
    assert!(run.queue.sent().is_empty());
}

#[tokio::test]
async fn in_process_a_failed_mark_leaves_the_row_pending_and_answers_200() {
    let run = in_process("3000");
    run.outbox.script("UpdateItem", Fault::Fail, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedMarkSentFailed)
    );
    assert_eq!(handled.metrics.get("MarkSentFailed"), 1.0);
    assert_eq!(
        run.outbox.row("market:msg_1").unwrap().status,
        RowStatus::Pending
    );
    assert_eq!(run.queue.sent().len(), 1);
}

#[tokio::test]
async fn in_process_a_duplicate_of_a_sent_row_creates_no_second_message() {
    let run = in_process("3000");
    deliver(&run, "msg_1").await;
    let again = deliver(&run, "msg_1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.outcome, Outcome::Duplicate(DuplicateOf::Sent));
    assert_eq!(again.metrics.get("Duplicate"), 1.0);
    assert_eq!(run.queue.sent().len(), 1);
}

#[tokio::test]
async fn in_process_a_duplicate_of_a_pending_row_sends_it_and_marks_it_sent() {
    let run = in_process("3000");
    run.queue.script("SendMessage", Fault::Fail, 1);
    deliver(&run, "msg_1").await;
    let again = deliver(&run, "msg_1").await;
    assert_eq!(
        again.outcome,
        Outcome::Duplicate(DuplicateOf::Pending(Delivery::Enqueued))
    );
    assert_eq!(
        run.outbox.row("market:msg_1").unwrap().status,
        RowStatus::Sent
    );
    assert_eq!(run.queue.sent().len(), 1);
}

#[tokio::test]
async fn in_process_a_hanging_outbox_is_cut_off_by_the_deadline_and_the_event_queued() {
    // The put never answers: only the response budget ends it, whatever the machine's speed.
    let run = in_process("300");
    run.outbox.script("PutItem", Fault::Hang, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
    );
    assert_eq!(run.queue.sent().len(), 1);
}

#[tokio::test]
async fn in_process_a_hanging_queue_after_the_row_is_deferred() {
    let run = in_process("300");
    run.queue.script("SendMessage", Fault::Hang, 1);
    let handled = deliver(&run, "msg_1").await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Deferred));
    assert_eq!(
        run.outbox.row("market:msg_1").unwrap().status,
        RowStatus::Pending
    );
}

fn contract_event(event_id: &str) -> AcceptedEvent {
    AcceptedEvent::new(
        "market",
        event_id.to_owned(),
        Some("product.reviewed".to_owned()),
        Bytes::from_static(BODY),
        now_millis(),
    )
}

/// What every outbox port promises the ingress: a conditional insert that reports the row it
/// found, and a mark-sent that only changes the pending row received at the given time.
async fn outbox_contract(outbox: &dyn Outbox, event: &AcceptedEvent) {
    let retention = Duration::from_secs(86_400);
    let mark = |received_at, message_id| {
        outbox.mark_sent(
            &event.key,
            received_at,
            message_id,
            DeliveredBy::Ingress,
            now_millis(),
            retention,
        )
    };
    assert_eq!(
        outbox.insert_pending(event).await.unwrap(),
        InsertOutcome::Inserted
    );
    let mut redelivered = event.clone();
    redelivered.received_at += 1;
    let InsertOutcome::AlreadyThere(existing) = outbox.insert_pending(&redelivered).await.unwrap()
    else {
        panic!("a later delivery under the key found no row");
    };
    assert_eq!(existing.status, RowStatus::Pending);
    assert_eq!(existing.body_sha256, event.body_sha256);
    assert_eq!(existing.received_at, event.received_at);
    assert_eq!(existing.destination, event.destination);
    assert_eq!(
        mark(event.received_at + 1, "m-other").await.unwrap(),
        MarkOutcome::NotPending,
        "a row received at another time is another row"
    );
    assert_eq!(
        mark(event.received_at, "m-1").await.unwrap(),
        MarkOutcome::Marked
    );
    assert_eq!(
        mark(event.received_at, "m-2").await.unwrap(),
        MarkOutcome::NotPending
    );
    let InsertOutcome::AlreadyThere(sent) = outbox.insert_pending(event).await.unwrap() else {
        panic!("the row is gone after it was marked sent, or a sent row was taken for a new write");
    };
    assert_eq!(sent.status, RowStatus::Sent);
    let unknown = contract_event("never-inserted");
    assert_eq!(
        outbox
            .mark_sent(
                &unknown.key,
                unknown.received_at,
                "m-3",
                DeliveredBy::Ingress,
                now_millis(),
                retention,
            )
            .await
            .unwrap(),
        MarkOutcome::NotPending
    );
    // A single-use token: spent once; then the same body is told apart from another.
    let token = shared::outbox::token_key("market", "mailgun", &format!("t{}", event.received_at));
    let spend = |sha: &'static str| outbox.spend_token(&token, sha, 1_700_000_120);
    assert_eq!(spend("aa").await.unwrap(), TokenSpend::Spent);
    assert_eq!(spend("aa").await.unwrap(), TokenSpend::SameBody);
    assert_eq!(spend("bb").await.unwrap(), TokenSpend::OtherBody);
}

/// What every queue port promises: it knows its URL, and each send answers with its message id.
async fn queue_contract(queue: &dyn Queue, url: &str) {
    assert_eq!(queue.url(), url);
    queue.warm_up().await.unwrap();
    let message = OutgoingMessage::for_event(&contract_event("queued"), DeliveredBy::Ingress);
    let first = queue.send(&message).await.unwrap();
    let second = queue.send(&message).await.unwrap();
    assert!(!first.is_empty() && first != second, "{first} / {second}");
}

#[tokio::test]
async fn the_outbox_contract_holds_for_the_in_memory_fake() {
    outbox_contract(
        &InMemoryOutbox::new("market", 8),
        &contract_event("contract"),
    )
    .await;
}

#[tokio::test]
async fn the_outbox_contract_holds_for_dynamodb() {
    let stack = Stack::new().await;
    outbox_contract(&dynamodb_outbox(&stack).await, &contract_event("contract")).await;
}

/// The ingress's DynamoDB adapter on `stack`'s table, for source `market`.
async fn dynamodb_outbox(stack: &Stack) -> DynamoDbOutbox {
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    DynamoDbOutbox::new(
        dynamodb_without_retry_quota(&sdk),
        &stack.table,
        "market",
        8,
    )
}

#[tokio::test]
async fn dynamodb_takes_its_own_write_coming_back_through_a_retried_attempt_for_the_insert() {
    // An attempt whose answer was lost (a timeout) and that the SDK repeated finds its own row:
    // still pending, this body, this millisecond. That is the insert, not a duplicate delivery.
    let outbox = dynamodb_outbox(&Stack::new().await).await;
    let event = contract_event("retried");
    for attempt in ["first", "repeated"] {
        assert_eq!(
            outbox.insert_pending(&event).await.unwrap(),
            InsertOutcome::Inserted,
            "{attempt} attempt"
        );
    }
    let mut redelivered = event.clone();
    redelivered.received_at += 1;
    assert!(matches!(
        outbox.insert_pending(&redelivered).await.unwrap(),
        InsertOutcome::AlreadyThere(_)
    ));
}

#[tokio::test]
async fn the_queue_contract_holds_for_the_in_memory_fake() {
    queue_contract(&InMemoryQueue::new(QUEUE_URL), QUEUE_URL).await;
}

#[tokio::test]
async fn the_queue_contract_holds_for_sqs() {
    let stack = Stack::new().await;
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    let queue = SqsQueue::new(sqs_without_retry_quota(&sdk), &stack.queue_url);
    queue_contract(&queue, &stack.queue_url).await;
}
