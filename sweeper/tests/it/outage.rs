//! The sweeper while SQS fails: a call refused as a whole charges no row, an entry refused on its
//! own is charged to its row, and a row changed by on-call while a sweep sends it is left as it is.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use e2e::proxy::{Fault, FaultProxy, FaultRules, ProxyConfig};
use e2e::testing::{has, s, sdk_config, Stack};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::CallLimits;
use shared::time::now_millis;

use crate::sweeps::{adapters, far_deadline, pending_rows, sweeper_for, GRACE_MS, SHARDS};

/// A fault proxy in front of the test stack's moto, and the stack's queue reached through it.
pub(crate) async fn queue_behind_proxy(stack: &Stack, rules: FaultRules) -> (FaultProxy, SqsQueue) {
    let moto: SocketAddr = stack
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("moto's address");
    let proxy = FaultProxy::start(ProxyConfig::new(moto, rules, 3))
        .await
        .expect("start the proxy");
    let sdk = sdk_config(&proxy.endpoint(), CallLimits::background()).await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &stack.queue_url);
    (proxy, queue)
}

#[tokio::test]
async fn an_sqs_outage_longer_than_max_attempts_parks_nothing_and_drains_once_it_recovers() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let every_batch_fails = FaultRules::none().with("sqs:SendMessageBatch", Fault::Error500, 1.0);
    let (proxy, queue) = queue_behind_proxy(&stack, every_batch_fails).await;
    let sweeper = sweeper_for(&stack, &[("MAX_ATTEMPTS", "2")], &outbox, &queue);
    let now = now_millis();
    let rows = pending_rows(&outbox, "outage", 12, now - GRACE_MS - 1_000).await;

    for sweep in 0..4 {
        let report = sweeper.sweep_once(now, far_deadline()).await;
        assert_eq!(
            (report.parked, report.resend_failed, report.resent),
            (0, 0, 0),
            "sweep {sweep}: {report:?}"
        );
        assert!(report.send_calls_failed >= 1, "sweep {sweep}: {report:?}");
        assert_eq!(report.pending_after, Some(12), "sweep {sweep}");
        assert_eq!(report.parked_after, Some(0), "sweep {sweep}");
    }
    assert!(proxy.stats().faults_for("sqs:SendMessageBatch") >= 4);
    for row in &rows {
        let stored = stack.row(&row.key).await.expect("the row");
        assert_eq!(s(&stored, "status").as_deref(), Some("pending"));
        assert!(
            !has(&stored, "attempts"),
            "no attempt charged to a row for a call that failed as a whole: {stored:?}"
        );
    }

    proxy.set_rules(FaultRules::none()).expect("rules");
    let recovered = sweeper.sweep_once(now, far_deadline()).await;
    assert_eq!(recovered.resent, 12, "{recovered:?}");
    assert_eq!(recovered.pending_after, Some(0));
}

#[tokio::test]
async fn an_entry_refused_on_its_own_is_charged_to_its_row_and_parked_rows_are_a_gauge() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let refused = FaultRules::none().with("sqs:SendMessageBatch", Fault::RejectEntries, 1.0);
    let (_proxy, queue) = queue_behind_proxy(&stack, refused).await;
    let sweeper = sweeper_for(&stack, &[("MAX_ATTEMPTS", "2")], &outbox, &queue);
    let now = now_millis();
    let rows = pending_rows(&outbox, "refused", 3, now - GRACE_MS - 1_000).await;

    let first = sweeper.sweep_once(now, far_deadline()).await;
    assert_eq!((first.resend_failed, first.parked), (3, 0), "{first:?}");
    assert_eq!(first.parked_after, Some(0));
    let second = sweeper.sweep_once(now, far_deadline()).await;
    assert_eq!((second.resend_failed, second.parked), (3, 3), "{second:?}");
    assert_eq!(
        second.parked_after,
        Some(3),
        "the gauge counts every parked row"
    );
    let third = sweeper.sweep_once(now, far_deadline()).await;
    assert_eq!(
        (third.parked, third.parked_after),
        (0, Some(3)),
        "still parked, still counted: {third:?}"
    );
    let stored = stack.row(&rows[0].key).await.expect("the row");
    assert_eq!(s(&stored, "status").as_deref(), Some("parked"));
    assert!(
        s(&stored, "last_error")
            .unwrap_or_default()
            .contains("InvalidParameterValue"),
        "{stored:?}"
    );
}

/// Discards a row (as `outboxctl discard` does) the first time the client it is on sends a
/// request: for the sweeper's SQS client, between the sweep's read of the row and its send.
#[derive(Debug)]
struct DiscardBeforeSend {
    endpoint: String,
    table: String,
    key: String,
    done: AtomicBool,
}

impl Intercept for DiscardBeforeSend {
    fn name(&self) -> &'static str {
        "DiscardBeforeSend"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let (endpoint, table, key) = (self.endpoint.clone(), self.table.clone(), self.key.clone());
        // Interceptors cannot await: the discard runs to its end on a runtime of its own.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            runtime.block_on(async {
                let sdk = sdk_config(&endpoint, CallLimits::background()).await;
                let outbox = DynamoDbOutbox::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    &table,
                    "market",
                    SHARDS,
                );
                outbox
                    .discard(
                        &key,
                        "on-call",
                        "raced a sweep",
                        now_millis(),
                        std::time::Duration::from_secs(86_400),
                    )
                    .await
                    .expect("discard")
            })
        })
        .join()
        .map_err(|_| "the discard panicked")?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_discarded_while_a_sweep_sends_it_stays_discarded_and_is_counted_apart() {
    let stack = Stack::new().await;
    let (outbox, _) = adapters(&stack, &stack.queue_url).await;
    let now = now_millis();
    let rows = pending_rows(&outbox, "raced", 1, now - GRACE_MS - 1_000).await;
    let sdk = sdk_config(&stack.endpoint, CallLimits::background()).await;
    let sqs = aws_sdk_sqs::config::Builder::from(&sdk)
        .interceptor(DiscardBeforeSend {
            endpoint: stack.endpoint.clone(),
            table: stack.table.clone(),
            key: rows[0].key.clone(),
            done: AtomicBool::new(false),
        })
        .build();
    let queue = SqsQueue::new(aws_sdk_sqs::Client::from_conf(sqs), &stack.queue_url);
    let sweeper = sweeper_for(&stack, &[], &outbox, &queue);

    let report = sweeper.sweep_once(now, far_deadline()).await;
    assert_eq!(
        (report.resent, report.sent_after_change),
        (1, 1),
        "sent, and counted apart as sent after a change: {report:?}"
    );
    let stored = stack.row(&rows[0].key).await.expect("the row");
    assert_eq!(
        s(&stored, "status").as_deref(),
        Some("discarded"),
        "the discard stands"
    );
    let on_queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &stack.queue_url)
        .receive(10, 60)
        .await
        .expect("ReceiveMessage");
    assert_eq!(
        on_queue.len(),
        1,
        "what the runbook says a concurrent sweep may still do"
    );
}
