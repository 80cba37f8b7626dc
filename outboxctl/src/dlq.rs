//! `dlq list|show|redrive`: look at the dead-letter queue without hiding its messages, and move
//! them back to the main queue, never deleting one before its copy was sent.

use anyhow::Context as _;
use serde_json::{json, Value};
use shared::aws::sqs::{MoveTaskStart, QueuedMessage, SqsQueue};
use shared::large_body::{parse_pointer_message_body, ATTR_EXTENDED_PAYLOAD_SIZE};
use shared::message::{
    decode_body, ATTR_BODY_ENCODING, ATTR_EVENT_ID, ATTR_EVENT_TYPE, ATTR_RECEIVED_AT,
};
use shared::time::rfc3339_millis;

use crate::cli::{DlqArgs, DlqCommand};
use crate::hints::Refusal;
use crate::output::{render_body, table, write_raw, Output};
use crate::target::Target;
use crate::Outcome;

/// Seconds a looked-at message stays hidden before it is released (released at once after the look).
const LOOK_VISIBILITY_SECS: i32 = 30;
/// Seconds a message being redriven stays hidden: enough for one send and one delete.
const MOVE_VISIBILITY_SECS: i32 = 60;
/// Empty short-poll receives in a row after which a look stops (receives are sampled).
const EMPTY_POLLS: u32 = 2;

