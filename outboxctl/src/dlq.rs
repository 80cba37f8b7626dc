//! `dlq list|show|redrive`: look at the dead-letter queue without hiding its messages, and move
//! them back to the main queue, never deleting one before its copy was sent.

use anyhow::Context as _;
use serde_json::{json, Value};
use shared::large_body::{parse_pointer_message_body, ATTR_EXTENDED_PAYLOAD_SIZE};
use shared::message::{
    decode_body, ATTR_BODY_ENCODING, ATTR_EVENT_ID, ATTR_EVENT_TYPE, ATTR_RECEIVED_AT,
};
use shared::queue::{MoveTaskStart, QueuedMessage, SqsQueue};
use shared::time::rfc3339_millis;

use crate::cli::{DlqArgs, DlqCommand};
use crate::output::{render_body, table, write_raw, Output};
use crate::target::Target;
use crate::Outcome;

/// Seconds a looked-at message stays hidden before it is released (released at once after the look).
const LOOK_VISIBILITY_SECS: i32 = 30;
/// Seconds a message being redriven stays hidden: enough for one send and one delete.
const MOVE_VISIBILITY_SECS: i32 = 60;
/// Empty receives in a row after which the queue counts as drained (receives are sampled).
const EMPTY_POLLS: u32 = 2;

pub async fn run(target: &Target, args: &DlqArgs, output: Output) -> anyhow::Result<Outcome> {
    let (queue, dlq) = match &args.route {
        None => (target.queue.clone(), target.dlq().await?),
        Some(name) => target.routed_queue_and_dlq(name).await?,
    };
    match &args.command {
        DlqCommand::List { max } => list(&dlq, *max, output).await,
        DlqCommand::Show { id, body } => show(target, &dlq, id, *body, output).await,
        DlqCommand::Redrive { max, by_copy, yes } => {
            redrive(&queue, &dlq, *max, *by_copy, *yes, output).await
        }
    }
}

/// Up to `max` messages, each received once, then all made visible again.
async fn look(dlq: &SqsQueue, max: usize) -> anyhow::Result<Vec<QueuedMessage>> {
    let mut seen: Vec<QueuedMessage> = Vec::new();
    let mut empty = 0;
    while seen.len() < max && empty < EMPTY_POLLS {
        let wanted = i32::try_from((max - seen.len()).min(10)).unwrap_or(10);
        let batch = dlq.receive(wanted, LOOK_VISIBILITY_SECS).await?;
        if batch.is_empty() {
            empty += 1;
        }
        seen.extend(batch);
    }
    dlq.release(&seen).await?;
    Ok(seen)
}

fn summary(message: &QueuedMessage) -> Value {
    json!({
        "message_id": message.message_id,
        "event_id": message.attribute(ATTR_EVENT_ID),
        "event_type": message.attribute(ATTR_EVENT_TYPE),
        "received_at": message.attribute(ATTR_RECEIVED_AT),
        "receive_count": message.receive_count,
        "sent_to_dlq_queue_at": message.sent_at.map(rfc3339_millis),
        "body_bytes": message.body.len(),
        "body_encoding": message.attribute(ATTR_BODY_ENCODING).unwrap_or("raw"),
    })
}

async fn list(dlq: &SqsQueue, max: usize, output: Output) -> anyhow::Result<Outcome> {
    let messages = look(dlq, max).await?;
    let json = Value::Array(messages.iter().map(summary).collect());
    output.emit(&json, || {
        let mut rows = table(&[
            "message id",
            "event id",
            "type",
            "received at",
            "receives",
            "bytes",
        ]);
        for message in &messages {
            rows.add_row(vec![
                message.message_id.clone(),
                message.attribute(ATTR_EVENT_ID).unwrap_or("-").to_owned(),
                message.attribute(ATTR_EVENT_TYPE).unwrap_or("-").to_owned(),
                message
                    .attribute(ATTR_RECEIVED_AT)
                    .unwrap_or("-")
                    .to_owned(),
                message.receive_count.to_string(),
                message.body.len().to_string(),
            ]);
        }
        println!("{rows}");
        println!(
            "{} message(s) looked at (SQS samples: run again if some are missing)",
            messages.len()
        );
    });
    Ok(if messages.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}

async fn show(
    target: &Target,
    dlq: &SqsQueue,
    id: &str,
    raw: bool,
    output: Output,
) -> anyhow::Result<Outcome> {
    let messages = look(dlq, 1000).await?;
    let message = messages
        .iter()
        .find(|m| m.message_id == id || m.attribute(ATTR_EVENT_ID) == Some(id))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no DLQ message with message id or event id `{id}` among the {} looked at: `outboxctl dlq list` shows them",
                messages.len()
            )
        })?;
    let pointer = message
        .attribute(ATTR_EXTENDED_PAYLOAD_SIZE)
        .and_then(|_| parse_pointer_message_body(&message.body));
    let body = match &pointer {
        // An Extended Client pointer: the webhook's body is the S3 object, as a worker reads it.
        Some((bucket, key)) => target
            .bodies
            .get(bucket, key)
            .await
            .map(|bytes| bytes.to_vec())
            .with_context(|| {
                format!("the message's body is in S3 (s3://{bucket}/{key}) and cannot be read")
            })?,
        None => decode_body(&message.body, message.attribute(ATTR_BODY_ENCODING))?,
    };
    if raw {
        write_raw(&body)?;
        return Ok(Outcome::Ok);
    }
    let attributes: serde_json::Map<String, Value> = message
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), json!(value.string_value())))
        .collect();
    let mut json = summary(message);
    json["attributes"] = Value::Object(attributes.clone());
    json["body"] = json!(String::from_utf8_lossy(&body));
    output.emit(&json, || {
        let mut rows = table(&["attribute", "value"]);
        rows.add_row(vec!["message id".to_owned(), message.message_id.clone()]);
        rows.add_row(vec![
            "receives".to_owned(),
            message.receive_count.to_string(),
        ]);
        for (name, value) in &attributes {
            rows.add_row(vec![name.clone(), value.as_str().unwrap_or("-").to_owned()]);
        }
        println!("{rows}");
        println!("{}", render_body(&body));
    });
    Ok(Outcome::Ok)
}

