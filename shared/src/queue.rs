//! The SQS queue the workers consume, through the SQS API.

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use aws_sdk_sqs::Client;

use crate::aws::{describe, BoxError};
use crate::message::OutgoingMessage;

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

fn string_attribute(name: &'static str, value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|source| QueueError::Attribute { name, source })
}
