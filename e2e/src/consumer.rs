//! The queue consumer: what the PHP workers see. It receives and deletes concurrently with the run
//! (moto's SQS slows down as the queue deepens, so a short queue keeps the run fast) and records,
//! per message, the event id and the SHA-256 of the exact bytes a worker would reconstruct
//! (`body-encoding: base64` undone, an Extended Client pointer followed to its S3 object). It
//! talks to moto directly, never through the fault proxy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use shared::event::sha256_hex;
use shared::large_body::{parse_pointer_message_body, ATTR_EXTENDED_PAYLOAD_SIZE};
use shared::message::{decode_body, ATTR_BODY_ENCODING, ATTR_DELIVERED_BY, ATTR_EVENT_ID};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One message as a worker received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub event_id: Option<String>,
    /// SHA-256 of the raw bytes after undoing the base64 rule; `None` if the base64 was invalid.
    pub sha256: Option<String>,
    pub delivered_by: Option<String>,
    pub base64: bool,
    /// The message was an Extended Client pointer to a body in S3.
    pub in_s3: bool,
}

impl Delivered {
    async fn from_message(message: &aws_sdk_sqs::types::Message, s3: &aws_sdk_s3::Client) -> Self {
        let attributes = message.message_attributes();
        let attribute = |name: &str| {
            attributes
                .and_then(|attrs| attrs.get(name))
                .and_then(|value| value.string_value())
                .map(str::to_owned)
        };
        let encoding = attribute(ATTR_BODY_ENCODING);
        let base64 = encoding.as_deref() == Some("base64");
        let body = message.body().unwrap_or_default();
        let pointer = parse_pointer_message_body(body);
        let sha256 = match &pointer {
            // What an extended client does: the object's bytes, if their size is the attribute's.
            Some((bucket, key)) => object_bytes(s3, bucket, key)
                .await
                .filter(|bytes| {
                    attribute(ATTR_EXTENDED_PAYLOAD_SIZE) == Some(bytes.len().to_string())
                })
                .map(|bytes| sha256_hex(&bytes)),
            None => decode_body(body, encoding.as_deref())
                .ok()
                .map(|raw| sha256_hex(&raw)),
        };
        Self {
            event_id: attribute(ATTR_EVENT_ID),
            sha256,
            delivered_by: attribute(ATTR_DELIVERED_BY),
            base64,
            in_s3: pointer.is_some(),
        }
    }
}

/// An object's bytes; `None` if it cannot be read (counted as a wrong body, never skipped).
async fn object_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let output = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(output.body.collect().await.ok()?.to_vec())
}

/// What the consumers collected.
#[derive(Debug, Clone, Default)]
pub struct Consumed {
    pub messages: Vec<Delivered>,
    /// Receive or delete calls that failed (a message not deleted comes back, as a duplicate).
    pub errors: u64,
}

/// Consumer tasks running until [`Consumers::stop`].
pub struct Consumers {
    tasks: Vec<JoinHandle<Consumed>>,
    stop: watch::Sender<bool>,
    /// Messages received so far, for progress lines.
    pub received: Arc<AtomicU64>,
}

impl Consumers {
    pub fn start(
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        queue_url: &str,
        count: usize,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let received = Arc::new(AtomicU64::new(0));
        let tasks = (0..count.max(1))
            .map(|_| {
                tokio::spawn(consume(
                    sqs.clone(),
                    s3.clone(),
                    queue_url.to_owned(),
                    stopped.clone(),
                    Arc::clone(&received),
                ))
            })
            .collect();
        Self {
            tasks,
            stop,
            received,
        }
    }

    /// Stops after the current receive and returns everything recorded.
    pub async fn stop(self) -> Consumed {
        let _ = self.stop.send(true);
        let mut all = Consumed::default();
        for task in self.tasks {
            if let Ok(mut consumed) = task.await {
                all.messages.append(&mut consumed.messages);
                all.errors += consumed.errors;
            } else {
                all.errors += 1;
            }
        }
        all
    }
}

/// Messages stay invisible this long after a receive; short, so a failed delete comes back soon.
const VISIBILITY_TIMEOUT_SECS: i32 = 20;

async fn consume(
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    queue_url: String,
    mut stopped: watch::Receiver<bool>,
    received: Arc<AtomicU64>,
) -> Consumed {
    let mut consumed = Consumed::default();
    // Runs until told to stop (or the harness dropped its handle); every iteration is bounded
    // by the SDK's timeouts.
    while !*stopped.borrow() && stopped.has_changed().is_ok() {
        let output = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(VISIBILITY_TIMEOUT_SECS)
            .wait_time_seconds(0)
            .send()
            .await;
        let messages = match output {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(_) => {
                consumed.errors += 1;
                pause(&mut stopped, Duration::from_millis(200)).await;
                continue;
            }
        };
        if messages.is_empty() {
            pause(&mut stopped, Duration::from_millis(50)).await;
            continue;
        }
        let mut entries = Vec::with_capacity(messages.len());
        let mut by_entry = HashMap::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let Some(handle) = message.receipt_handle() else {
                continue;
            };
            let id = index.to_string();
            if let Ok(entry) = DeleteMessageBatchRequestEntry::builder()
                .id(&id)
                .receipt_handle(handle)
                .build()
            {
                entries.push(entry);
                by_entry.insert(id, Delivered::from_message(message, &s3).await);
            }
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        // Only a deleted message counts as consumed: one that failed to delete comes back and is
        // recorded then, like a worker that crashed before acknowledging.
        match deleted {
            Ok(output) => {
                consumed.errors += output.failed().len() as u64;
                for success in output.successful() {
                    if let Some(delivered) = by_entry.remove(success.id()) {
                        consumed.messages.push(delivered);
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(_) => consumed.errors += 1,
        }
    }
    consumed
}

async fn pause(stopped: &mut watch::Receiver<bool>, duration: Duration) {
    let _ = tokio::time::timeout(duration, stopped.changed()).await;
}
