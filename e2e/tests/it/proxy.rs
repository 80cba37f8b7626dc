//! The fault proxy, fault by fault, with the real SDK against moto: each fault must look to the
//! client the way AWS failing looks, and must (or must not) let the write through.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use e2e::proxy::{Fault, FaultProxy, FaultRules, ProxyConfig};
use e2e::stack::Stack;

use crate::support::{client_config, stack};

async fn proxy(stack: &Stack, rules: FaultRules) -> FaultProxy {
    let mut config = ProxyConfig::new(stack.moto, rules, 11);
    config.hang_for = Duration::from_secs(5);
    FaultProxy::start(config).await.expect("proxy starts")
}

/// Generous attempt timeout: a loaded machine must not turn a slow answer into a "fault".
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

async fn dynamodb_via(proxy: &FaultProxy, attempts: u32) -> aws_sdk_dynamodb::Client {
    let config = client_config(&proxy.endpoint(), attempts, ATTEMPT_TIMEOUT).await;
    aws_sdk_dynamodb::Client::new(&config)
}

async fn sqs_via(proxy: &FaultProxy, attempts: u32) -> aws_sdk_sqs::Client {
    let config = client_config(&proxy.endpoint(), attempts, ATTEMPT_TIMEOUT).await;
    aws_sdk_sqs::Client::new(&config)
}

async fn put(
    client: &aws_sdk_dynamodb::Client,
    stack: &Stack,
    id: &str,
) -> Result<
    aws_sdk_dynamodb::operation::put_item::PutItemOutput,
    SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
> {
    client
        .put_item()
        .table_name(&stack.table)
        .item("id", AttributeValue::S(id.to_owned()))
        .item("status", AttributeValue::S("sent".to_owned()))
        .send()
        .await
}

