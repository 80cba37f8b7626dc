//! `shared::delivery`, the one "insert pending, send, mark sent" routine of backfill and the
//! reconciler, over the in-memory outbox and queue with scripted faults.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use e2e::fakes::{Fault, InMemoryOutbox, InMemoryQueue};
use shared::delivery::{record_and_send, Recorded};
use shared::event::AcceptedEvent;
use shared::message::DeliveredBy;
use shared::outbox::RowStatus;
use shared::ports::QueueSet;
use shared::time::now_millis;

fn event(id: &str) -> AcceptedEvent {
    AcceptedEvent::new(
        "market",
        id.to_owned(),
        None,
        Bytes::from_static(b"{}"),
        now_millis(),
    )
}

#[tokio::test]
async fn recorded_then_sent_then_marked_and_never_twice() {
    let outbox = InMemoryOutbox::new("market", 4);
    let queue = Arc::new(InMemoryQueue::new("http://queue/main"));
    let queues = QueueSet::new(queue.clone(), vec![]);
    let retention = Duration::from_secs(86_400);
    let first = event("evt_1");

    let recorded = record_and_send(
        &outbox,
        &queues,
        &first,
        DeliveredBy::Backfill,
        retention,
        now_millis,
    )
    .await
    .expect("recorded");
    assert!(
        matches!(recorded, Recorded::Sent { marked: true, .. }),
        "{recorded:?}"
    );
    assert_eq!(
        outbox.row(&first.key).expect("a row").status,
        RowStatus::Sent
    );
    let again = record_and_send(
        &outbox,
        &queues,
        &first,
        DeliveredBy::Backfill,
        retention,
        now_millis,
    )
    .await
    .expect("read");
    assert!(matches!(again, Recorded::AlreadyThere(_)), "{again:?}");
    assert_eq!(queue.sent().len(), 1, "sent once");
}

#[tokio::test]
async fn a_refused_send_leaves_the_row_for_the_sweeper_and_a_refused_write_sends_nothing() {
    let outbox = InMemoryOutbox::new("market", 4);
    let queue = Arc::new(InMemoryQueue::new("http://queue/main"));
    let queues = QueueSet::new(queue.clone(), vec![]);
    let retention = Duration::from_secs(86_400);

    queue.script("SendMessage", Fault::Fail, 1);
    let unsent = event("evt_unsent");
    let recorded = record_and_send(
        &outbox,
        &queues,
        &unsent,
        DeliveredBy::Backfill,
        retention,
        now_millis,
    )
    .await
    .expect("recorded");
    assert!(
        matches!(recorded, Recorded::LeftToSweeper { .. }),
        "{recorded:?}"
    );
    assert_eq!(
        outbox.row(&unsent.key).expect("a row").status,
        RowStatus::Pending
    );

    outbox.script("PutItem", Fault::Fail, 1);
    let unwritten = event("evt_unwritten");
    let failed = record_and_send(
        &outbox,
        &queues,
        &unwritten,
        DeliveredBy::Backfill,
        retention,
        now_millis,
    )
    .await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(outbox.row(&unwritten.key).is_none());
    assert!(queue.sent().is_empty(), "nothing sent without its row");
}
