//! The outbox rows: `list` (the unsent index, never a Scan), `show`, and the repairs `resend`,
//! `park` and `discard`, each one conditional so it never overrides what the sweeper or the
//! ingress did meanwhile.

use anyhow::Context as _;
use serde_json::{json, Value};
use shared::aws::sqs::{batches, QueueError};
use shared::event::outbox_key;
use shared::large_body::BodyPointer;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{ChangeOutcome, ReceivedWindow, RowStatus, RowView, StoredRow, UnsentRef};
use shared::time::{now_millis, rfc3339_millis, EpochMillis};

use crate::cli::{
    ChangeArgs, DiscardArgs, ListArgs, ParkArgs, ResendArgs, ShowArgs, UnsentStatus, Window,
};
use crate::hints::Refusal;
use crate::output::{render_body, table, write_raw, Output};
use crate::target::Target;
use crate::timearg::{age, parse_time};
use crate::Outcome;

/// Index items asked for per Query page.
const PAGE_SIZE: i32 = 100;

/// The outbox key of an id as on-call types it: the whole key, or the event id alone.
pub fn key_of(source: &str, id: &str) -> String {
    if id.starts_with(&format!("{source}:")) {
        id.to_owned()
    } else {
        outbox_key(source, id)
    }
}

/// `--since`/`--until` as a window (open ends: the epoch, and a day from now).
pub fn window(args: &Window, now: EpochMillis) -> anyhow::Result<ReceivedWindow> {
    let parse = |text: &Option<String>, default: EpochMillis| -> anyhow::Result<EpochMillis> {
        text.as_deref()
            .map(|t| parse_time(t, now).map_err(anyhow::Error::msg))
            .unwrap_or(Ok(default))
    };
    let window = ReceivedWindow {
        since: parse(&args.since, 0)?,
        until: parse(&args.until, now + 86_400_000)?,
    };
    anyhow::ensure!(
        window.since < window.until,
        "--since must be before --until"
    );
    Ok(window)
}

/// Up to `limit` of this source's rows in `status` within `window`, oldest first, over every shard.
pub async fn unsent_rows(
    target: &Target,
    status: RowStatus,
    window: ReceivedWindow,
    limit: usize,
) -> anyhow::Result<Vec<UnsentRef>> {
    let mut found = Vec::new();
    for shard in 0..target.settings.pending_shards {
        let mut start = None;
        let mut from_shard = 0;
        loop {
            let page = target
                .outbox
                .unsent_window(status, shard, window, PAGE_SIZE, start)
                .await?;
            from_shard += page.rows.len();
            found.extend(page.rows);
            match page.next {
                // Each shard is oldest first, so no shard needs more than `limit` rows.
                Some(next) if from_shard < limit => start = Some(next),
                _ => break,
            }
        }
    }
    found.sort_by_key(|row| row.received_at);
    found.truncate(limit);
    Ok(found)
}

fn row_json(view: &RowView, now: EpochMillis) -> Value {
    let received_at: Option<EpochMillis> =
        view.attribute("received_at").and_then(|t| t.parse().ok());
    // Rows do not repeat the event id: it is the key after `source:`.
    let event_id = view
        .attribute("event_id")
        .or_else(|| view.key.split_once(':').map(|(_, id)| id));
    json!({
        "key": view.key,
        "status": view.status,
        "event_id": event_id,
        "event_type": view.attribute("event_type"),
        "received_at": received_at.map(rfc3339_millis),
        "age_secs": received_at.map(|at| (now - at).max(0) / 1000),
        "attempts": view.attribute("attempts").and_then(|t| t.parse::<u64>().ok()).unwrap_or(0),
        "last_error": view.attribute("last_error"),
        "parked_by": view.attribute("parked_by"),
        "park_reason": view.attribute("park_reason"),
    })
}

