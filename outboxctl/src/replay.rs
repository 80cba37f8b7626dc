//! `replay`: events already sent, sent again because a worker lost them. Sent rows are not in the
//! sparse index, so this is a parallel segmented Scan (docs/outboxctl.md says why not a time index).

use std::sync::Arc;

use serde_json::json;
use shared::aws::sqs::{batches, QueueError};
use shared::message::OutgoingMessage;
use shared::outbox::{ReceivedWindow, SentRow};
use shared::time::{now_millis, rfc3339_millis, EpochMillis};
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
    /// Rows that matched but cannot be read: skipped, for a person to look at.
    skipped: Vec<String>,
}

impl SegmentReport {
    fn absorb(&mut self, other: SegmentReport) {
        self.matched += other.matched;
        self.scanned += other.scanned;
        self.read_units += other.read_units;
        self.sent += other.sent;
        self.failures.extend(other.failures);
        self.skipped.extend(other.skipped);
    }
}

/// This run's name: part of every replayed message's FIFO deduplication id, so a second replay
/// of the same event (within SQS's five-minute deduplication window) is a new message, not a
/// duplicate SQS drops while outboxctl counts it sent.
fn run_id(now: EpochMillis) -> String {
    format!("r{now}-{}", std::process::id())
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
    let run = run_id(now);
    eprintln!(
        "window (UTC): received {} .. {}{}",
        rfc3339_millis(window.since),
        rfc3339_millis(window.until),
        if send {
            format!("; replay run {run}")
        } else {
            String::new()
        }
    );
    let progress = output.progress(u64::try_from(args.segments).unwrap_or(1), "scan segments");
    let mut tasks = JoinSet::new();
    for segment in 0..args.segments {
        let (target, event_type, run) = (Arc::clone(&target), args.event_type.clone(), run.clone());
        let total = args.segments;
        let scope = Scope {
            window,
            event_type,
            run: send.then_some(run),
        };
        tasks.spawn(async move { scan_segment(&target, segment, total, &scope).await });
    }
    // Every segment runs to its end: one failing stops only itself, and what the others sent
    // is counted, so a run again knows what it would duplicate.
    let mut report = SegmentReport::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(segment) => report.absorb(segment),
            Err(err) => report
                .failures
                .push(format!("a Scan segment stopped: {err}")),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let json = json!({
        "dry_run": !send,
        "run": send.then_some(&run),
        "since": rfc3339_millis(window.since),
        "until": rfc3339_millis(window.until),
        "event_type": args.event_type,
        "matched": report.matched,
        "items_scanned": report.scanned,
        "read_units": report.read_units,
        "sent": report.sent,
        "failed": report.failures,
        "skipped": report.skipped,
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
            println!(
                "replayed {} (run {run}: delivered-by outboxctl, replay-of the first message id)",
                report.sent
            );
        } else {
            println!("dry run: add --yes to send them again");
        }
        for failure in &report.failures {
            println!("failed: {failure}");
        }
        for skipped in &report.skipped {
            println!("skipped: {skipped}");
        }
    });
    if !report.failures.is_empty() {
        anyhow::bail!(
            "{} of the matched event(s) were not replayed (see above), {} were: a run again sends those {} again too (narrow --since/--until or --event-type to avoid duplicates)",
            report.failures.len(),
            report.sent,
            report.sent
        )
    }
    if !report.skipped.is_empty() {
        eprintln!(
            "next: {} row(s) cannot be read and were not replayed: `outboxctl show KEY` shows what is wrong",
            report.skipped.len()
        );
        return Ok(Outcome::Attention);
    }
    Ok(Outcome::Ok)
}

/// What a segment looks for and, when it sends, under which run.
struct Scope {
    window: ReceivedWindow,
    event_type: Option<String>,
    /// `None`: a dry run.
    run: Option<String>,
}

async fn scan_segment(target: &Target, segment: i32, total: i32, scope: &Scope) -> SegmentReport {
    let mut report = SegmentReport::default();
    let mut start = None;
    loop {
        let page = match target
            .outbox
            .scan_sent(
                segment,
                total,
                scope.window,
                scope.event_type.as_deref(),
                start,
            )
            .await
        {
            Ok(page) => page,
            Err(err) => {
                report.failures.push(format!(
                    "Scan segment {segment} stopped, its later rows were not looked at: {err}"
                ));
                return report;
            }
        };
        report.scanned += page.items_scanned as u64;
        report.read_units += page.read_units;
        report.matched += (page.rows.len() + page.malformed.len()) as u64;
        report
            .skipped
            .extend(page.malformed.iter().map(ToString::to_string));
        if let Some(run) = &scope.run {
            if !page.rows.is_empty() {
                replay_page(target, &page.rows, run, &mut report).await;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return report,
        }
    }
}

/// Sends one page of sent rows again, in SendMessageBatch calls; the rows are not changed.
async fn replay_page(target: &Target, rows: &[SentRow], run: &str, report: &mut SegmentReport) {
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
            let message = OutgoingMessage::replay(&sent.row.event, sent.message_id.as_deref(), run);
            (sent.row.key.clone(), message)
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
            let results = match queue.send_batch(&refs).await {
                Ok(results) => results,
                Err(error) => vec![Err(error.to_string()); batch.len()],
            };
            for ((key, _), result) in batch.iter().zip(results) {
                match result {
                    Ok(_) => report.sent += 1,
                    Err(error) => report.failures.push(format!("{key}: {error}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_has_its_own_name() {
        assert_ne!(run_id(1_000), run_id(2_000));
    }
}
