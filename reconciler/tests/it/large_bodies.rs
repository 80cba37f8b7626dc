//! A Stripe event over what an outbox row holds: without `LARGE_BODY_BUCKET` it is a failure
//! that holds the checkpoint; with it, it is stored through the S3 claim check exactly as the
//! ingress stores a large body (the object first, a pointer row, an Extended Client pointer
//! message, the object re-tagged sent once the row is).

use std::sync::{Arc, Mutex};

use e2e::provider_api::{stripe_event, stripe_handler, MockApi, STRIPE_KEY};
use e2e::testing::{has, s};
use reconciler::RunOutcome;
use shared::event::{outbox_key, sha256_hex};
use shared::large_body::{pointer_message_body, MAX_INLINE_BODY_BYTES, STATE_SENT};
use shared::time::now_millis;

use super::{ids, run, stripe_reconciler_settings, Scene, SOURCE};

/// A Stripe event (as the Events API lists it) of about `size` bytes: an invoice with many lines.
fn large_stripe_event(id: &str, created: i64, size: usize) -> String {
    let line = r#"{"id":"il_1","object":"line_item","amount":2000,"description":"1 x Widget"},"#;
    let mut lines: String = line.repeat(size / line.len() + 1);
    lines.pop();
    format!(
        r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","created":{created},"data":{{"object":{{"id":"in_big","object":"invoice","lines":{{"object":"list","data":[{lines}]}}}}}},"livemode":false,"pending_webhooks":1,"request":{{"id":null,"idempotency_key":null}},"type":"invoice.finalized"}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stripe_event_over_what_a_row_holds_goes_through_the_claim_check_as_the_ingress_s_do() {
    let scene = Scene::new(STRIPE_KEY).await;
    let created = now_millis() / 1000 - 600;
    let large = large_stripe_event("evt_large", created + 1, MAX_INLINE_BODY_BYTES + 4_096);
    assert!(large.len() > MAX_INLINE_BODY_BYTES);
    let events = Arc::new(vec![
        large.clone(),
        stripe_event("evt_small", "invoice.paid", created),
    ]);
    let stripe = MockApi::start(stripe_handler(events, Arc::new(Mutex::new(true)))).await;
    let settings = stripe_reconciler_settings(&stripe.base);
    let mut borrowed: Vec<(&'static str, &str)> =
        settings.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Without a bucket: not recorded, counted as failed, and the checkpoint waits before it.
    let without_bucket = scene.reconciler(&borrowed).await;
    let now = now_millis();
    let report = run(&without_bucket, now).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!((report.recovered, report.failed), (1, 1), "{report:?}");
    assert!(
        report.failures[0].contains("LARGE_BODY_BUCKET"),
        "{:?}",
        report.failures
    );
    assert_eq!(report.checkpoint_after, Some((created + 1) * 1000));
    assert_eq!(
        report.oldest_missing_age_secs,
        Some(u64::try_from((now - (created + 1) * 1000) / 1000).unwrap())
    );
    assert_eq!(ids(&scene.drain().await), ["evt_small"]);
    let key = outbox_key(SOURCE, "evt_large");
    assert!(scene.stack.row(&key).await.is_none());

    // With the bucket: the next run stores it as the ingress stores a large body.
    borrowed.push(("LARGE_BODY_BUCKET", scene.stack.bucket.as_str()));
    let with_bucket = scene.reconciler(&borrowed).await;
    let later = now + 60_000;
    let report = run(&with_bucket, later).await;
    assert_eq!((report.recovered, report.failed), (1, 0), "{report:?}");
    assert_eq!(report.checkpoint_after, Some(later));
    assert_eq!(report.oldest_missing_age_secs, Some(0));

    let messages = scene.drain().await;
    assert_eq!(ids(&messages), ["evt_large"]);
    let message = &messages[0];
    let object = format!("{key}/{}", sha256_hex(large.as_bytes()));
    assert_eq!(
        message.body,
        pointer_message_body(&scene.stack.bucket, &object)
    );
    assert_eq!(
        message.attribute("ExtendedPayloadSize"),
        Some(large.len().to_string().as_str())
    );
    assert_eq!(message.attribute("delivered-by"), Some("backfill"));
    assert_eq!(message.attribute("event-type"), Some("invoice.finalized"));
    assert!(
        scene.stack.worker_body(message).await == large.as_bytes(),
        "the object holds the event's exact bytes"
    );
    let row = scene.stack.row(&key).await.expect("the outbox row");
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert!(!has(&row, "body"), "the row holds the pointer");
    assert_eq!(s(&row, "body_s3_key"), Some(object.clone()));
    assert_eq!(
        scene.stack.object(&object).await.1.as_deref(),
        Some(STATE_SENT)
    );
    assert_eq!(scene.stack.object_keys().await, [object]);
}