/// Moves `dlq`'s messages back to `queue`, the queue whose RedrivePolicy names it.
async fn redrive(
    queue: &SqsQueue,
    dlq: &SqsQueue,
    max: Option<usize>,
    by_copy: bool,
    yes: bool,
    output: Output,
) -> anyhow::Result<Outcome> {
    let depth = dlq.depth().await?;
    if !yes {
        let json = json!({"dry_run": true, "dlq_visible": depth.visible, "dlq_in_flight": depth.in_flight, "max": max});
        output.emit(&json, || {
            println!(
                "dry run: would move {} of {} visible DLQ message(s) to {} ({}); add --yes",
                max.map_or("all".to_owned(), |m| m.to_string()),
                depth.visible,
                queue.url(),
                if max.is_some() || by_copy {
                    "by copy"
                } else {
                    "with an SQS move task where available"
                },
            );
        });
        return Ok(Outcome::Ok);
    }
    if max.is_none() && !by_copy {
        let arn = dlq.arn().await?;
        match dlq.start_move_back(&arn).await? {
            MoveTaskStart::Started { task_handle } => {
                let json = json!({"move_task": task_handle, "dlq_visible": depth.visible});
                output.emit(&json, || {
                    println!("SQS move task started ({task_handle}) for {} message(s); `outboxctl status` shows the DLQ emptying", depth.visible);
                });
                return Ok(Outcome::Ok);
            }
            MoveTaskStart::Unsupported { reason } => {
                tracing::info!(%reason, "no message move tasks here; moving by copy");
                if !output.json {
                    eprintln!(
                        "this endpoint has no SQS message move tasks: moving message by message"
                    );
                }
            }
        }
    }
    let limit = max.unwrap_or(usize::MAX);
    let progress = output.progress(depth.visible.min(limit as u64), "redrive");
    let (mut moved, mut failed, mut empty) = (0_usize, Vec::new(), 0);
    while moved + failed.len() < limit && empty < EMPTY_POLLS {
        let wanted = i32::try_from((limit - moved - failed.len()).min(10)).unwrap_or(10);
        let batch = dlq.receive(wanted, MOVE_VISIBILITY_SECS).await?;
        if batch.is_empty() {
            empty += 1;
            continue;
        }
        for message in batch {
            // Delete only after the copy is on the queue: a failure leaves the message in the DLQ
            // (visible again after the visibility timeout), never lost.
            match queue.send_copy(&message).await {
                Ok(_) => match dlq.delete(&message).await {
                    Ok(()) => moved += 1,
                    // The copy is on the queue; the original comes back to the DLQ after the
                    // visibility timeout and a later redrive sends it again: a duplicate, no loss.
                    Err(err) => {
                        tracing::warn!(message_id = %message.message_id, error = %err, "copied but not deleted from the DLQ");
                        failed.push(json!({
                            "message_id": message.message_id,
                            "error": format!("copied to the queue, but not deleted from the DLQ (a later redrive sends it again): {err}"),
                        }));
                    }
                },
                Err(err) => {
                    tracing::warn!(message_id = %message.message_id, error = %err, "send to the queue failed; left in the DLQ");
                    failed
                        .push(json!({"message_id": message.message_id, "error": err.to_string()}));
                }
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let json = json!({"moved": moved, "failed": failed});
    output.emit(&json, || {
        println!("moved {moved} message(s) from the DLQ to {}", queue.url());
        for failure in &failed {
            println!("still in the DLQ: {failure}");
        }
    });
    if failed.is_empty() {
        Ok(Outcome::Ok)
    } else {
        anyhow::bail!(
            "{} message(s) stay in the DLQ (see above): run the redrive again once the cause is fixed",
            failed.len()
        )
    }
}
