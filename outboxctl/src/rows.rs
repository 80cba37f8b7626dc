//! The outbox rows: `list` (the unsent index, never a Scan), `show`, and the repairs `resend`,
//! `park` and `discard`, each one conditional so it never overrides what the sweeper or the
//! ingress did meanwhile.

use anyhow::Context as _;
use serde_json::{json, Value};
use shared::event::outbox_key;
use shared::large_body::BodyPointer;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{ChangeOutcome, ReceivedWindow, RowStatus, RowView, StoredRow, UnsentRef};
use shared::queue::QueueError;
use shared::time::{now_millis, rfc3339_millis, EpochMillis};

use crate::cli::{ChangeArgs, DiscardArgs, ListArgs, ResendArgs, ShowArgs, UnsentStatus, Window};
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
    json!({
        "key": view.key,
        "status": view.status,
        "event_id": view.attribute("event_id"),
        "event_type": view.attribute("event_type"),
        "received_at": received_at.map(rfc3339_millis),
        "age_secs": received_at.map(|at| (now - at).max(0) / 1000),
        "attempts": view.attribute("attempts").and_then(|t| t.parse::<u64>().ok()).unwrap_or(0),
        "last_error": view.attribute("last_error"),
    })
}

pub async fn list(target: &Target, args: &ListArgs, output: Output) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let status = match args.status {
        UnsentStatus::Pending => RowStatus::Pending,
        UnsentStatus::Parked => RowStatus::Parked,
    };
    let refs = unsent_rows(target, status, window(&args.window, now)?, args.limit).await?;
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
            "last error",
        ]);
        for row in json.as_array().into_iter().flatten() {
            let text = |name: &str| row[name].as_str().unwrap_or("-").to_owned();
            rows.add_row(vec![
                text("received_at"),
                row["age_secs"]
                    .as_i64()
                    .map_or("-".to_owned(), |s| age(s as f64)),
                text("key"),
                text("event_type"),
                row["attempts"].to_string(),
                text("last_error"),
            ]);
        }
        println!("{rows}");
        println!("{} {} row(s)", views.len(), status.as_str());
    });
    Ok(Outcome::Ok)
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
            .with_context(|| {
                format!(
                    "the row's body is in S3 (s3://{}/{}) and cannot be read",
                    pointer.bucket, pointer.key
                )
            })?,
        None => view.body.clone().unwrap_or_default(),
    };
    if args.body {
        write_raw(&body)?;
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
    json["body"] = json!(String::from_utf8_lossy(&body));
    output.emit(&json, || {
        let mut rows = table(&["attribute", "value"]);
        for (name, value) in &view.attributes {
            let shown = match name.as_str() {
                "received_at" | "sent_at" | "discarded_at" => {
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
        rows.add_row(vec!["body bytes".to_owned(), body.len().to_string()]);
        println!("{rows}");
        println!("{}", render_body(&body));
    });
    Ok(Outcome::Ok)
}

/// What happened to one row of a resend.
fn resend_result(key: &str, result: &str, detail: Option<String>) -> Value {
    json!({"key": key, "result": result, "detail": detail})
}

pub async fn resend(target: &Target, args: &ResendArgs, output: Output) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let keys: Vec<String> = if args.status.is_some() {
        unsent_rows(
            target,
            RowStatus::Parked,
            window(&args.window, now)?,
            usize::MAX,
        )
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
    if !args.yes {
        return dry_run(target, &keys, "resend", output).await;
    }
    let progress = output.progress(keys.len() as u64, "resend");
    let mut results = Vec::with_capacity(keys.len());
    let mut failed = 0;
    for key in &keys {
        results.push(resend_one(target, key, &mut failed).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    print_results(&results, output);
    if failed > 0 {
        anyhow::bail!(
            "{failed} row(s) could not be sent; they stay unsent (see `outboxctl show ID`)"
        )
    }
    Ok(Outcome::Ok)
}

/// Sends one row if it is still unsent, then marks it sent if it still is.
async fn resend_one(target: &Target, key: &str, failed: &mut usize) -> anyhow::Result<Value> {
    // A row that cannot be read is left out by `load_rows` (and logged), like a missing one.
    let row = target
        .outbox
        .load_rows(&[key.to_owned()])
        .await?
        .into_iter()
        .next();
    let unsent = |row: &StoredRow| matches!(row.status, RowStatus::Pending | RowStatus::Parked);
    let Some(row) = row.filter(unsent) else {
        let status = target.outbox.view(key).await?.map(|v| v.status);
        return Ok(resend_result(
            key,
            "skipped",
            Some(status.map_or("no such row".to_owned(), |s| format!("row is {s}"))),
        ));
    };
    let message = OutgoingMessage::for_event(&row.event, DeliveredBy::Outboxctl);
    // To the queue the row was routed to when it was accepted, never elsewhere.
    let destination = row.event.destination.queue_url.as_deref();
    let sent = match target.queues.get(destination) {
        Some(queue) => queue.send(&message).await,
        None => Err(QueueError::UnknownDestination(
            destination.unwrap_or_default().to_owned(),
        )),
    };
    let message_id = match sent {
        Ok(id) => id,
        Err(err) => {
            *failed += 1;
            return Ok(resend_result(key, "send failed", Some(err.to_string())));
        }
    };
    let marked = target
        .outbox
        .mark_resent(
            key,
            row.event.received_at,
            &message_id,
            now_millis(),
            target.settings.retention,
        )
        .await?;
    Ok(match marked {
        ChangeOutcome::Changed => {
            let detail = match retag_body(target, row.event.claim_check.as_deref()).await {
                Some(leak) => format!("{message_id}; {leak}"),
                None => message_id,
            };
            resend_result(key, "sent", Some(detail))
        }
        ChangeOutcome::NotApplicable => resend_result(
            key,
            "sent (row changed meanwhile; left as it is)",
            Some(message_id),
        ),
    })
}

pub async fn park(target: &Target, args: &ChangeArgs, output: Output) -> anyhow::Result<Outcome> {
    let keys: Vec<String> = args
        .ids
        .iter()
        .map(|id| key_of(&target.settings.source, id))
        .collect();
    if !args.yes {
        return dry_run(target, &keys, "park", output).await;
    }
    let mut results = Vec::new();
    for key in &keys {
        results.push(match target.outbox.park(key).await? {
            ChangeOutcome::Changed => resend_result(key, "parked", None),
            ChangeOutcome::NotApplicable => {
                resend_result(key, "skipped", Some("not pending".to_owned()))
            }
        });
    }
    print_results(&results, output);
    Ok(Outcome::Ok)
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
                resend_result(key, "discarded", Some(detail))
            }
            ChangeOutcome::NotApplicable => {
                resend_result(key, "skipped", Some("not pending or parked".to_owned()))
            }
        });
    }
    print_results(&results, output);
    Ok(Outcome::Ok)
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

/// What a change would touch: each row's current status.
async fn dry_run(
    target: &Target,
    keys: &[String],
    verb: &str,
    output: Output,
) -> anyhow::Result<Outcome> {
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        let status = target.outbox.view(key).await?.map(|v| v.status);
        rows.push(json!({"key": key, "status": status}));
    }
    let json = json!({"dry_run": true, "would": verb, "rows": rows});
    output.emit(&json, || {
        let mut shown = table(&["key", "status now"]);
        for row in &rows {
            shown.add_row(vec![
                row["key"].as_str().unwrap_or("-").to_owned(),
                row["status"].as_str().unwrap_or("no such row").to_owned(),
            ]);
        }
        println!("{shown}");
        println!(
            "dry run: would {verb} {} row(s); add --yes to do it",
            rows.len()
        );
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
