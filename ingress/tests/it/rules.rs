//! Every failure rule of the request path (README, HTTP answers), driven in-process through `Ingress::handle` with the real
//! SDK against moto.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use ingress::{Conflicted, Delivery, DuplicateOf, Ingress, Outcome, ReceivedBody, WebhookRequest};
use shared::signature::{Rejection, SignatureScheme, SigningKey};
use shared::time::now_millis;

use crate::support::{black_hole, has, s, secret_for, IngressStack, Stack};

fn key_for(scheme: &SignatureScheme) -> SigningKey {
    scheme
        .parse_keys(&secret_for(scheme))
        .unwrap()
        .first()
        .unwrap()
        .clone()
}

/// Headers of a request signed now, as the provider signs it.
pub fn signed(scheme: &SignatureScheme, event_id: &str, body: &[u8]) -> HeaderMap {
    signed_at(scheme, event_id, body, now_millis() / 1000)
}

fn signed_at(scheme: &SignatureScheme, event_id: &str, body: &[u8], timestamp: i64) -> HeaderMap {
    scheme
        .sign(&key_for(scheme), event_id, timestamp, body)
        .into_iter()
        .map(|(name, value)| (name, value.parse().unwrap()))
        .collect()
}

pub async fn post(ingress: &Ingress, headers: &HeaderMap, body: &[u8]) -> ingress::Handled {
    ingress
        .handle(WebhookRequest {
            method: &Method::POST,
            target: "/hook",
            headers,
            body: ReceivedBody::Complete(Bytes::copy_from_slice(body)),
            request_id: "test",
        })
        .await
}

const BODY: &[u8] = br#"{"type":"product.reviewed","data":{"id":"p-1","status":"approved"}}"#;

#[tokio::test]
async fn valid_event_reaches_the_queue_byte_exact_with_attributes_and_a_sent_row() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let scheme = SignatureScheme::StandardWebhooks;

    let handled = post(&ingress, &signed(&scheme, "msg_valid_1", BODY), BODY).await;

    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(handled.metrics.get("Enqueued"), 1.0);
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.body.as_bytes(), BODY);
    assert_eq!(message.attribute("event-id"), Some("msg_valid_1"));
    assert_eq!(message.attribute("source"), Some("market"));
    assert_eq!(message.attribute("event-type"), Some("product.reviewed"));
    assert_eq!(message.attribute("delivered-by"), Some("ingress"));
    assert_eq!(message.attribute("body-encoding"), None);
    let received_at = message.attribute("received-at").unwrap();
    assert!(
        humantime::parse_rfc3339(received_at).is_ok(),
        "{received_at}"
    );

    let row = stack.row("market:msg_valid_1").await.expect("outbox row");
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert_eq!(row["body"].as_b().unwrap().as_ref(), BODY);
    // The ingress sent it, so the row names no sender; SQS's message id is kept in 16 bytes.
    assert_eq!(row["mid"].as_b().unwrap().as_ref().len(), 16);
    assert!(has(&row, "sent_at") && has(&row, "expires_at") && !has(&row, "sent_by"));
    assert!(
        !has(&row, "unsent_key"),
        "a sent row must leave the unsent index"
    );
}

#[tokio::test]
async fn duplicate_delivery_creates_no_second_message() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let headers = signed(&SignatureScheme::StandardWebhooks, "msg_dup", BODY);

    let first = post(&ingress, &headers, BODY).await;
    let second = post(&ingress, &headers, BODY).await;

    assert_eq!(first.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.outcome, Outcome::Duplicate(DuplicateOf::Sent));
    assert_eq!(second.metrics.get("Duplicate"), 1.0);
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 1);
}

