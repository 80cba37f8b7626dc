//! Routing (`ROUTES`) and FIFO queues through the ingress and the sweeper together, with the real
//! SDK against moto: a routed event lands only on its queue, also when the sweeper re-sends it,
//! and a FIFO queue keeps one message for an event that both the ingress and the sweeper sent.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use bytes::Bytes;
use e2e::testing::{s, sdk_config, unique, Stack, STANDARD_SECRET};
use http::{HeaderMap, Method, StatusCode};
use ingress::{Ingress, ReceivedBody, WebhookRequest};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::{dynamodb_without_retry_quota, sqs_without_retry_quota, CallLimits};
use shared::config::{IngressConfig, SweeperConfig};
use shared::event::shard_of;
use shared::outbox::{unsent_key, RowStatus};
use shared::signature::SignatureScheme;
use shared::time::now_millis;
use sweeper::Sweeper;

/// A TCP port nothing listens on: every SQS call fails at once.
const DEAD_SQS: &str = "http://127.0.0.1:9";

async fn queue(stack: &Stack, name: &str, fifo: bool) -> String {
    let mut request = stack
        .sqs
        .create_queue()
        .queue_name(unique(name) + if fifo { ".fifo" } else { "" });
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL")
}

fn fifo_routes(orders: &str) -> String {
    format!(
        r#"[{{"name":"orders","pointer":"/type","prefix":"order.","queue_url":"{orders}","group_pointer":"/data/order_id"}}]"#
    )
}

