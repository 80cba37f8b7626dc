//! The SQS queue the workers consume, through the SQS API.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use std::sync::Arc;

use aws_sdk_sqs::Client;

use crate::aws::{call_error, describe};
use crate::large_body::ATTR_EXTENDED_PAYLOAD_SIZE;
use crate::message::{OutgoingMessage, ATTR_SOURCE};
use crate::ports::{self, PortFuture, QueueSet};
pub use crate::queue::QueueError;
use crate::routes::{is_fifo, Routes};

/// SendMessageBatch takes at most ten entries...
pub const MAX_BATCH_ENTRIES: usize = 10;
/// ...and at most 1 MiB in all (bodies and attributes).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

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
            .map_err(|err| Self::aws_error("GetQueueAttributes", err))
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
        if let Some(size) = message.extended_payload_size {
            request =
                request.message_attributes(ATTR_EXTENDED_PAYLOAD_SIZE, number_attribute(size)?);
        }
        if let Some(fifo) = &message.fifo {
            request = request
                .message_group_id(&fifo.group_id)
                .message_deduplication_id(&fifo.deduplication_id);
        }
        let output = request
            .send()
            .await
            .map_err(|err| Self::aws_error("SendMessage", err))?;
        output
            .message_id()
            .map(str::to_owned)
            .ok_or(QueueError::NoMessageId)
    }
}

impl SqsQueue {
    /// Sends up to [`MAX_BATCH_ENTRIES`] messages in one call: `Err` when the call itself failed
    /// (throttling, a 5xx, KMS, access denied: nothing about any one message), else one entry per
    /// message, in order, with its message id or why SQS refused that entry.
    pub async fn send_batch(
        &self,
        messages: &[&OutgoingMessage],
    ) -> Result<Vec<Result<String, String>>, QueueError> {
        let mut entries = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&message.body);
            for (name, value) in &message.attributes {
                entry = entry.message_attributes(*name, string_attribute(name, value)?);
            }
            if let Some(size) = message.extended_payload_size {
                entry =
                    entry.message_attributes(ATTR_EXTENDED_PAYLOAD_SIZE, number_attribute(size)?);
            }
            if let Some(fifo) = &message.fifo {
                entry = entry
                    .message_group_id(&fifo.group_id)
                    .message_deduplication_id(&fifo.deduplication_id);
            }
            entries.push(entry.build().map_err(|source| QueueError::Attribute {
                name: "SendMessageBatchRequestEntry",
                source: source.into(),
            })?);
        }
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| Self::aws_error("SendMessageBatch", err))?;
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
        Ok(results)
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

    /// The same queues as ports.
    pub fn ports(&self) -> QueueSet {
        let port = |queue: &SqsQueue| -> Arc<dyn ports::Queue> { Arc::new(queue.clone()) };
        QueueSet::new(port(&self.default), self.routed.iter().map(port).collect())
    }
}

impl ports::Queue for SqsQueue {
    fn url(&self) -> &str {
        SqsQueue::url(self)
    }

    fn warm_up(&self) -> PortFuture<'_, Result<(), QueueError>> {
        Box::pin(SqsQueue::warm_up(self))
    }

    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> PortFuture<'a, Result<String, QueueError>> {
        Box::pin(SqsQueue::send(self, message))
    }

    fn send_batch<'a>(
        &'a self,
        messages: &'a [&'a OutgoingMessage],
    ) -> PortFuture<'a, Result<Vec<Result<String, String>>, QueueError>> {
        Box::pin(SqsQueue::send_batch(self, messages))
    }
}

// ---- On-call operations (outboxctl): queue depth, the dead-letter queue, redrive. ----

/// How many messages a queue holds, as SQS approximates it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueDepth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received by a consumer and not deleted yet.
    pub in_flight: u64,
    /// Sent with a delay that has not passed.
    pub delayed: u64,
}

/// A message as received from a queue, with everything needed to move it elsewhere unchanged.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// Every message attribute, by name, with its SQS data type.
    pub attributes: Vec<(String, MessageAttributeValue)>,
    /// Times SQS handed this message out (including this one).
    pub receive_count: u64,
    /// When it was first sent to this queue (epoch milliseconds).
    pub sent_at: Option<i64>,
    /// Its `MessageGroupId`, on a FIFO queue.
    pub group_id: Option<String>,
}