/// Prints a window on stderr as resolved, in UTC, so a misread time shows before anything is done.
fn echo_window(args: &Window, window: ReceivedWindow) {
    if args.since.is_some() || args.until.is_some() {
        eprintln!(
            "window (UTC): received {} .. {}",
            rfc3339_millis(window.since),
            rfc3339_millis(window.until)
        );
    }
}

pub async fn list(target: &Target, args: &ListArgs, output: Output) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let status = match args.status {
        UnsentStatus::Pending => RowStatus::Pending,
        UnsentStatus::Parked => RowStatus::Parked,
    };
    let window = window(&args.window, now)?;
    echo_window(&args.window, window);
    let refs = unsent_rows(target, status, window, args.limit).await?;
    let mut views = Vec::with_capacity(refs.len());
    for found in &refs {
        // The index lags the table: a row gone or changed since is shown as it is now.
        if let Some(view) = target.outbox.view(&found.key).await? {
            views.push(view);
        }
    }
    let json = Value::Array(views.iter().map(|v| row_json(v, now)).collect());
    output.emit(&json, || {
        let mut rows = table(&[
            "received at",
            "age",
            "key",
            "type",
            "attempts",
            "last error / parked by",
        ]);
        for row in json.as_array().into_iter().flatten() {
            let text = |name: &str| row[name].as_str().unwrap_or("-").to_owned();
            let why = match row["parked_by"].as_str() {
                Some(by) => format!("parked by {by}: {}", text("park_reason")),
                None => text("last_error"),
            };
            rows.add_row(vec![
                text("received_at"),
                row["age_secs"]
                    .as_i64()
                    .map_or("-".to_owned(), |s| age(s as f64)),
                text("key"),
                text("event_type"),
                row["attempts"].to_string(),
                why,
            ]);
        }
        println!("{rows}");
        println!("{} {} row(s)", views.len(), status.as_str());
    });
    // Parked rows wait for a person (like DLQ messages); pending ones are the sweeper's.
    Ok(if status == RowStatus::Parked && !views.is_empty() {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

pub async fn show(target: &Target, args: &ShowArgs, output: Output) -> anyhow::Result<Outcome> {
    let key = key_of(&target.settings.source, &args.id);
    let view = target.outbox.view(&key).await?.with_context(|| {
        format!("no outbox row {key}: check the id (the provider's event id, or the whole key); `outboxctl list` shows unsent rows")
    })?;
    let body = match &view.claim_check {
        // The row holds a pointer: the body is the S3 object's exact bytes.
        Some(pointer) => target
            .bodies
            .get(&pointer.bucket, &pointer.key)
            .await
            .map(|bytes| bytes.to_vec())
            .with_context(|| {
                format!(
                    "the row's body is in S3 (s3://{}/{}) and cannot be read (the row, {}, is shown above)",
                    pointer.bucket, pointer.key, view.status
                )
            }),
        None => Ok(view.body.clone().unwrap_or_default().to_vec()),
    };
    if args.body {
        write_raw(&body?)?;
        return Ok(Outcome::Ok);
    }
    let now = now_millis();
    let mut json = row_json(&view, now);
    json["attributes"] = Value::Object(
        view.attributes
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect(),
    );
    json["body"] = match &body {
        Ok(body) => json!(String::from_utf8_lossy(body)),
        Err(_) => Value::Null,
    };
    // The row first, whatever happens to its body: a pending row's missing object is a bug to
    // escalate, a sent row's an expired object, and only the row's status tells them apart.
    output.emit(&json, || {
        let mut rows = table(&["attribute", "value"]);
        for (name, value) in &view.attributes {
            let shown = match name.as_str() {
                "received_at" | "sent_at" | "discarded_at" | "parked_at" => {
                    value.parse().map_or(value.clone(), |at: EpochMillis| {
                        format!("{value} ({})", rfc3339_millis(at))
                    })
                }
                "expires_at" => value.parse().map_or(value.clone(), |at: EpochMillis| {
                    format!("{value} ({})", rfc3339_millis(at * 1000))
                }),
                _ => value.clone(),
            };
            rows.add_row(vec![name.clone(), shown]);
        }
        if let Ok(body) = &body {
            rows.add_row(vec!["body bytes".to_owned(), body.len().to_string()]);
        }
        println!("{rows}");
        if let Ok(body) = &body {
            println!("{}", render_body(body));
        }
    });
    body?;
    Ok(Outcome::Ok)
}

/// What happened to one row of a change.
fn row_result(key: &str, result: &str, detail: Option<String>) -> Value {
    json!({"key": key, "result": result, "detail": detail})
}

/// Rows read, sent and marked per step of a resend (one BatchGetItem).
const RESEND_CHUNK: usize = 100;

/// Where a resend stands.
#[derive(Debug, Default)]
struct ResendTally {
    results: Vec<Value>,
    sent: usize,
    /// SQS refused the row's own entry: it stays unsent.
    failed: usize,
    /// Not unsent any more, or gone.
    skipped: usize,
    /// Parked by hand and left out (no --include-parked-by-hand).
    parked_by_hand: usize,
}

pub async fn resend(target: &Target, args: &ResendArgs, output: Output) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let by_status = args.status.is_some();
    let keys: Vec<String> = if by_status {
        let window = window(&args.window, now)?;
        echo_window(&args.window, window);
        unsent_rows(target, RowStatus::Parked, window, usize::MAX)
            .await?
            .into_iter()
            .map(|r| r.key)
            .collect()
    } else {
        args.ids
            .iter()
            .map(|id| key_of(&target.settings.source, id))
            .collect()
    };
    let continue_with = format!("{} --yes", continue_command(args));
    if !args.yes {
        return dry_run(target, &keys, "resend", output).await;
    }
    // Only rows parked by the sweeper when chosen by status: someone parked the others on purpose.
    let leave_parked_by_hand = by_status && !args.include_parked_by_hand;
    let progress = output.progress(keys.len() as u64, "resend");
    let mut tally = ResendTally::default();
    let mut done_keys = 0;
    for chunk in keys.chunks(RESEND_CHUNK) {
        if let Err(err) = resend_chunk(target, chunk, leave_parked_by_hand, &mut tally).await {
            progress.finish_and_clear();
            print_results(&tally.results, output);
            // Every row tried has a result; the rest were not tried.
            let left = keys.len().saturating_sub(tally.results.len());
            let err = err.context(format!(
                "resend stopped: sent {}, failed {}, skipped {}, left {left} (not tried)",
                tally.sent, tally.failed, tally.skipped
            ));
            return Err(continue_hint(err, &continue_with));
        }
        done_keys += chunk.len();
        progress.set_position(done_keys as u64);
    }
    progress.finish_and_clear();
    print_results(&tally.results, output);
    if !output.json {
        println!(
            "sent {} · failed {} · skipped {} · parked by hand, left parked {}",
            tally.sent, tally.failed, tally.skipped, tally.parked_by_hand
        );
    }
    if tally.failed > 0 {
        return Err(continue_hint(
            anyhow::anyhow!(
                "{} row(s) could not be sent; they stay unsent (see `outboxctl show ID`); sent {}",
                tally.failed,
                tally.sent
            ),
            &continue_with,
        ));
    }
    if tally.parked_by_hand > 0 {
        eprintln!(
            "next: {} row(s) were parked by hand (`outboxctl list --status parked` shows who and why); to send them too: {} --include-parked-by-hand --yes",
            tally.parked_by_hand,
            continue_command(args)
        );
        return Ok(Outcome::Attention);
    }
    Ok(if tally.skipped > 0 {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

/// The command that continues a resend: rows already sent are no longer unsent, so the same
/// command sends only what is left.
fn continue_command(args: &ResendArgs) -> String {
    let mut command = "outboxctl resend".to_owned();
    if args.status.is_some() {
        command.push_str(" --status parked");
        for (flag, value) in [
            ("--since", &args.window.since),
            ("--until", &args.window.until),
        ] {
            if let Some(value) = value {
                command.push_str(&format!(" {flag} '{value}'"));
            }
        }
    } else {
        command.push_str(" ID...");
    }
    if args.include_parked_by_hand {
        command.push_str(" --include-parked-by-hand");
    }
    command
}

fn continue_hint(err: anyhow::Error, command: &str) -> anyhow::Error {
    let message = format!("{err:#}");
    Refusal::new(
        message,
        format!("fix the cause (the error above), then `{command}` continues with what is left"),
    )
    .into()
}

/// Reads, sends (SendMessageBatch per destination) and marks one chunk of rows. `Err` on an AWS
/// call that failed outright; what was done before it is in `tally`.
async fn resend_chunk(
    target: &Target,
    keys: &[String],
    leave_parked_by_hand: bool,
    tally: &mut ResendTally,
) -> anyhow::Result<()> {
    // A row that cannot be read is left out by `load_rows` (and logged), like a missing one.
    let rows = target.outbox.load_rows(keys).await?;
    let mut due: Vec<(StoredRow, OutgoingMessage)> = Vec::new();
    for key in keys {
        let Some(row) = rows.iter().find(|row| &row.key == key) else {
            tally
                .results
                .push(row_result(key, "skipped", Some("no such row".to_owned())));
            tally.skipped += 1;
            continue;
        };
        if !matches!(row.status, RowStatus::Pending | RowStatus::Parked) {
            tally.results.push(row_result(
                key,
                "skipped",
                Some(format!("row is {}", row.status.as_str())),
            ));
            tally.skipped += 1;
            continue;
        }
        if let (true, Some(by)) = (leave_parked_by_hand, &row.parked_by) {
            tally.results.push(row_result(
                key,
                "left parked",
                Some(format!("parked by hand by {by}")),
            ));
            tally.parked_by_hand += 1;
            continue;
        }
        let message = OutgoingMessage::for_event(&row.event, DeliveredBy::Outboxctl);
        due.push((row.clone(), message));
    }
    // To the queue each row was routed to when it was accepted, never elsewhere.
    let mut destinations: Vec<Option<String>> = Vec::new();
    for (row, _) in &due {
        if !destinations.contains(&row.event.destination.queue_url) {
            destinations.push(row.event.destination.queue_url.clone());
        }
    }
    for destination in destinations {
        let group: Vec<&(StoredRow, OutgoingMessage)> = due
            .iter()
            .filter(|(row, _)| row.event.destination.queue_url == destination)
            .collect();
        let Some(queue) = target.queues.get(destination.as_deref()) else {
            let error = QueueError::UnknownDestination(destination.unwrap_or_default());
            for (row, _) in group {
                tally
                    .results
                    .push(row_result(&row.key, "send failed", Some(error.to_string())));
                tally.failed += 1;
            }
            continue;
        };
        for batch in batches(&group, |(_, message)| message.size()) {
            let messages: Vec<&OutgoingMessage> = batch.iter().map(|(_, m)| m).collect();
            let results = queue.send_batch(&messages).await?;
            for ((row, _), result) in batch.iter().zip(results) {
                match result {
                    Ok(message_id) => tally
                        .results
                        .push(mark_one(target, row, &message_id).await?),
                    Err(error) => {
                        tally
                            .results
                            .push(row_result(&row.key, "send failed", Some(error)));
                        tally.failed += 1;
                        continue;
                    }
                }
                tally.sent += 1;
            }
        }
    }
    Ok(())
}

/// Marks one sent row sent if it is still unsent, and re-tags its S3 body.
async fn mark_one(target: &Target, row: &StoredRow, message_id: &str) -> anyhow::Result<Value> {
    let marked = target
        .outbox
        .mark_resent(
            &row.key,
            row.event.received_at,
            message_id,
            now_millis(),
            target.settings.retention,
        )
        .await?;
    Ok(match marked {
        ChangeOutcome::Changed => {
            let detail = match retag_body(target, row.event.claim_check.as_deref()).await {
                Some(leak) => format!("{message_id}; {leak}"),
                None => message_id.to_owned(),
            };
            row_result(&row.key, "sent", Some(detail))
        }
        ChangeOutcome::NotApplicable => row_result(
            &row.key,
            "sent (row changed meanwhile; left as it is)",
            Some(message_id.to_owned()),
        ),
    })
}

/// Ends a change command: exit 3 when any row was skipped (someone changed it meanwhile, or it
/// was not in a state the change applies to), so a script notices.
fn change_outcome(results: &[Value], verb: &str) -> Outcome {
    let skipped = results.iter().filter(|r| r["result"] == "skipped").count();
    if skipped > 0 {
        eprintln!(
            "next: {skipped} of {} row(s) were not {verb} (see the table): `outboxctl show ID` says what they are now",
            results.len()
        );
        Outcome::Attention
    } else {
        Outcome::Ok
    }
}

pub async fn park(target: &Target, args: &ParkArgs, output: Output) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!args.reason.trim().is_empty(), "--reason must say why");
    let keys: Vec<String> = args
        .ids
        .iter()
        .map(|id| key_of(&target.settings.source, id))
        .collect();
    if !args.yes {
        return dry_run(target, &keys, "park", output).await;
    }
    let operator = target.operator().await;
    let mut results = Vec::new();
    for key in &keys {
        let outcome = target
            .outbox
            .park(key, &operator, args.reason.trim(), now_millis())
            .await?;
        tracing::info!(key = %key, by = %operator, reason = %args.reason, ?outcome, "park");
        results.push(match outcome {
            ChangeOutcome::Changed => row_result(key, "parked", Some(format!("by {operator}"))),
            ChangeOutcome::NotApplicable => {
                row_result(key, "skipped", Some("not pending".to_owned()))
            }
        });
    }
    print_results(&results, output);
    if !output.json && results.iter().any(|r| r["result"] == "parked") {
        println!("a sweep that read a row just before it was parked may still send it once (the sweeper logs it)");
    }
    Ok(change_outcome(&results, "parked"))
}

pub async fn unpark(target: &Target, args: &ChangeArgs, output: Output) -> anyhow::Result<Outcome> {
    let keys: Vec<String> = args
        .ids
        .iter()
        .map(|id| key_of(&target.settings.source, id))
        .collect();
    if !args.yes {
        return dry_run(target, &keys, "unpark", output).await;
    }
    let mut results = Vec::new();
    for key in &keys {
        let outcome = target.outbox.unpark(key).await?;
        tracing::info!(key = %key, ?outcome, "unpark");
        results.push(match outcome {
            ChangeOutcome::Changed => {
                row_result(key, "pending", Some("the next sweep sends it".to_owned()))
            }
            ChangeOutcome::NotApplicable => {
                row_result(key, "skipped", Some("not parked".to_owned()))
            }
        });
    }
    print_results(&results, output);
    Ok(change_outcome(&results, "unparked"))
}

pub async fn discard(
    target: &Target,
    args: &DiscardArgs,
    output: Output,
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!args.reason.trim().is_empty(), "--reason must say why");
    let keys: Vec<String> = args
        .ids
        .iter()
        .map(|id| key_of(&target.settings.source, id))
        .collect();
    if !args.yes {
        return dry_run(target, &keys, "discard", output).await;
    }
    let operator = target.operator().await;
    let mut results = Vec::new();
    for key in &keys {
        let outcome = target
            .outbox
            .discard(
                key,
                &operator,
                args.reason.trim(),
                now_millis(),
                target.settings.retention,
            )
            .await?;
        tracing::warn!(key = %key, by = %operator, reason = %args.reason, ?outcome, "discard");
        results.push(match outcome {
            ChangeOutcome::Changed => {
                let pointer = target.outbox.view(key).await?.and_then(|v| v.claim_check);
                let detail = match retag_body(target, pointer.as_ref()).await {
                    Some(leak) => format!("by {operator}; {leak}"),
                    None => format!("by {operator}"),
                };
                row_result(key, "discarded", Some(detail))
            }
            ChangeOutcome::NotApplicable => {
                row_result(key, "skipped", Some("not pending or parked".to_owned()))
            }
        });
    }
    print_results(&results, output);
    if !output.json && results.iter().any(|r| r["result"] == "discarded") {
        println!("a sweep that read a pending row just before it was discarded may still send it once (the row stays discarded; the sweeper logs it)");
    }
    Ok(change_outcome(&results, "discarded"))
}

/// Re-tags the S3 body of a row just marked sent or discarded, so the bucket's lifecycle rule may
/// expire it; `Some(why)` when that failed (the object then never expires: a leak, nothing lost).
async fn retag_body(target: &Target, pointer: Option<&BodyPointer>) -> Option<String> {
    let pointer = pointer?;
    match target.bodies.mark_sent(&pointer.bucket, &pointer.key).await {
        Ok(()) => None,
        Err(err) => {
            tracing::warn!(key = %pointer.key, error = %err, "re-tagging the body sent failed; the object will not expire");
            Some(format!(
                "its S3 body could not be re-tagged sent, it will not expire: {err}"
            ))
        }
    }
}

/// What a change would touch: each row's current status (and who parked it by hand).
async fn dry_run(
    target: &Target,
    keys: &[String],
    verb: &str,
    output: Output,
) -> anyhow::Result<Outcome> {
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        let view = target.outbox.view(key).await?;
        rows.push(json!({
            "key": key,
            "status": view.as_ref().map(|v| v.status.clone()),
            "parked_by": view.as_ref().and_then(|v| v.attribute("parked_by").map(str::to_owned)),
        }));
    }
    let by_hand = rows.iter().filter(|r| r["parked_by"].is_string()).count();
    let json = json!({"dry_run": true, "would": verb, "rows": rows, "parked_by_hand": by_hand});
    output.emit(&json, || {
        let mut shown = table(&["key", "status now"]);
        for row in &rows {
            let status = row["status"].as_str().unwrap_or("no such row");
            let status = match row["parked_by"].as_str() {
                Some(by) => format!("{status} (by hand, by {by})"),
                None => status.to_owned(),
            };
            shown.add_row(vec![row["key"].as_str().unwrap_or("-").to_owned(), status]);
        }
        println!("{shown}");
        println!(
            "dry run: would {verb} {} row(s); add --yes to do it",
            rows.len()
        );
        if verb == "resend" && by_hand > 0 {
            println!("{by_hand} of them were parked by hand: --status parked leaves those out unless --include-parked-by-hand");
        }
    });
    Ok(Outcome::Ok)
}

fn print_results(results: &[Value], output: Output) {
    let json = Value::Array(results.to_vec());
    output.emit(&json, || {
        let mut shown = table(&["key", "result", "detail"]);
        for row in results {
            shown.add_row(vec![
                row["key"].as_str().unwrap_or("-").to_owned(),
                row["result"].as_str().unwrap_or("-").to_owned(),
                row["detail"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        println!("{shown}");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_keys_of_the_source_unless_already_keys() {
        assert_eq!(key_of("market", "evt_1"), "market:evt_1");
        assert_eq!(key_of("market", "market:evt_1"), "market:evt_1");
        assert_eq!(key_of("market", "other:evt_1"), "market:other:evt_1");
    }

    #[test]
    fn windows_default_to_everything_and_refuse_inverted_ones() {
        let now = 1_000_000_000;
        let all = window(&Window::default(), now).unwrap();
        assert_eq!((all.since, all.until), (0, now + 86_400_000));
        let inverted = Window {
            since: Some("1h".into()),
            until: Some("2h".into()),
        };
        assert!(window(&inverted, now).is_err());
    }
}
