//! The DynamoDB outbox (DESIGN.md section 5): every accepted event is written here, `pending`,
//! before it is sent, and marked `sent` after. Pending and parked rows carry `unsent_key`
//! (`pending#<shard>` / `parked#<shard>`), the hash key of the sparse `unsent-index`; sent rows do
//! not, so the sweeper's cost follows the number of unsent rows, never the table's size.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use crate::aws::{describe, BoxError};
use crate::event::{shard_of, AcceptedEvent};
use crate::message::DeliveredBy;
use crate::time::EpochMillis;

pub const UNSENT_INDEX: &str = "unsent-index";

mod attr {
    pub const ID: &str = "id";
    pub const SOURCE: &str = "source";
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const STATUS: &str = "status";
    pub const BODY: &str = "body";
    pub const BODY_SHA256: &str = "body_sha256";
    pub const RECEIVED_AT: &str = "received_at";
    pub const ATTEMPTS: &str = "attempts";
    pub const UNSENT_KEY: &str = "unsent_key";
}

/// Where a row is in its life (DESIGN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Pending,
    Sent,
    Parked,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Parked => "parked",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "parked" => Some(Self::Parked),
            _ => None,
        }
    }
}

/// The `unsent-index` hash key of a pending or parked row.
pub fn unsent_key(status: RowStatus, shard: u16) -> String {
    format!("{}#{shard}", status.as_str())
}

/// What the table already held under a key the ingress tried to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRow {
    pub status: RowStatus,
    pub body_sha256: String,
    pub received_at: EpochMillis,
}

/// The result of a conditional insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// A row with this key exists: a duplicate delivery, or our own retried write.
    AlreadyThere(ExistingRow),
}

/// The result of marking a row sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkOutcome {
    Marked,
    /// The row was no longer pending (someone else sent it, or on-call changed it).
    NotPending,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("DynamoDB {operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
        #[source]
        source: BoxError,
    },
    #[error("outbox row {key} is malformed: {problem}")]
    MalformedRow { key: String, problem: String },
}

impl OutboxError {
    fn aws<E>(operation: &'static str, err: SdkError<E>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Aws {
            operation,
            message: describe(&err),
            source: err.into(),
        }
    }
}

/// The outbox table through the DynamoDB API.
#[derive(Debug, Clone)]
pub struct DynamoDbOutbox {
    client: Client,
    table: String,
    shards: u16,
}

impl DynamoDbOutbox {
    pub fn new(client: Client, table: impl Into<String>, shards: u16) -> Self {
        Self {
            client,
            table: table.into(),
            shards,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection (TLS included) so the first webhook after a cold start does not pay for it.
    pub async fn warm_up(&self) -> Result<(), OutboxError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| OutboxError::aws("DescribeTable", err))
    }

    /// Writes `event` as a new `pending` row unless its key exists, in which case the existing row's
    /// status and body hash come back (from the failed condition, in the same round trip).
    pub async fn insert_pending(
        &self,
        event: &AcceptedEvent,
    ) -> Result<InsertOutcome, OutboxError> {
        let shard = shard_of(&event.key, self.shards);
        let mut item = HashMap::from([
            (attr::ID.to_owned(), s(&event.key)),
            (attr::SOURCE.to_owned(), s(&event.source)),
            (attr::EVENT_ID.to_owned(), s(&event.event_id)),
            (attr::STATUS.to_owned(), s(RowStatus::Pending.as_str())),
            (
                attr::BODY.to_owned(),
                AttributeValue::B(Blob::new(event.body.to_vec())),
            ),
            (attr::BODY_SHA256.to_owned(), s(&event.body_sha256)),
            (attr::RECEIVED_AT.to_owned(), n(event.received_at)),
            (attr::ATTEMPTS.to_owned(), n(0)),
            (
                attr::UNSENT_KEY.to_owned(),
                s(&unsent_key(RowStatus::Pending, shard)),
            ),
        ]);
        if let Some(event_type) = &event.event_type {
            item.insert(attr::EVENT_TYPE.to_owned(), s(event_type));
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(InsertOutcome::Inserted),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let existing = failed.item().ok_or_else(|| OutboxError::MalformedRow {
                        key: event.key.clone(),
                        problem: "the condition failed but no existing item came back".into(),
                    })?;
                    existing_row(&event.key, existing).map(InsertOutcome::AlreadyThere)
                }
                _ => Err(OutboxError::aws("PutItem", err)),
            },
        }
    }

    /// Marks a pending row sent: records the message id, leaves the unsent index and starts the TTL.
    /// Only a row still `pending` changes, so a row is never marked sent by someone who did not send it.
    pub async fn mark_sent(
        &self,
        key: &str,
        message_id: &str,
        delivered_by: DeliveredBy,
        now: EpochMillis,
        retention: Duration,
    ) -> Result<MarkOutcome, OutboxError> {
        let expires_at = now / 1000 + i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .condition_expression("#status = :pending")
            .update_expression(
                "SET #status = :sent, sent_at = :now, message_id = :message_id, \
                 delivered_by = :delivered_by, expires_at = :expires_at REMOVE unsent_key",
            )
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":pending", s(RowStatus::Pending.as_str()))
            .expression_attribute_values(":sent", s(RowStatus::Sent.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":message_id", s(message_id))
            .expression_attribute_values(":delivered_by", s(delivered_by.as_str()))
            .expression_attribute_values(":expires_at", n(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(MarkOutcome::Marked),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    Ok(MarkOutcome::NotPending)
                }
                _ => Err(OutboxError::aws("UpdateItem", err)),
            },
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn existing_row(
    key: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<ExistingRow, OutboxError> {
    let malformed = |problem: &str| OutboxError::MalformedRow {
        key: key.to_owned(),
        problem: problem.to_owned(),
    };
    let status = item
        .get(attr::STATUS)
        .and_then(|v| v.as_s().ok())
        .and_then(|text| RowStatus::parse(text))
        .ok_or_else(|| malformed("status is missing or unknown"))?;
    let body_sha256 = item
        .get(attr::BODY_SHA256)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| malformed("body_sha256 is missing"))?;
    let received_at = item
        .get(attr::RECEIVED_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| malformed("received_at is missing"))?;
    Ok(ExistingRow {
        status,
        body_sha256,
        received_at,
    })
}
