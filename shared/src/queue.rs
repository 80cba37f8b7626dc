//! The SQS queue the workers consume, through the SQS API.

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

use crate::aws::{describe, BoxError};
use crate::message::OutgoingMessage;
use crate::routes::Routes;

/// SendMessageBatch takes at most ten entries...
pub const MAX_BATCH_ENTRIES: usize = 10;
/// ...and at most 1 MiB in all (bodies and attributes).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS {operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
        #[source]
        source: BoxError,
    },
    #[error("SQS accepted the message but returned no message id")]
    NoMessageId,
    #[error("queue {0} is not QUEUE_URL nor in ROUTES of this function")]
    UnknownDestination(String),
    #[error("message attribute {name} could not be built")]
    Attribute {
        name: &'static str,
        #[source]
        source: aws_sdk_sqs::error::BuildError,
    },
}

/// One queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Another queue on the same client (and connection pool).
    pub fn sibling(&self, url: impl Into<String>) -> Self {
        Self::new(self.client.clone(), url)
    }

    /// Opens the connection (TLS included) so the first webhook after a cold start does not pay for it.
    pub async fn warm_up(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| QueueError::Aws {
                operation: "GetQueueAttributes",
                message: describe(&err),
                source: err.into(),
            })
    }

    /// Sends one message and returns its SQS message id.
    pub async fn send(&self, message: &OutgoingMessage) -> Result<String, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body);
        for (name, value) in &message.attributes {
            request = request.message_attributes(*name, string_attribute(name, value)?);
        }
        if let Some(fifo) = &message.fifo {
            request = request
                .message_group_id(&fifo.group_id)
                .message_deduplication_id(&fifo.deduplication_id);
        }
        let output = request.send().await.map_err(|err| QueueError::Aws {
            operation: "SendMessage",
            message: describe(&err),
            source: err.into(),
        })?;
        output
            .message_id()
            .map(str::to_owned)
            .ok_or(QueueError::NoMessageId)
    }
}

impl SqsQueue {
    /// Sends up to [`MAX_BATCH_ENTRIES`] messages in one call. The result has one entry per
    /// message, in order: its message id, or why SQS refused it. A failed call fails every entry.
    pub async fn send_batch(&self, messages: &[&OutgoingMessage]) -> Vec<Result<String, String>> {
        let mut entries = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&message.body);
            for (name, value) in &message.attributes {
                match string_attribute(name, value) {
                    Ok(attribute) => entry = entry.message_attributes(*name, attribute),
                    Err(err) => return vec![Err(describe(&err)); messages.len()],
                }
            }
            if let Some(fifo) = &message.fifo {
                entry = entry
                    .message_group_id(&fifo.group_id)
                    .message_deduplication_id(&fifo.deduplication_id);
            }
            match entry.build() {
                Ok(entry) => entries.push(entry),
                Err(err) => return vec![Err(describe(&err)); messages.len()],
            }
        }
        let output = match self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) => {
                return vec![
                    Err(format!("SendMessageBatch failed: {}", describe(&err)));
                    messages.len()
                ]
            }
        };
        let mut results = vec![Err("SQS did not report on this entry".to_owned()); messages.len()];
        for ok in output.successful() {
            if let Some(slot) = ok
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Ok(ok.message_id().to_owned());
            }
        }
        for failed in output.failed() {
            if let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Err(format!(
                    "{}: {}",
                    failed.code(),
                    failed.message().unwrap_or("no message")
                ));
            }
        }
        results
    }
}

/// The default queue (`QUEUE_URL`) and every routed one (`ROUTES`), on one client.
#[derive(Debug, Clone)]
pub struct Queues {
    default: SqsQueue,
    routed: Vec<SqsQueue>,
}

impl Queues {
    pub fn new(default: SqsQueue, routes: &Routes) -> Self {
        let routed = routes
            .queue_urls()
            .into_iter()
            .map(|url| default.sibling(url))
            .collect();
        Self { default, routed }
    }

    /// The queue an event's row names (`None`: the default queue); `None` when this process
    /// does not know it (its `ROUTES` lack it).
    pub fn get(&self, destination: Option<&str>) -> Option<&SqsQueue> {
        match destination {
            None => Some(&self.default),
            Some(url) => std::iter::once(&self.default)
                .chain(&self.routed)
                .find(|queue| queue.url() == url),
        }
    }

    /// Every queue, the default first.
    pub fn all(&self) -> impl Iterator<Item = &SqsQueue> {
        std::iter::once(&self.default).chain(&self.routed)
    }
}

/// Splits messages into SendMessageBatch calls: at most ten each and at most
/// [`MAX_BATCH_BYTES`] of bodies and attributes, keeping the order.
pub fn batches<T>(items: &[T], size_of: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        let size = size_of(item);
        let count = index - start;
        if count > 0 && (count == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
            batches.push(&items[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < items.len() {
        batches.push(&items[start..]);
    }
    batches
}

impl OutgoingMessage {
    /// Bytes SQS counts for this message: the body plus each attribute's name, type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }
}

fn string_attribute(name: &'static str, value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|source| QueueError::Attribute { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_messages_and_one_mebibyte() {
        let small = vec![1_usize; 25];
        let sizes: Vec<usize> = batches(&small, |s| *s).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![10, 10, 5]);

        let big = vec![400 * 1024, 400 * 1024, 400 * 1024, 10, 900 * 1024];
        let split: Vec<Vec<usize>> = batches(&big, |s| *s).iter().map(|b| b.to_vec()).collect();
        assert_eq!(
            split,
            vec![
                vec![400 * 1024, 400 * 1024],
                vec![400 * 1024, 10],
                vec![900 * 1024]
            ]
        );
        assert!(batches(&Vec::<usize>::new(), |s| *s).is_empty());
    }
}