pub async fn run(target: &Target, args: &DlqArgs, output: Output) -> anyhow::Result<Outcome> {
    let (queue, dlq) = match &args.route {
        None => (target.queue.clone(), target.dlq().await?),
        Some(name) => target.routed_queue_and_dlq(name).await?,
    };
    match &args.command {
        DlqCommand::List { limit } => list(&dlq, *limit, output).await,
        DlqCommand::Show { id, body } => show(target, &dlq, id, *body, output).await,
        DlqCommand::Redrive {
            limit,
            by_copy,
            yes,
        } => redrive(target, &queue, &dlq, *limit, *by_copy, *yes, output).await,
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

/// How a redrive moves the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedriveMethod {
    /// SQS moves them itself (StartMessageMoveTask), where the endpoint has move tasks.
    MoveTask,
    /// Received, sent again and deleted one by one; pointers to bodies in S3 renewed first.
    ByCopy(&'static str),
}

/// A move task re-sends a message as it is, so it cannot renew the S3 object an Extended Client
/// pointer names: where bodies may be in S3 (the deployment has a large-body bucket), by copy.
pub fn redrive_method(max: Option<usize>, by_copy: bool, large_bodies: bool) -> RedriveMethod {
    if by_copy {
        RedriveMethod::ByCopy("--by-copy")
    } else if max.is_some() {
        RedriveMethod::ByCopy("--limit counts the messages moved")
    } else if large_bodies {
        RedriveMethod::ByCopy(
            "bodies may be in S3 (LARGE_BODY_BUCKET) and each pointer's object is renewed before it is sent",
        )
    } else {
        RedriveMethod::MoveTask
    }
}

/// Refuses a redrive from `dlq` to a `queue` whose RedrivePolicy does not name it: the messages
/// would go to a queue they never came from (another deployment's, with --dlq-url).
async fn ensure_dead_letter_queue_of(queue: &SqsQueue, dlq: &SqsQueue) -> anyhow::Result<()> {
    let named = queue.dead_letter_target_arn().await?;
    let arn = dlq.arn().await?;
    if named.as_deref() == Some(arn.as_str()) {
        return Ok(());
    }
    Err(Refusal::new(
        format!(
            "refusing to redrive: {} is not the dead-letter queue of {} (its RedrivePolicy names {}), so its messages did not come from there",
            dlq.url(),
            queue.url(),
            named.as_deref().unwrap_or("no DLQ"),
        ),
        "give the queue the messages came from with --queue-url (or `dlq --route NAME` for a routed queue), or leave out --dlq-url so the DLQ is read from the queue's RedrivePolicy",
    )
    .into())
}

/// Seconds a redrive's receive waits for a message (a long poll asks every SQS server, so an
/// empty answer means none was visible, unlike a short poll's sample).
const REDRIVE_WAIT_SECS: i32 = 2;

/// What a by-copy redrive did.
#[derive(Debug, Default)]
struct Moved {
    moved: usize,
    renewed: usize,
    failed: Vec<Value>,
}

/// Moves `dlq`'s messages back to `queue`, the queue whose RedrivePolicy names it.
async fn redrive(
    target: &Target,
    queue: &SqsQueue,
    dlq: &SqsQueue,
    max: Option<usize>,
    by_copy: bool,
    yes: bool,
    output: Output,
) -> anyhow::Result<Outcome> {
    ensure_dead_letter_queue_of(queue, dlq).await?;
    let depth = dlq.depth().await?;
    let mut method = redrive_method(max, by_copy, target.settings.large_bodies.is_some());
    if !yes {
        let json = json!({"dry_run": true, "dlq_visible": depth.visible, "dlq_in_flight": depth.in_flight, "limit": max});
        output.emit(&json, || {
            println!(
                "dry run: would move {} of {} visible DLQ message(s) to {} ({}); add --yes",
                max.map_or("all".to_owned(), |m| m.to_string()),
                depth.visible,
                queue.url(),
                match method {
                    RedriveMethod::ByCopy(why) => format!("by copy: {why}"),
                    RedriveMethod::MoveTask => "with an SQS move task where available".to_owned(),
                },
            );
        });
        return Ok(Outcome::Ok);
    }
    if method == RedriveMethod::MoveTask {
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
                method = RedriveMethod::ByCopy("this endpoint has no SQS message move tasks");
            }
        }
    }
    if let (RedriveMethod::ByCopy(why), false) = (method, output.json) {
        eprintln!("moving message by message ({why})");
    }
    let limit = max.unwrap_or(usize::MAX);
    let progress = output.progress(depth.visible.min(limit as u64), "redrive");
    let mut done = Moved::default();
    while done.moved + done.failed.len() < limit {
        let wanted = i32::try_from((limit - done.moved - done.failed.len()).min(10)).unwrap_or(10);
        let batch = dlq
            .receive_waiting(wanted, MOVE_VISIBILITY_SECS, REDRIVE_WAIT_SECS)
            .await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            move_one(target, queue, dlq, &message, &mut done).await;
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    // Receives never prove a queue empty: its own count says what is left (in flight too: a
    // message another consumer holds, or one whose move failed, comes back).
    let left = dlq.depth().await?;
    let remaining = left.visible + left.in_flight + left.delayed;
    let Moved {
        moved,
        renewed,
        failed,
    } = done;
    let json = json!({
        "moved": moved,
        "renewed_s3_bodies": renewed,
        "failed": failed,
        "remaining": {"visible": left.visible, "in_flight": left.in_flight, "delayed": left.delayed},
    });
    output.emit(&json, || {
        println!(
            "moved {moved} message(s) from the DLQ to {} ({renewed} body pointer(s) renewed in S3)",
            queue.url()
        );
        for failure in &failed {
            println!("still in the DLQ: {failure}");
        }
        if remaining > 0 {
            println!(
                "{remaining} message(s) remain in the DLQ ({} visible, {} in flight, {} delayed)",
                left.visible, left.in_flight, left.delayed
            );
        }
    });
    if !failed.is_empty() {
        anyhow::bail!(
            "{} message(s) stay in the DLQ (see above): run the redrive again once the cause is fixed",
            failed.len()
        )
    }
    if remaining > 0 {
        eprintln!(
            "next: {remaining} message(s) are still in the DLQ; in-flight ones come back after their visibility timeout: run `outboxctl dlq{} redrive --yes` again",
            target_route_flag(queue, target)
        );
        return Ok(Outcome::Attention);
    }
    Ok(Outcome::Ok)
}

/// ` --route NAME` when `queue` is a routed queue, for the command to run again.
fn target_route_flag(queue: &SqsQueue, target: &Target) -> String {
    target
        .settings
        .routes
        .iter()
        .find(|route| route.queue_url == queue.url() && queue.url() != target.queue.url())
        .map(|route| format!(" --route {}", route.name))
        .unwrap_or_default()
}

/// Moves one message: renews the S3 object its pointer names (a redriven message is a new
/// message, whose life starts again: its object must outlive it), sends the copy, and deletes
/// the original only after that send succeeded.
async fn move_one(
    target: &Target,
    queue: &SqsQueue,
    dlq: &SqsQueue,
    message: &QueuedMessage,
    done: &mut Moved,
) {
    let pointer = message
        .attribute(ATTR_EXTENDED_PAYLOAD_SIZE)
        .and_then(|_| parse_pointer_message_body(&message.body));
    if let Some((bucket, key)) = &pointer {
        if let Err(err) = target.bodies.mark_sent(bucket, key).await {
            tracing::warn!(message_id = %message.message_id, error = %err, "its body in S3 could not be renewed; left in the DLQ");
            done.failed.push(json!({
                "message_id": message.message_id,
                "error": format!("not redriven: its body in S3 (s3://{bucket}/{key}) could not be renewed: {err}"),
            }));
            return;
        }
        done.renewed += 1;
    }
    // A failure leaves the message in the DLQ (visible again after the visibility timeout), never lost.
    match queue.send_copy(message).await {
        Ok(_) => match dlq.delete(message).await {
            Ok(()) => done.moved += 1,
            // The copy is on the queue; the original comes back to the DLQ after the
            // visibility timeout and a later redrive sends it again: a duplicate, no loss.
            Err(err) => {
                tracing::warn!(message_id = %message.message_id, error = %err, "copied but not deleted from the DLQ");
                done.failed.push(json!({
                    "message_id": message.message_id,
                    "error": format!("copied to the queue, but not deleted from the DLQ (a later redrive sends it again): {err}"),
                }));
            }
        },
        Err(err) => {
            tracing::warn!(message_id = %message.message_id, error = %err, "send to the queue failed; left in the DLQ");
            done.failed
                .push(json!({"message_id": message.message_id, "error": err.to_string()}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_task_only_where_no_pointer_needs_renewing() {
        assert_eq!(redrive_method(None, false, false), RedriveMethod::MoveTask);
        assert!(matches!(
            redrive_method(None, false, true),
            RedriveMethod::ByCopy(why) if why.contains("S3")
        ));
        assert!(matches!(
            redrive_method(Some(5), false, false),
            RedriveMethod::ByCopy(_)
        ));
        assert!(matches!(
            redrive_method(None, true, false),
            RedriveMethod::ByCopy(_)
        ));
    }
}