impl QueuedMessage {
    /// A String (or Number) attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, value)| value.string_value())
    }
}

/// The answer of StartMessageMoveTask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTaskStart {
    /// SQS moves the messages itself; the handle identifies the task.
    Started { task_handle: String },
    /// The endpoint does not implement message move tasks (emulators): move them by copy.
    Unsupported { reason: String },
}

impl SqsQueue {
    fn aws_error<E>(operation: &'static str, err: aws_sdk_sqs::error::SdkError<E>) -> QueueError
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        QueueError::Aws(call_error("SQS", operation, err))
    }

    /// Visible, in-flight and delayed message counts.
    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|err| Self::aws_error("GetQueueAttributes", err))?;
        let count = |name: QueueAttributeName| {
            output
                .attributes()
                .and_then(|attributes| attributes.get(&name))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// This queue's ARN.
    pub async fn arn(&self) -> Result<String, QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| Self::aws_error("GetQueueAttributes", err))?;
        output
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| QueueError::Missing("QueueArn"))
    }

    /// The dead-letter queue named by this queue's RedrivePolicy, as a queue of the same client;
    /// `None` when the queue has no redrive policy.
    pub async fn dead_letter_queue(&self) -> Result<Option<SqsQueue>, QueueError> {
        let Some(target) = self.dead_letter_target_arn().await? else {
            return Ok(None);
        };
        let (name, account) = queue_name_and_account(&target)
            .ok_or(QueueError::Missing("a queue name in deadLetterTargetArn"))?;
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|err| Self::aws_error("GetQueueUrl", err))?
            .queue_url()
            .map(str::to_owned)
            .ok_or(QueueError::Missing("QueueUrl"))?;
        Ok(Some(SqsQueue::new(self.client.clone(), url)))
    }

    /// The ARN of the dead-letter queue this queue's RedrivePolicy names; `None` without one.
    pub async fn dead_letter_target_arn(&self) -> Result<Option<String>, QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|err| Self::aws_error("GetQueueAttributes", err))?;
        let Some(policy) = output
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|policy| policy["deadLetterTargetArn"].as_str().map(str::to_owned))
            .map(Some)
            .ok_or(QueueError::Missing("RedrivePolicy.deadLetterTargetArn"))
    }

    /// Receives up to `max` (1..=10) messages, hiding them from other consumers for
    /// `visibility_secs`, with every attribute; a short poll (it samples the queue's servers).
    pub async fn receive(
        &self,
        max: i32,
        visibility_secs: i32,
    ) -> Result<Vec<QueuedMessage>, QueueError> {
        self.receive_waiting(max, visibility_secs, 0).await
    }

    /// Like [`SqsQueue::receive`], but a long poll: asks every server and waits up to
    /// `wait_secs` (at most 20) for a message, so an empty answer means the queue had none visible.
    pub async fn receive_waiting(
        &self,
        max: i32,
        visibility_secs: i32,
        wait_secs: i32,
    ) -> Result<Vec<QueuedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(visibility_secs)
            .wait_time_seconds(wait_secs.clamp(0, 20))
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|err| Self::aws_error("ReceiveMessage", err))?;
        Ok(output
            .messages()
            .iter()
            .map(|message| {
                let system_text = |name: MessageSystemAttributeName| {
                    message
                        .attributes()
                        .and_then(|attributes| attributes.get(&name))
                };
                let system = |name| -> Option<u64> { system_text(name)?.parse().ok() };
                let mut attributes: Vec<(String, MessageAttributeValue)> = message
                    .message_attributes()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .map(|(name, value)| (name.clone(), value.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                attributes.sort_by(|a, b| a.0.cmp(&b.0));
                QueuedMessage {
                    message_id: message.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                    attributes,
                    receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                        .unwrap_or(0),
                    sent_at: system(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|at| i64::try_from(at).ok()),
                    group_id: system_text(MessageSystemAttributeName::MessageGroupId).cloned(),
                }
            })
            .collect())
    }

    /// Makes received messages visible again at once (after a look that must not hide them).
    pub async fn release(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        for chunk in messages.chunks(MAX_BATCH_ENTRIES) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(index, message)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(index.to_string())
                        .receipt_handle(&message.receipt_handle)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|source| QueueError::Attribute {
                            name: "ChangeMessageVisibilityBatchRequestEntry",
                            source: source.into(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| Self::aws_error("ChangeMessageVisibilityBatch", err))?;
        }
        Ok(())
    }

    /// Sends a message received from another queue unchanged: same body, same attributes, and on
    /// a FIFO queue the same group.
    pub async fn send_copy(&self, message: &QueuedMessage) -> Result<String, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body);
        if is_fifo(&self.url) {
            // The group the message had (a FIFO queue's DLQ is FIFO too), else the source, the
            // routes' default group. The received message's id as deduplication id: SQS drops a
            // second copy of the same DLQ message (a redrive run again after a failed delete).
            let group = message
                .group_id
                .as_deref()
                .or_else(|| message.attribute(ATTR_SOURCE))
                .unwrap_or("outboxctl");
            request = request
                .message_group_id(group)
                .message_deduplication_id(&message.message_id);
        }
        for (name, value) in &message.attributes {
            request = request.message_attributes(name, value.clone());
        }
        let output = request
            .send()
            .await
            .map_err(|err| Self::aws_error("SendMessage", err))?;
        output
            .message_id()
            .map(str::to_owned)
            .ok_or(QueueError::NoMessageId)
    }

    /// Deletes a received message.
    pub async fn delete(&self, message: &QueuedMessage) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| Self::aws_error("DeleteMessage", err))
    }

    /// Asks SQS to move every message of this queue (a DLQ) back to the queue it came from.
    /// An endpoint without message move tasks answers with a server error or an unknown
    /// operation; that is reported as [`MoveTaskStart::Unsupported`], not as a failure.
    pub async fn start_move_back(&self, source_arn: &str) -> Result<MoveTaskStart, QueueError> {
        match self
            .client
            .start_message_move_task()
            .source_arn(source_arn)
            .send()
            .await
        {
            Ok(output) => Ok(MoveTaskStart::Started {
                task_handle: output.task_handle().unwrap_or_default().to_owned(),
            }),
            Err(err) => {
                let text = describe(&err);
                let server_side = err
                    .raw_response()
                    .is_some_and(|response| response.status().is_server_error());
                let unknown = ["UnknownOperation", "InvalidAction", "not yet implemented"]
                    .iter()
                    .any(|sign| text.contains(sign));
                if server_side || unknown {
                    Ok(MoveTaskStart::Unsupported { reason: text })
                } else {
                    Err(Self::aws_error("StartMessageMoveTask", err))
                }
            }
        }
    }
}

