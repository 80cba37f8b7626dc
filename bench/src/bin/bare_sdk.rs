//! The reference for the ingress's CPU per webhook: a bare program making the same three SDK
//! calls (PutItem, SendMessage, UpdateItem) with the same clients, settings and payloads as the
//! ingress, and nothing else (no HTTP server, no signature, no metrics). `scripts/bench.py`
//! runs it and the ingress over the same bodies and compares their rusage.
//!
//!     bare-sdk bodies N      print N 2 KB JSON webhook bodies, one per line
//!     bare-sdk run N RUN     send the N bodies read from stdin, one per line (event ids
//!                            `RUN-0`..), reading SOURCE_NAME, OUTBOX_TABLE, QUEUE_URL,
//!                            PENDING_SHARDS and the AWS settings; stops at a failed call
//!     bare-sdk pending N RUN write N generated bodies as pending rows received 10 minutes ago,
//!                            as the ingress leaves them when SendMessage fails (the sweep's
//!                            backlog), 16 PutItems at a time

use anyhow::{bail, Context as _};
use bytes::Bytes;
use e2e::samples::{webhook, Layout, Provider};
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::sqs::SqsQueue;
use shared::aws::{
    dynamodb_without_retry_quota, load_sdk_config, sqs_without_retry_quota, CallLimits,
};
use shared::event::AcceptedEvent;
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::time::now_millis;

const USAGE: &str = "usage: bare-sdk bodies N | bare-sdk run N RUN | bare-sdk pending N RUN";

/// The `n`th benchmark body: the three providers in turn, compact, about 2 KB.
fn body(n: u64) -> Vec<u8> {
    let provider = Provider::ALL[(n % 3) as usize];
    webhook(provider, Layout::Compact, 2048, n)
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, count] if mode == "bodies" => {
            for n in 0..count.parse::<u64>().context(USAGE)? {
                println!("{}", String::from_utf8(body(n))?);
            }
            Ok(())
        }
        [mode, count, run] if mode == "run" => send_all(count.parse().context(USAGE)?, run).await,
        [mode, count, run] if mode == "pending" => {
            write_pending(count.parse().context(USAGE)?, run).await
        }
        _ => bail!(USAGE),
    }
}

/// The outbox and queue adapters the ingress builds, from the same environment variables.
async fn adapters() -> anyhow::Result<(DynamoDbOutbox, SqsQueue)> {
    let source = env("SOURCE_NAME")?;
    let shards = env("PENDING_SHARDS")?.parse().context("PENDING_SHARDS")?;
    let sdk = load_sdk_config(CallLimits::within(std::time::Duration::from_secs(3))).await;
    let outbox = DynamoDbOutbox::new(
        dynamodb_without_retry_quota(&sdk),
        env("OUTBOX_TABLE")?,
        &source,
        shards,
    );
    Ok((
        outbox,
        SqsQueue::new(sqs_without_retry_quota(&sdk), env("QUEUE_URL")?),
    ))
}

async fn send_all(count: u64, run: &str) -> anyhow::Result<()> {
    let (outbox, queue) = adapters().await?;
    let retention = std::time::Duration::from_secs(14 * 86_400);
    // Bodies come ready-made on stdin, so generating them costs this process nothing.
    let given: Vec<Vec<u8>> = std::io::stdin()
        .lines()
        .map(|line| line.map(String::into_bytes))
        .collect::<Result<_, _>>()?;
    for n in 0..count {
        let body = match given.get(n as usize) {
            Some(body) => body.clone(),
            None => body(n),
        };
        let event = AcceptedEvent::new(
            outbox.source(),
            format!("{run}-{n}"),
            None,
            Bytes::from(body),
            now_millis(),
        );
        outbox.insert_pending(&event).await?;
        let message_id = queue
            .send(&OutgoingMessage::for_event(&event, DeliveredBy::Ingress))
            .await?;
        outbox
            .mark_sent(
                &event.key,
                event.received_at,
                &message_id,
                DeliveredBy::Ingress,
                now_millis(),
                retention,
            )
            .await?;
    }
    Ok(())
}

/// Writes the sweep's backlog: `count` pending rows, 16 writers at once.
async fn write_pending(count: u64, run: &str) -> anyhow::Result<()> {
    const WRITERS: u64 = 16;
    let (outbox, _) = adapters().await?;
    let received_at = now_millis() - 600_000;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (outbox, run) = (outbox.clone(), run.to_owned());
        writers.spawn(async move {
            for n in (writer..count).step_by(WRITERS as usize) {
                let event = AcceptedEvent::new(
                    outbox.source(),
                    format!("{run}-{n}"),
                    None,
                    Bytes::from(body(n)),
                    received_at,
                );
                outbox.insert_pending(&event).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(written) = writers.join_next().await {
        written??;
    }
    Ok(())
}