fn plain_routes(orders: &str) -> String {
    format!(r#"[{{"name":"orders","pointer":"/type","prefix":"order.","queue_url":"{orders}"}}]"#)
}

async fn ingress(stack: &Stack, routes: &str, sqs_endpoint: &str) -> Ingress {
    let config = IngressConfig::from_env(&stack.env_with(&[("ROUTES", routes)]))
        .expect("valid ingress configuration");
    let limits = CallLimits::within(config.response_budget);
    let dynamodb = sdk_config(&stack.endpoint, limits).await;
    let sqs = sdk_config(sqs_endpoint, limits).await;
    let keys = config.scheme.parse_keys(STANDARD_SECRET).unwrap();
    let outbox = DynamoDbOutbox::new(
        dynamodb_without_retry_quota(&dynamodb),
        &config.outbox.table,
        &config.outbox.source,
        config.outbox.pending_shards,
    );
    let queue = SqsQueue::new(sqs_without_retry_quota(&sqs), &config.outbox.queue_url);
    Ingress::new(
        config,
        shared::secrets::SecretCache::fixed(keys),
        outbox,
        queue,
    )
}

async fn sweeper(stack: &Stack, routes: &str) -> Sweeper {
    let config =
        SweeperConfig::from_env(&stack.env_with(&[("ROUTES", routes), ("GRACE_SECS", "0")]))
            .expect("valid sweeper configuration");
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    Sweeper::with_sdk(config, &sdk)
}

async fn post(ingress: &Ingress, event_id: &str, body: &str) -> StatusCode {
    post_with(ingress, event_id, body, &[]).await
}

async fn post_with(
    ingress: &Ingress,
    event_id: &str,
    body: &str,
    extra: &[(&'static str, &str)],
) -> StatusCode {
    let mut headers: HeaderMap = SignatureScheme::StandardWebhooks
        .sign(
            &SignatureScheme::StandardWebhooks
                .parse_keys(STANDARD_SECRET)
                .unwrap()
                .first()
                .unwrap()
                .clone(),
            event_id,
            now_millis() / 1000,
            body.as_bytes(),
        )
        .into_iter()
        .map(|(name, value)| (name, value.parse().unwrap()))
        .collect();
    for (name, value) in extra {
        headers.insert(*name, value.parse().unwrap());
    }
    ingress
        .handle(WebhookRequest {
            method: &Method::POST,
            target: "/hook",
            headers: &headers,
            body: ReceivedBody::Complete(Bytes::copy_from_slice(body.as_bytes())),
            request_id: "routing-test",
        })
        .await
        .status
}

fn ids(messages: &[e2e::testing::ReceivedMessage]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .filter_map(|m| m.attribute("event-id").map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_routed_event_lands_only_on_its_queue_also_when_the_sweeper_resends_it() {
    let stack = Stack::new().await;
    let orders = queue(&stack, "orders", false).await;
    let routes = plain_routes(&orders);
    let online = ingress(&stack, &routes, &stack.endpoint).await;

    let order = r#"{"type":"order.paid","data":{"order_id":"o-1"}}"#;
    let customer = r#"{"type":"customer.created","data":{"id":"c-1"}}"#;
    assert_eq!(post(&online, "msg_order", order).await, StatusCode::OK);
    assert_eq!(
        post(&online, "msg_customer", customer).await,
        StatusCode::OK
    );

    // SQS down for this ingress: the routed event is only in the outbox, pending, with its queue.
    let offline = ingress(&stack, &routes, DEAD_SQS).await;
    let refund = r#"{"type":"order.refunded","data":{"order_id":"o-1"}}"#;
    assert_eq!(post(&offline, "msg_refund", refund).await, StatusCode::OK);
    let row = stack.row("market:msg_refund").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("pending"));
    assert_eq!(s(&row, "destination"), Some(orders.clone()));
    let row = stack.row("market:msg_customer").await.unwrap();
    assert_eq!(
        s(&row, "destination"),
        None,
        "the default queue is not recorded"
    );

    let report = sweeper(&stack, &routes)
        .await
        .sweep_once(now_millis() + 1, Instant::now() + Duration::from_secs(600))
        .await;
    assert_eq!(report.resent, 1, "{report:?}");

    let on_orders = stack.drain(&orders).await;
    let on_default = stack.drain(&stack.queue_url).await;
    assert_eq!(ids(&on_orders), vec!["msg_order", "msg_refund"]);
    assert_eq!(ids(&on_default), vec!["msg_customer"]);
    let resent = on_orders
        .iter()
        .find(|m| m.attribute("event-id") == Some("msg_refund"))
        .unwrap();
    assert_eq!(resent.attribute("delivered-by"), Some("sweeper"));
    assert_eq!(resent.raw_body(), refund.as_bytes());
}

#[tokio::test]
async fn a_sweeper_without_the_route_parks_the_row_instead_of_sending_it_elsewhere() {
    let stack = Stack::new().await;
    let orders = queue(&stack, "orders", false).await;
    let offline = ingress(&stack, &plain_routes(&orders), DEAD_SQS).await;
    let order = r#"{"type":"order.paid","data":{"order_id":"o-9"}}"#;
    assert_eq!(post(&offline, "msg_unrouted", order).await, StatusCode::OK);

    let unaware = sweeper(&stack, "").await;
    let mut parked = 0;
    for _ in 0..10 {
        let report = unaware
            .sweep_once(now_millis() + 1, Instant::now() + Duration::from_secs(600))
            .await;
        assert_eq!(report.resent, 0, "{report:?}");
        parked += report.parked;
    }

    assert_eq!(parked, 1);
    let row = stack.row("market:msg_unrouted").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("parked"));
    assert!(s(&row, "last_error").unwrap().contains("ROUTES"));
    assert!(stack.drain(&stack.queue_url).await.is_empty());
    assert!(stack.drain(&orders).await.is_empty());
}

#[tokio::test]
async fn a_fifo_queue_keeps_one_message_for_an_event_the_ingress_and_the_sweeper_both_sent() {
    let stack = Stack::new().await;
    let orders = queue(&stack, "orders", true).await;
    let routes = fifo_routes(&orders);
    let online = ingress(&stack, &routes, &stack.endpoint).await;
    let order = r#"{"type":"order.paid","data":{"order_id":"o-42"}}"#;
    assert_eq!(post(&online, "msg_fifo", order).await, StatusCode::OK);
    let key = "market:msg_fifo";
    let row = stack.row(key).await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
    assert_eq!(s(&row, "group_id").as_deref(), Some("o-42"));

    // As if marking it sent had failed: the row is pending again and the sweeper sends it too.
    stack
        .dynamodb
        .update_item()
        .table_name(&stack.table)
        .key("id", AttributeValue::S(key.to_owned()))
        .update_expression("SET #s = :pending, unsent_key = :k REMOVE expires_at")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
        .expression_attribute_values(
            ":k",
            AttributeValue::S(unsent_key(RowStatus::Pending, "market", shard_of(key, 4))),
        )
        .send()
        .await
        .unwrap();
    let report = sweeper(&stack, &routes)
        .await
        .sweep_once(now_millis() + 1, Instant::now() + Duration::from_secs(600))
        .await;
    assert_eq!(report.resent, 1, "{report:?}");

    let received = stack
        .sqs
        .receive_message()
        .queue_url(&orders)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        received.len(),
        1,
        "SQS dropped the second send: {received:?}"
    );
    let attributes = received[0].attributes().unwrap();
    assert_eq!(
        attributes
            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some("o-42")
    );
    assert_eq!(received[0].body(), Some(order));
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn a_redelivery_of_a_pending_event_goes_to_the_queue_its_row_records() {
    let stack = Stack::new().await;
    let orders = queue(&stack, "orders", false).await;
    let routes = format!(
        r#"[{{"name":"orders","header":"X-Kind","equals":"order","queue_url":"{orders}"}}]"#
    );
    let body = r#"{"type":"anything"}"#;
    // First delivery routed by its header, while SQS is down: the row is pending for `orders`.
    let offline = ingress(&stack, &routes, DEAD_SQS).await;
    assert_eq!(
        post_with(&offline, "msg_header", body, &[("x-kind", "order")]).await,
        StatusCode::OK
    );

    // The redelivery lacks the header (it would route to the default queue): the row decides.
    let online = ingress(&stack, &routes, &stack.endpoint).await;
    assert_eq!(post(&online, "msg_header", body).await, StatusCode::OK);

    assert_eq!(ids(&stack.drain(&orders).await), vec!["msg_header"]);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
    let row = stack.row("market:msg_header").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
}