/// Read straight from moto, bypassing the proxy.
async fn exists(stack: &Stack, id: &str) -> bool {
    stack
        .dynamodb
        .get_item()
        .table_name(&stack.table)
        .key("id", AttributeValue::S(id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem on moto")
        .item
        .is_some()
}

async fn send(
    client: &aws_sdk_sqs::Client,
    stack: &Stack,
    body: &str,
) -> Result<
    aws_sdk_sqs::operation::send_message::SendMessageOutput,
    SdkError<aws_sdk_sqs::operation::send_message::SendMessageError>,
> {
    client
        .send_message()
        .queue_url(&stack.queue_url)
        .message_body(body)
        .send()
        .await
}

#[tokio::test]
async fn without_rules_the_proxy_forwards_untouched_and_counts_each_operation() {
    let stack = stack().await;
    let proxy = proxy(&stack, FaultRules::none()).await;
    let dynamodb = dynamodb_via(&proxy, 1).await;
    let sqs = sqs_via(&proxy, 1).await;

    put(&dynamodb, &stack, "plain").await.expect("PutItem");
    let read = dynamodb
        .get_item()
        .table_name(&stack.table)
        .key("id", AttributeValue::S("plain".to_owned()))
        .send()
        .await
        .expect("GetItem through the proxy");
    assert_eq!(
        read.item().and_then(|item| item.get("status")),
        Some(&AttributeValue::S("sent".to_owned()))
    );
    // An error answer passes through untouched too (status and code).
    let missing = dynamodb
        .describe_table()
        .table_name("no-such-table")
        .send()
        .await
        .expect_err("no such table");
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    send(&sqs, &stack, "caf\u{e9} \u{2603}")
        .await
        .expect("SendMessage");

    assert!(exists(&stack, "plain").await);
    assert_eq!(stack.queue_depth(&stack.queue_url).await.unwrap(), 1);
    let stats = proxy.stats();
    assert_eq!(stats.requests_for("dynamodb:PutItem"), 1);
    assert_eq!(stats.requests_for("dynamodb:GetItem"), 1);
    assert_eq!(stats.requests_for("dynamodb:DescribeTable"), 1);
    assert_eq!(stats.requests_for("sqs:SendMessage"), 1);
    assert_eq!(stats.total_faults(), 0);
    assert_eq!(stats.upstream_errors, 0);
    stack.delete().await;
}

#[tokio::test]
async fn error_500_fails_the_call_with_an_internal_error_and_writes_nothing() {
    let stack = stack().await;
    let rules = FaultRules::none()
        .with("dynamodb:PutItem", Fault::Error500, 1.0)
        .with("sqs:SendMessage", Fault::Error500, 1.0);
    let proxy = proxy(&stack, rules).await;

    let err = put(&dynamodb_via(&proxy, 1).await, &stack, "e500")
        .await
        .expect_err("500");
    assert_eq!(err.code(), Some("InternalServerError"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let err = send(&sqs_via(&proxy, 1).await, &stack, "x")
        .await
        .expect_err("500");
    assert_eq!(err.code(), Some("InternalFailure"), "{err:?}");

    assert!(!exists(&stack, "e500").await);
    assert_eq!(stack.queue_depth(&stack.queue_url).await.unwrap(), 0);
    assert_eq!(proxy.stats().faults_of(Fault::Error500), 2);
    stack.delete().await;
}

#[tokio::test]
async fn throttle_carries_a_throttling_code_that_the_sdk_retries() {
    let stack = stack().await;
    let rules = FaultRules::none()
        .with("dynamodb:PutItem", Fault::Throttle, 1.0)
        .with("sqs:SendMessage", Fault::Throttle, 1.0);
    let proxy = proxy(&stack, rules).await;

    let err = put(&dynamodb_via(&proxy, 2).await, &stack, "throttled")
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let err = send(&sqs_via(&proxy, 2).await, &stack, "x")
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("RequestThrottled"), "{err:?}");

    // The SDK retried both (a 400 it did not classify as throttling would not be retried).
    let stats = proxy.stats();
    assert_eq!(stats.requests_for("dynamodb:PutItem"), 2);
    assert_eq!(stats.requests_for("sqs:SendMessage"), 2);
    assert_eq!(stats.faults_of(Fault::Throttle), 4);
    assert!(!exists(&stack, "throttled").await);
    stack.delete().await;
}

#[tokio::test]
async fn hang_outlasts_the_attempt_timeout_and_writes_nothing() {
    let stack = stack().await;
    let proxy = proxy(
        &stack,
        FaultRules::none().with("dynamodb:PutItem", Fault::Hang, 1.0),
    )
    .await;
    let config = client_config(&proxy.endpoint(), 1, Duration::from_millis(700)).await;

    // The error's kind, not the time taken, shows the attempt timeout ended the call; the outer
    // timeout only guards against a hang.
    let client = aws_sdk_dynamodb::Client::new(&config);
    let put = put(&client, &stack, "hung");
    let err = tokio::time::timeout(Duration::from_secs(120), put)
        .await
        .expect("the SDK call came back")
        .expect_err("timeout");
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(!exists(&stack, "hung").await);
    assert_eq!(proxy.stats().faults_of(Fault::Hang), 1);
    stack.delete().await;
}

#[tokio::test]
async fn reset_drops_the_connection_without_an_answer() {
    let stack = stack().await;
    let rules = FaultRules::none()
        .with("dynamodb:PutItem", Fault::Reset, 1.0)
        .with("sqs:SendMessage", Fault::Reset, 1.0);
    let proxy = proxy(&stack, rules).await;

    let err = put(&dynamodb_via(&proxy, 1).await, &stack, "reset")
        .await
        .expect_err("reset");
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "{err:?}"
    );
    assert!(err.raw_response().is_none(), "no answer at all: {err:?}");
    let err = send(&sqs_via(&proxy, 1).await, &stack, "x")
        .await
        .expect_err("reset");
    assert!(err.raw_response().is_none(), "{err:?}");

    assert!(!exists(&stack, "reset").await);
    assert_eq!(stack.queue_depth(&stack.queue_url).await.unwrap(), 0);
    assert_eq!(proxy.stats().faults_of(Fault::Reset), 2);
    stack.delete().await;
}

#[tokio::test]
async fn fail_after_write_reports_an_error_although_the_write_happened() {
    let stack = stack().await;
    let rules = FaultRules::none()
        .with("dynamodb:PutItem", Fault::FailAfterWrite, 1.0)
        .with("sqs:SendMessage", Fault::FailAfterWrite, 1.0);
    let proxy = proxy(&stack, rules).await;

    let err = put(&dynamodb_via(&proxy, 1).await, &stack, "written")
        .await
        .expect_err("500 after the write");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert!(
        exists(&stack, "written").await,
        "the item was written anyway"
    );

    let err = send(&sqs_via(&proxy, 1).await, &stack, "sent anyway")
        .await
        .expect_err("500 after the send");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(stack.queue_depth(&stack.queue_url).await.unwrap(), 1);
    assert_eq!(proxy.stats().faults_of(Fault::FailAfterWrite), 2);
    stack.delete().await;
}

#[tokio::test]
async fn faults_are_drawn_at_the_configured_rate() {
    let stack = stack().await;
    let proxy = proxy(
        &stack,
        FaultRules::none().spread(
            "dynamodb:DescribeTable",
            0.3,
            &[Fault::Error500, Fault::Throttle],
        ),
    )
    .await;
    let dynamodb = dynamodb_via(&proxy, 1).await;
    let mut failed = 0;
    for _ in 0..200 {
        let result = dynamodb
            .describe_table()
            .table_name(&stack.table)
            .send()
            .await;
        if result.is_err() {
            failed += 1;
        }
    }
    let stats = proxy.stats();
    assert_eq!(stats.requests_for("dynamodb:DescribeTable"), 200);
    assert_eq!(stats.faults_for("dynamodb:DescribeTable"), failed);
    assert!((35..=85).contains(&failed), "{failed} of 200 at 30%");
    assert!(stats.faults_of(Fault::Error500) > 0 && stats.faults_of(Fault::Throttle) > 0);
    stack.delete().await;
}