#[tokio::test]
async fn a_redelivery_of_a_discarded_event_is_a_duplicate_and_sends_nothing() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let headers = signed(&SignatureScheme::StandardWebhooks, "msg_discarded", BODY);
    post(&ingress, &headers, BODY).await;
    stack.drain(&stack.queue_url).await;
    // What `outboxctl discard` leaves: the row kept, audited, out of the index.
    stack
        .set_row_attribute(
            "market:msg_discarded",
            "status",
            aws_sdk_dynamodb::types::AttributeValue::S("discarded".into()),
        )
        .await;

    let again = post(&ingress, &headers, BODY).await;

    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.outcome, Outcome::Duplicate(DuplicateOf::Discarded));
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn a_second_body_under_the_same_id_reaches_the_queue_marked_as_a_conflict() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let other = br#"{"type":"product.reviewed","data":{"id":"p-1","status":"rejected"}}"#;
    let first_hash = shared::event::sha256_hex(BODY);
    let other_hash = shared::event::sha256_hex(other);

    post(&ingress, &signed(&scheme, "msg_conflict", BODY), BODY).await;
    let conflict = post(&ingress, &signed(&scheme, "msg_conflict", other), other).await;
    let retried = post(&ingress, &signed(&scheme, "msg_conflict", other), other).await;

    assert_eq!(conflict.status, StatusCode::OK);
    assert_eq!(
        conflict.outcome,
        Outcome::IdConflict(Conflicted::Accepted(Delivery::Enqueued))
    );
    assert_eq!(conflict.metrics.get("IdConflict"), 1.0);
    let conflict_key = format!("market:msg_conflict#{other_hash}");
    assert_eq!(conflict.key.as_deref(), Some(conflict_key.as_str()));
    // Its own retry is an ordinary duplicate of the second body: no third message.
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(
        retried.outcome,
        Outcome::IdConflict(Conflicted::Duplicate(DuplicateOf::Sent))
    );
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 2, "both bodies reach the queue, once each");
    let first = messages.iter().find(|m| m.body.as_bytes() == BODY).unwrap();
    let second = messages
        .iter()
        .find(|m| m.body.as_bytes() == other)
        .unwrap();
    assert_eq!(first.attribute("id-conflict-of"), None);
    assert_eq!(second.attribute("event-id"), Some("msg_conflict"));
    assert_eq!(
        second.attribute("id-conflict-of"),
        Some(first_hash.as_str())
    );
    let row = stack.row("market:msg_conflict").await.unwrap();
    assert_eq!(row["body"].as_b().unwrap().as_ref(), BODY);
    let row = stack
        .row(&conflict_key)
        .await
        .expect("the second body's row");
    assert_eq!(row["body"].as_b().unwrap().as_ref(), other);
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert_eq!(s(&row, "event_id").as_deref(), Some("msg_conflict"));
    assert_eq!(s(&row, "id_conflict_of"), Some(first_hash));
}

#[tokio::test]
async fn a_conflicting_body_left_pending_is_resent_with_its_conflict_mark() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let hole = black_hole().await;
    let no_queue = stack
        .ingress_with(&[("RESPONSE_BUDGET_MS", "1000")], None, Some(&hole))
        .await;
    let scheme = SignatureScheme::StandardWebhooks;
    let other = br#"{"type":"product.reviewed","data":{"id":"p-1","status":"rejected"}}"#;

    post(
        &ingress,
        &signed(&scheme, "msg_deferred_conflict", BODY),
        BODY,
    )
    .await;
    let conflict = post(
        &no_queue,
        &signed(&scheme, "msg_deferred_conflict", other),
        other,
    )
    .await;

    assert_eq!(conflict.status, StatusCode::OK);
    assert_eq!(
        conflict.outcome,
        Outcome::IdConflict(Conflicted::Accepted(Delivery::Deferred))
    );
    let key = conflict.key.unwrap();
    let outbox = shared::aws::dynamodb::DynamoDbOutbox::new(
        aws_sdk_dynamodb::Client::new(
            &e2e::testing::sdk_config(
                &stack.endpoint,
                shared::aws::CallLimits::within(Duration::from_secs(5)),
            )
            .await,
        ),
        &stack.table,
        "market",
        8,
    );
    let rows = outbox.load_rows(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, shared::outbox::RowStatus::Pending);
    // What the sweeper sends for it: the provider's id and the first body's hash.
    let message = shared::message::OutgoingMessage::for_event(
        &rows[0].event,
        shared::message::DeliveredBy::Sweeper,
    );
    assert_eq!(message.body.as_bytes(), other);
    let attribute = |name: &str| {
        message
            .attributes
            .iter()
            .find(|(attribute, _)| *attribute == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        attribute("event-id").as_deref(),
        Some("msg_deferred_conflict")
    );
    assert_eq!(
        attribute("id-conflict-of"),
        Some(shared::event::sha256_hex(BODY))
    );
}