/// `(name, account)` of a queue ARN `arn:aws:sqs:REGION:ACCOUNT:NAME`.
fn queue_name_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (_, _, service, _, account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "sqs" && !name.is_empty() && parts.next().is_none()).then_some((name, account))
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
        let extended = self.extended_payload_size.map_or(0, |size| {
            ATTR_EXTENDED_PAYLOAD_SIZE.len() + "Number".len() + size.to_string().len()
        });
        self.body.len()
            + extended
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }
}

fn number_attribute(value: u64) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("Number")
        .string_value(value.to_string())
        .build()
        .map_err(|source| QueueError::Attribute {
            name: ATTR_EXTENDED_PAYLOAD_SIZE,
            source: source.into(),
        })
}

fn string_attribute(name: &'static str, value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|source| QueueError::Attribute {
            name,
            source: source.into(),
        })
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

    #[test]
    fn queue_arns_give_name_and_account() {
        assert_eq!(
            queue_name_and_account("arn:aws:sqs:eu-west-1:123456789012:webhook-events-dlq"),
            Some(("webhook-events-dlq", "123456789012"))
        );
        assert_eq!(
            queue_name_and_account("arn:aws:sns:eu-west-1:1:topic"),
            None
        );
        assert_eq!(queue_name_and_account("webhook-events-dlq"), None);
    }
}
