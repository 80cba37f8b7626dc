//! `shared::delivery` under the recovery's rules (backfill and the reconciler: the ingress's
//! routine, `Rules::RECOVERY`), over the in-memory outbox and queue with scripted faults.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use e2e::fakes::{Fault, InMemoryOutbox, InMemoryQueue};
use shared::delivery::{Delivered, Deliverer, Delivery, DuplicateOf, Rules, Unbounded};
use shared::event::AcceptedEvent;
use shared::message::DeliveredBy;
use shared::metrics::MetricSet;
use shared::outbox::RowStatus;
use shared::ports::{Outbox, QueueSet};
use shared::time::now_millis;

fn event(id: &str, body: &'static [u8]) -> AcceptedEvent {
    AcceptedEvent::new(
        "market",
        id.to_owned(),
        None,
        Bytes::from_static(body),
        now_millis(),
    )
}

struct Fixture {
    outbox: InMemoryOutbox,
    queue: Arc<InMemoryQueue>,
    queues: QueueSet,
}

impl Fixture {
    fn new() -> Self {
        let queue = Arc::new(InMemoryQueue::new("http://queue/main"));
        Self {
            outbox: InMemoryOutbox::new("market", 4),
            queues: QueueSet::new(queue.clone(), vec![]),
            queue,
        }
    }

    async fn recover(&self, event: &AcceptedEvent) -> (Delivered, MetricSet) {
        let deliverer = Deliverer {
            outbox: &self.outbox,
            queues: &self.queues,
            claim_check: None,
            delivered_by: DeliveredBy::Backfill,
            retention: Duration::from_secs(86_400),
            rules: Rules::RECOVERY,
            now: now_millis,
        };
        let mut metrics = MetricSet::default();
        let (delivered, _) = deliverer
            .record_and_send(event.clone(), &Unbounded, &mut metrics)
            .await;
        (delivered, metrics)
    }
}

#[tokio::test]
async fn recorded_then_sent_then_marked_and_never_twice() {
    let fixture = Fixture::new();
    let first = event("evt_1", b"{}");

    let (recorded, metrics) = fixture.recover(&first).await;
    assert_eq!(recorded, Delivered::Accepted(Delivery::Enqueued));
    assert_eq!(metrics.get("Enqueued"), 1.0);
    assert_eq!(
        fixture.outbox.row(&first.key).expect("a row").status,
        RowStatus::Sent
    );
    let (again, _) = fixture.recover(&first).await;
    assert_eq!(again, Delivered::Duplicate(DuplicateOf::Sent));
    assert_eq!(fixture.queue.sent().len(), 1, "sent once");
    assert!(fixture.queue.sent()[0]
        .attributes
        .contains(&("delivered-by", "backfill".to_owned())));
}

#[tokio::test]
async fn a_refused_send_leaves_the_row_for_the_sweeper_and_a_refused_write_sends_nothing() {
    let fixture = Fixture::new();

    fixture.queue.script("SendMessage", Fault::Fail, 1);
    let unsent = event("evt_unsent", b"{}");
    let (recorded, _) = fixture.recover(&unsent).await;
    assert_eq!(recorded, Delivered::Accepted(Delivery::Deferred));
    assert_eq!(
        fixture.outbox.row(&unsent.key).expect("a row").status,
        RowStatus::Pending
    );

    fixture.outbox.script("PutItem", Fault::Fail, 1);
    let unwritten = event("evt_unwritten", b"{}");
    let (failed, metrics) = fixture.recover(&unwritten).await;
    assert!(matches!(failed, Delivered::Failed(_)), "{failed:?}");
    assert_eq!(metrics.get("OutboxWriteFailed"), 1.0);
    assert!(fixture.outbox.row(&unwritten.key).is_none());
    assert_eq!(
        fixture.queue.sent().len(),
        0,
        "nothing sent without its row (the ingress would send it; a later run retries)"
    );
}

#[tokio::test]
async fn another_body_under_the_id_or_a_pending_row_is_left_as_it_is() {
    let fixture = Fixture::new();
    // The ingress recorded the delivered bytes; the API serialises the same event differently.
    let delivered = event("evt_both", br#"{"id":"evt_both","object":"event"}"#);
    fixture.outbox.insert_pending(&delivered).await.unwrap();
    let from_api = event("evt_both", br#"{"object":"event","id":"evt_both"}"#);

    let (other, metrics) = fixture.recover(&from_api).await;
    assert!(matches!(other, Delivered::OtherBody(_)), "{other:?}");
    assert_eq!(metrics.get("IdConflict"), 0.0, "no second row");
    let (pending, _) = fixture.recover(&delivered).await;
    assert_eq!(pending, Delivered::Duplicate(DuplicateOf::PendingLeft));
    assert!(
        fixture.queue.sent().is_empty(),
        "the sweeper sends the pending row"
    );
    assert_eq!(
        fixture.outbox.row(&delivered.key).unwrap().status,
        RowStatus::Pending
    );
    assert!(fixture
        .outbox
        .row(&format!("{}#{}", from_api.key, from_api.body_sha256))
        .is_none());
}