#[tokio::test]
async fn forged_unsigned_and_stale_requests_get_404_and_leave_no_trace() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let scheme = SignatureScheme::StandardWebhooks;

    let mut forged = signed(&scheme, "msg_forged", BODY);
    let tampered = br#"{"type":"product.reviewed","data":{"id":"p-1","status":"hacked"}}"#;
    let wrong_key = SigningKey::from_bytes(b"not the secret".to_vec());
    let stale_time = now_millis() / 1000 - 301;
    let cases: Vec<(&str, HeaderMap, &[u8], Rejection)> = vec![
        (
            "tampered body",
            forged.clone(),
            tampered,
            Rejection::NoMatch,
        ),
        (
            "wrong secret",
            scheme
                .sign(&wrong_key, "msg_forged", now_millis() / 1000, BODY)
                .into_iter()
                .map(|(n, v)| (n, v.parse().unwrap()))
                .collect(),
            BODY,
            Rejection::NoMatch,
        ),
        (
            "unsigned",
            HeaderMap::new(),
            BODY,
            Rejection::MissingHeader("webhook-id"),
        ),
        (
            "stale",
            signed_at(&scheme, "msg_forged", BODY, stale_time),
            BODY,
            Rejection::StaleTimestamp,
        ),
        (
            "garbage signature",
            {
                forged.insert("webhook-signature", "v1,".parse().unwrap());
                forged
            },
            BODY,
            Rejection::Malformed("webhook-signature"),
        ),
    ];
    for (case, headers, body, reason) in cases {
        let handled = post(&ingress, &headers, body).await;
        assert_eq!(handled.status, StatusCode::NOT_FOUND, "{case}");
        assert_eq!(handled.outcome, Outcome::Rejected(reason), "{case}");
        assert_eq!(handled.metrics.get("Rejected"), 1.0, "{case}");
    }
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn other_methods_get_405_and_oversized_bodies_413() {
    let stack = Stack::new().await;
    let ingress = stack
        .ingress_with(&[("MAX_BODY_BYTES", "64")], None, None)
        .await;
    let scheme = SignatureScheme::StandardWebhooks;

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let handled = ingress
            .handle(WebhookRequest {
                method: &method,
                target: "/hook",
                headers: &HeaderMap::new(),
                body: ReceivedBody::Complete(Bytes::new()),
                request_id: "t",
            })
            .await;
        assert_eq!(handled.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let big = vec![b'x'; 65];
    let handled = post(&ingress, &signed(&scheme, "msg_big", &big), &big).await;
    assert_eq!(handled.status, StatusCode::PAYLOAD_TOO_LARGE);
    let handled = ingress
        .handle(WebhookRequest {
            method: &Method::POST,
            target: "/hook",
            headers: &HeaderMap::new(),
            body: ReceivedBody::TooLarge,
            request_id: "t",
        })
        .await;
    assert_eq!(handled.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stack.row_count().await, 0);
}

#[tokio::test]
async fn binary_bodies_are_base64_on_the_queue_and_exact_in_the_outbox() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let body: &[u8] = b"\x00\x01\xfe\xff raw bytes \x07";

    let handled = post(
        &ingress,
        &signed(&SignatureScheme::StandardWebhooks, "msg_bin", body),
        body,
    )
    .await;

    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages[0].attribute("body-encoding"), Some("base64"));
    assert_eq!(messages[0].raw_body(), body);
    assert_eq!(messages[0].attribute("event-type"), None);
    let row = stack.row("market:msg_bin").await.unwrap();
    assert_eq!(row["body"].as_b().unwrap().as_ref(), body);
}

