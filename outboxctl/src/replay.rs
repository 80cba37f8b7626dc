//! `replay`: events already sent, sent again because a worker lost them. Sent rows are not in the
//! sparse index, so this is a parallel segmented Scan (see the README for why not a time index).

use std::sync::Arc;

use serde_json::json;
use shared::message::OutgoingMessage;
use shared::outbox::{ReceivedWindow, SentRow};
use shared::queue::{batches, QueueError};
use shared::time::{now_millis, rfc3339_millis};
use tokio::task::JoinSet;

use crate::cli::ReplayArgs;
use crate::output::Output;
use crate::target::Target;
use crate::timearg::parse_time;
use crate::Outcome;

/// What one Scan segment found and did.
#[derive(Debug, Default)]
struct SegmentReport {
    matched: u64,
    scanned: u64,
    read_units: f64,
    sent: u64,
    failures: Vec<String>,
}

pub async fn run(
    target: Arc<Target>,
    args: &ReplayArgs,
    output: Output,
) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let window = ReceivedWindow {
        since: parse_time(&args.since, now).map_err(anyhow::Error::msg)?,
        until: parse_time(&args.until, now).map_err(anyhow::Error::msg)?,
    };
    anyhow::ensure!(
        window.since < window.until,
        "--since must be before --until"
    );
    let send = args.yes && !args.dry_run;
    let progress = output.progress(u64::try_from(args.segments).unwrap_or(1), "scan segments");
    let mut tasks = JoinSet::new();
    for segment in 0..args.segments {
        let (target, event_type) = (Arc::clone(&target), args.event_type.clone());
        let total = args.segments;
        tasks.spawn(async move {
            scan_segment(&target, segment, total, window, event_type.as_deref(), send).await
        });
    }
    let mut report = SegmentReport::default();
    while let Some(done) = tasks.join_next().await {
        let segment = done??;
        report.matched += segment.matched;
        report.scanned += segment.scanned;
        report.read_units += segment.read_units;
        report.sent += segment.sent;
        report.failures.extend(segment.failures);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let json = json!({
        "dry_run": !send,
        "since": rfc3339_millis(window.since),
        "until": rfc3339_millis(window.until),
        "event_type": args.event_type,
        "matched": report.matched,
        "items_scanned": report.scanned,
        "read_units": report.read_units,
        "sent": report.sent,
        "failed": report.failures,
    });
    output.emit(&json, || {
        println!(
            "{} sent event(s) of {} received {} .. {}{}; the Scan read {} item(s), {:.1} read units",
            report.matched,
            target.settings.source,
            rfc3339_millis(window.since),
            rfc3339_millis(window.until),
            args.event_type.as_deref().map(|t| format!(" of type {t}")).unwrap_or_default(),
            report.scanned,
            report.read_units,
        );
        if send {
            println!("replayed {} (delivered-by outboxctl, replay-of the first message id)", report.sent);
        } else {
            println!("dry run: add --yes to send them again");
        }
        for failure in &report.failures {
            println!("failed: {failure}");
        }
    });
    if report.failures.is_empty() {
        Ok(Outcome::Ok)
    } else {
        anyhow::bail!(
            "{} replayed message(s) could not be sent",
            report.failures.len()
        )
    }
}

async fn scan_segment(
    target: &Target,
    segment: i32,
    total: i32,
    window: ReceivedWindow,
    event_type: Option<&str>,
    send: bool,
) -> anyhow::Result<SegmentReport> {
    let mut report = SegmentReport::default();
    let mut start = None;
    loop {
        let page = target
            .outbox
            .scan_sent(segment, total, window, event_type, start)
            .await?;
        report.scanned += page.items_scanned as u64;
        report.read_units += page.read_units;
        report.matched += page.rows.len() as u64;
        if send && !page.rows.is_empty() {
            replay_page(target, &page.rows, &mut report).await;
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(report),
        }
    }
}

/// Sends one page of sent rows again, in SendMessageBatch calls; the rows are not changed.
async fn replay_page(target: &Target, rows: &[SentRow], report: &mut SegmentReport) {
    let mut renewed = Vec::with_capacity(rows.len());
    for sent in rows {
        // A body in S3 expires a fixed time after its object was last tagged sent, which was
        // counted from the first delivery: re-tagging restarts it, so the replayed pointer lives
        // as long as a new message may. No pointer is sent whose object could not be renewed.
        if let Some(pointer) = sent.row.event.claim_check.as_deref() {
            if let Err(error) = target.bodies.mark_sent(&pointer.bucket, &pointer.key).await {
                report.failures.push(format!(
                    "{}: not replayed, its body in S3 could not be renewed: {error}",
                    sent.row.key
                ));
                continue;
            }
        }
        renewed.push(sent);
    }
    let rows = renewed;
    let messages: Vec<(String, OutgoingMessage)> = rows
        .iter()
        .map(|sent| {
            (
                sent.row.key.clone(),
                OutgoingMessage::replay(&sent.row.event, sent.message_id.as_deref()),
            )
        })
        .collect();
    // Each event goes back to the queue it was routed to when it was accepted.
    let mut destinations: Vec<Option<&str>> = Vec::new();
    for sent in &rows {
        let destination = sent.row.event.destination.queue_url.as_deref();
        if !destinations.contains(&destination) {
            destinations.push(destination);
        }
    }
    for destination in destinations {
        let group: Vec<&(String, OutgoingMessage)> = rows
            .iter()
            .zip(&messages)
            .filter(|(sent, _)| sent.row.event.destination.queue_url.as_deref() == destination)
            .map(|(_, message)| message)
            .collect();
        let Some(queue) = target.queues.get(destination) else {
            let error = QueueError::UnknownDestination(destination.unwrap_or_default().to_owned());
            report
                .failures
                .extend(group.iter().map(|(key, _)| format!("{key}: {error}")));
            continue;
        };
        for batch in batches(&group, |(_, message)| message.size()) {
            let refs: Vec<&OutgoingMessage> = batch.iter().map(|(_, message)| message).collect();
            for ((key, _), result) in batch.iter().zip(queue.send_batch(&refs).await) {
                match result {
                    Ok(_) => report.sent += 1,
                    Err(error) => report.failures.push(format!("{key}: {error}")),
                }
            }
        }
    }
}