#[tokio::test]
async fn generic_hmac_scheme_takes_the_id_from_the_configured_pointer() {
    let stack = Stack::new().await;
    let overrides = [
        ("SIGNATURE_SCHEME", "hmac-sha256"),
        ("SIGNATURE_HEADER", "X-Signature"),
        ("SIGNATURE_PREFIX", "sha256="),
        ("EVENT_ID_POINTER", "/data/id"),
        ("EVENT_TYPE_POINTER", "/type"),
    ];
    let ingress = stack.ingress_with(&overrides, None, None).await;
    let scheme = ingress.config().scheme.clone();

    let handled = post(&ingress, &signed(&scheme, "", BODY), BODY).await;
    let no_id: &[u8] = br#"{"type":"ping"}"#;
    let hashed = post(&ingress, &signed(&scheme, "", no_id), no_id).await;

    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(handled.key.as_deref(), Some("market:p-1"));
    let expected_hash_key = format!("market:{}", shared::event::sha256_hex(no_id));
    assert_eq!(hashed.key.as_deref(), Some(expected_hash_key.as_str()));
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 2);
    assert!(messages
        .iter()
        .any(|m| m.attribute("event-id") == Some("p-1")));
}

#[tokio::test]
async fn queue_missing_gives_200_and_a_pending_row_that_a_retry_then_sends() {
    let stack = Stack::new().await;
    let missing_queue = format!("{}/000000000000/no-such-queue", stack.endpoint);
    let broken = stack
        .ingress_with(&[("QUEUE_URL", &missing_queue)], None, None)
        .await;
    let headers = signed(&SignatureScheme::StandardWebhooks, "msg_deferred", BODY);

    let handled = broken.handle(request(&headers)).await;

    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Deferred));
    assert_eq!(handled.metrics.get("EnqueueDeferred"), 1.0);
    let row = stack.row("market:msg_deferred").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));
    assert!(s(&row, "unsent_key").unwrap().starts_with("pending#"));
    assert!(!has(&row, "expires_at"), "a pending row must never expire");

    // The provider retries the same event once the queue is back: this request sends the pending row.
    let healthy = stack.ingress().await;
    let retried = healthy.handle(request(&headers)).await;
    assert_eq!(
        retried.outcome,
        Outcome::Duplicate(DuplicateOf::Pending(Delivery::Enqueued))
    );
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 1);
    let row = stack.row("market:msg_deferred").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
}

fn request(headers: &HeaderMap) -> WebhookRequest<'_> {
    WebhookRequest {
        method: &Method::POST,
        target: "/hook",
        headers,
        body: ReceivedBody::Complete(Bytes::from_static(BODY)),
        request_id: "t",
    }
}

#[tokio::test]
async fn table_missing_gives_200_and_the_message() {
    let stack = Stack::new().await;
    let ingress = stack
        .ingress_with(&[("OUTBOX_TABLE", "no-such-table")], None, None)
        .await;
    let headers = signed(&SignatureScheme::StandardWebhooks, "msg_no_table", BODY);

    let handled = ingress.handle(request(&headers)).await;

    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
    );
    assert_eq!(handled.metrics.get("OutboxWriteFailed"), 1.0);
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.as_bytes(), BODY);
}

#[tokio::test]
async fn table_and_queue_both_missing_give_500() {
    let stack = Stack::new().await;
    let missing_queue = format!("{}/000000000000/no-such-queue", stack.endpoint);
    let ingress = stack
        .ingress_with(
            &[
                ("OUTBOX_TABLE", "no-such-table"),
                ("QUEUE_URL", &missing_queue),
            ],
            None,
            None,
        )
        .await;
    let headers = signed(&SignatureScheme::StandardWebhooks, "msg_nothing", BODY);

    let handled = ingress.handle(request(&headers)).await;

    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(handled.outcome, Outcome::Failed);
    assert_eq!(handled.metrics.get("Failed"), 1.0);
}

/// Handles `request`, failing if it takes as long as a hang: the black hole never answers and
/// the patient clients would wait an hour, so only the ingress's own response budget (1 s in
/// these tests) can end it. The guard is sixty times that budget, so it never decides a pass.
async fn handle_or_hang(ingress: &Ingress, request: WebhookRequest<'_>) -> ingress::Handled {
    tokio::time::timeout(Duration::from_secs(60), ingress.handle(request))
        .await
        .expect("the ingress hung: its response budget did not end the AWS calls")
}

#[tokio::test]
async fn hanging_aws_is_answered_within_the_response_budget() {
    let stack = Stack::new().await;
    let hole = black_hole().await;
    let budget = [("RESPONSE_BUDGET_MS", "1000")];
    let scheme = SignatureScheme::StandardWebhooks;

    // Both hang: nothing took the event, so 500.
    let ingress = stack
        .ingress_with_patient_clients(&budget, Some(&hole), Some(&hole))
        .await;
    let handled = handle_or_hang(&ingress, request(&signed(&scheme, "msg_hang_both", BODY))).await;
    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);

    // Only DynamoDB hangs: the queue still gets the event.
    let ingress = stack
        .ingress_with_patient_clients(&budget, Some(&hole), None)
        .await;
    let handled = handle_or_hang(&ingress, request(&signed(&scheme, "msg_hang_table", BODY))).await;
    assert_eq!(
        handled.outcome,
        Outcome::Accepted(Delivery::EnqueuedWithoutOutbox)
    );

    // Only SQS hangs: the row is durable, so 200.
    let ingress = stack
        .ingress_with_patient_clients(&budget, None, Some(&hole))
        .await;
    let handled = handle_or_hang(&ingress, request(&signed(&scheme, "msg_hang_queue", BODY))).await;
    assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Deferred));
    let row = stack.row("market:msg_hang_queue").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));
}

#[tokio::test]
async fn authentic_events_with_unusable_ids_are_queued_under_a_hash() {
    let stack = Stack::new().await;
    let overrides = [
        ("SIGNATURE_SCHEME", "hmac-sha256"),
        ("SIGNATURE_HEADER", "X-Signature"),
        ("EVENT_ID_POINTER", "/id"),
    ];
    let ingress = stack.ingress_with(&overrides, None, None).await;
    let scheme = ingress.config().scheme.clone();
    let long_id = "x".repeat(257);
    let too_long = format!(r#"{{"id":"{long_id}","n":2}}"#);
    // An empty id names nothing: the body's hash; an unusable one: its own hash.
    let cases: [(&[u8], String); 3] = [
        (
            br#"{"id":"","n":1}"#,
            shared::event::sha256_hex(br#"{"id":"","n":1}"#),
        ),
        (
            too_long.as_bytes(),
            shared::event::sha256_hex(long_id.as_bytes()),
        ),
        (
            br#"{"id":"evt\u0000\u001b[31m","n":3}"#,
            shared::event::sha256_hex("evt\u{0}\u{1b}[31m".as_bytes()),
        ),
    ];

    for (body, hash) in &cases {
        let handled = post(&ingress, &signed(&scheme, "", body), body).await;
        assert_eq!(handled.status, StatusCode::OK);
        assert_eq!(handled.outcome, Outcome::Accepted(Delivery::Enqueued));
        assert_eq!(handled.metrics.get("UnusableEventId"), 1.0);
        assert_eq!(handled.key, Some(format!("market:{hash}")));
        let row = stack.row(&format!("market:{hash}")).await.expect("row");
        // The row keeps the hash as its id (stored, or implied by the key), never the unusable id.
        assert!(s(&row, "event_id").is_none_or(|id| id == *hash));
        for (name, value) in &row {
            if let Ok(text) = value.as_s() {
                assert!(!text.chars().any(char::is_control), "{name}: {text:?}");
                assert!(!text.contains("xxxxxxxxxx"), "{name} holds the long id");
            }
        }
    }

    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 3);
    for (body, hash) in &cases {
        let message = messages
            .iter()
            .find(|m| m.raw_body() == *body)
            .expect("every event is on the queue");
        assert_eq!(message.attribute("event-id"), Some(hash.as_str()));
    }
}

/// A provider's request: scheme, id header value, body, extra headers, then the expected attributes.
struct ProviderCase<'c> {
    scheme: &'c str,
    header_id: &'c str,
    body: &'c [u8],
    extra: &'c [(&'static str, &'c str)],
    expected_id: &'c str,
    expected_type: &'c str,
}

#[tokio::test]
async fn every_provider_scheme_queues_its_events_with_the_providers_id_and_type() {
    let stack = Stack::new().await;
    let cases = [
        ProviderCase {
            scheme: "stripe",
            header_id: "",
            body: br#"{"id":"evt_1NG8Du2eZvKYlo2C","object":"event","type":"invoice.paid"}"#,
            extra: &[],
            expected_id: "evt_1NG8Du2eZvKYlo2C",
            expected_type: "invoice.paid",
        },
        ProviderCase {
            scheme: "github",
            header_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            body: br#"{"action":"opened"}"#,
            extra: &[("x-github-event", "issues")],
            expected_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            expected_type: "issues",
        },
        ProviderCase {
            scheme: "shopify",
            header_id: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            body: br#"{"id":820982911946154508}"#,
            extra: &[("x-shopify-topic", "orders/create")],
            expected_id: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            expected_type: "orders/create",
        },
        ProviderCase {
            scheme: "slack",
            header_id: "",
            body: br#"{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention"}}"#,
            extra: &[],
            expected_id: "Ev08MFMKH6",
            expected_type: "app_mention",
        },
    ];
    for case in cases {
        let ProviderCase {
            scheme: name,
            header_id,
            body,
            extra,
            expected_id,
            expected_type,
        } = case;
        let ingress = stack
            .ingress_with(&[("SIGNATURE_SCHEME", name)], None, None)
            .await;
        let scheme = ingress.config().scheme.clone();
        let mut headers = signed(&scheme, header_id, body);
        for (header, value) in extra {
            headers.insert(*header, value.parse().unwrap());
        }
        let handled = post(&ingress, &headers, body).await;
        assert_eq!(
            handled.outcome,
            Outcome::Accepted(Delivery::Enqueued),
            "{name}"
        );
        assert_eq!(handled.key_index, Some(0), "{name}");
        let duplicate = post(&ingress, &headers, body).await;
        assert_eq!(
            duplicate.outcome,
            Outcome::Duplicate(DuplicateOf::Sent),
            "{name}"
        );
        let tampered = post(&ingress, &headers, b"{\"tampered\":1}").await;
        assert_eq!(tampered.status, StatusCode::NOT_FOUND, "{name}");

        let messages = stack.drain(&stack.queue_url).await;
        assert_eq!(messages.len(), 1, "{name}");
        assert_eq!(messages[0].body.as_bytes(), body, "{name}");
        assert_eq!(
            messages[0].attribute("event-id"),
            Some(expected_id),
            "{name}"
        );
        assert_eq!(
            messages[0].attribute("event-type"),
            Some(expected_type),
            "{name}"
        );
    }
}

#[tokio::test]
async fn slack_url_verification_is_answered_with_its_challenge_and_enqueues_nothing() {
    let stack = Stack::new().await;
    let ingress = stack
        .ingress_with(&[("SIGNATURE_SCHEME", "slack")], None, None)
        .await;
    let scheme = ingress.config().scheme.clone();
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;

    let handled = post(&ingress, &signed(&scheme, "", body), body).await;
    assert_eq!(handled.status, StatusCode::OK);
    assert_eq!(handled.outcome, Outcome::UrlVerification);
    assert_eq!(
        handled.body.as_ref(),
        b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // Unsigned, the same request is just a forgery: 404 and no challenge echoed.
    let forged = post(&ingress, &HeaderMap::new(), body).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert!(forged.body.is_empty());
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn two_events_with_one_body_and_unusable_ids_are_two_messages() {
    let stack = Stack::new().await;
    let ingress = stack.ingress().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let body = br#"{"type":"ping"}"#;
    let (first, second) = ("a".repeat(300), "b".repeat(300));

    let one = post(&ingress, &signed(&scheme, &first, body), body).await;
    let two = post(&ingress, &signed(&scheme, &second, body), body).await;
    let retry = post(&ingress, &signed(&scheme, &first, body), body).await;

    assert_eq!(one.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(two.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(retry.outcome, Outcome::Duplicate(DuplicateOf::Sent));
    assert_ne!(one.key, two.key);
    assert_eq!(stack.drain(&stack.queue_url).await.len(), 2);
}

#[tokio::test]
async fn numeric_ids_beyond_64_bits_are_distinct_events() {
    let stack = Stack::new().await;
    let overrides = [
        ("SIGNATURE_SCHEME", "hmac-sha256"),
        ("SIGNATURE_HEADER", "X-Signature"),
        ("EVENT_ID_POINTER", "/id"),
    ];
    let ingress = stack.ingress_with(&overrides, None, None).await;
    let scheme = ingress.config().scheme.clone();
    let first = br#"{"id":123456789012345678901,"status":"paid"}"#;
    let second = br#"{"id":123456789012345678902,"status":"paid"}"#;

    let one = post(&ingress, &signed(&scheme, "", first), first).await;
    let two = post(&ingress, &signed(&scheme, "", second), second).await;

    assert_eq!(one.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(two.outcome, Outcome::Accepted(Delivery::Enqueued));
    assert_eq!(one.key.as_deref(), Some("market:123456789012345678901"));
    assert_eq!(two.key.as_deref(), Some("market:123456789012345678902"));
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 2);
    assert!(messages
        .iter()
        .all(|m| m.attribute("id-conflict-of").is_none()));
}

#[tokio::test]
async fn the_invocation_deadline_bounds_a_request_within_a_longer_budget() {
    let stack = Stack::new().await;
    let ingress = stack
        .ingress_with(&[("RESPONSE_BUDGET_MS", "10000")], None, None)
        .await;
    let scheme = SignatureScheme::StandardWebhooks;
    let headers = signed(&scheme, "msg_no_time_left", BODY);

    // The invocation has no time left: no AWS call can be waited for, so nothing is promised.
    let handled = ingress
        .handle_before(
            WebhookRequest {
                method: &Method::POST,
                target: "/hook",
                headers: &headers,
                body: ReceivedBody::Complete(Bytes::from_static(BODY)),
                request_id: "test",
            },
            Some(Instant::now()),
        )
        .await;
    assert_eq!(handled.outcome, Outcome::Failed);
    assert_eq!(handled.status, StatusCode::INTERNAL_SERVER_ERROR);

    // With time left the same request is served.
    let handled = ingress
        .handle_before(
            WebhookRequest {
                method: &Method::POST,
                target: "/hook",
                headers: &headers,
                body: ReceivedBody::Complete(Bytes::from_static(BODY)),
                request_id: "test",
            },
            Some(Instant::now() + Duration::from_secs(30)),
        )
        .await;
    assert_eq!(handled.status, StatusCode::OK);
}
