//! The outbox's DynamoDB side: the calls (conditional puts and updates, index queries, the
//! on-call reads and scans) and the mapping between the rows of [`crate::outbox`] and DynamoDB
//! items. The row layout itself (attribute names, keys, statuses) is the domain's.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    Select,
};
use aws_sdk_dynamodb::Client;

use bytes::Bytes;

use self::item_size::{Item, KeysOnlyIndex};
use crate::aws::call_error;
use crate::call_error::AwsCallError;
use crate::codec::{self, Codec};
use crate::event::{outbox_key, sha256_hex, shard_of, AcceptedEvent};
use crate::large_body::BodyPointer;
use crate::message::DeliveredBy;
pub use crate::outbox::UnsentPage;
use crate::outbox::{
    attr, display_name, expires_at, legacy_unsent_key, message_id_bytes, message_id_text,
    split_key, unsent_key, ChangeOutcome, ExistingRow, FailureOutcome, InsertOutcome, MarkOutcome,
    MigrationReport, OutboxError, ReceivedWindow, RowStatus, RowView, SentRow, StoredRow,
    TokenSpend, UnsentCursor, UnsentRef, MAX_LAST_ERROR_CHARS, SENT_REMOVES, UNSENT_INDEX,
};
use crate::ports::{self, PortFuture};
use crate::routes::Destination;
use crate::time::EpochMillis;

pub mod checkpoint;
pub mod item_size;

/// BatchGetItem takes at most 100 keys.
pub const MAX_BATCH_GET: usize = 100;
/// How many times unprocessed BatchGetItem keys are asked for again before giving up.
const BATCH_GET_ROUNDS: usize = 5;

fn aws_error<E>(operation: &'static str, err: SdkError<E>) -> OutboxError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    OutboxError::Aws(call_error("DynamoDB", operation, err))
}

/// The outbox table through the DynamoDB API, as seen by one source: it writes that source's
/// rows and reads only that source's index partitions.
#[derive(Debug, Clone)]
pub struct DynamoDbOutbox {
    client: Client,
    table: String,
    source: String,
    shards: u16,
}

impl DynamoDbOutbox {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        source: impl Into<String>,
        shards: u16,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            source: source.into(),
            shards,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Opens the connection (TLS included) so the first webhook after a cold start does not pay for it.
    pub async fn warm_up(&self) -> Result<(), OutboxError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| aws_error("DescribeTable", err))
    }

    /// Writes `event` as a new `pending` row unless its key exists, in which case the existing row's
    /// status and body hash come back (from the failed condition, in the same round trip).
    pub async fn insert_pending(
        &self,
        event: &AcceptedEvent,
    ) -> Result<InsertOutcome, OutboxError> {
        let item = pending_item(event, shard_of(&event.key, self.shards));
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
                    let existing = existing_row(&event.key, existing)?;
                    Ok(if existing.is_this_write(event) {
                        InsertOutcome::Inserted
                    } else {
                        InsertOutcome::AlreadyThere(existing)
                    })
                }
                _ => Err(aws_error("PutItem", err)),
            },
        }
    }

    /// Records a single-use token as spent (see [`ports::Outbox::spend_token`]): an item with the
    /// body's hash and the TTL only (no status, so no index, sweep or on-call listing sees it),
    /// written only if its key is new; a failed condition returns the old item in the same round
    /// trip.
    pub async fn spend_token(
        &self,
        key: &str,
        body_sha256: &str,
        expires_at: i64,
    ) -> Result<TokenSpend, OutboxError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::ID, s(key))
            .item(attr::BODY_SHA256, s(body_sha256))
            .item(attr::EXPIRES_AT, n(expires_at))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(TokenSpend::Spent),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let spent_by = failed
                        .item()
                        .and_then(|item| item.get(attr::BODY_SHA256))
                        .and_then(|value| value.as_s().ok());
                    Ok(if spent_by.map(String::as_str) == Some(body_sha256) {
                        TokenSpend::SameBody
                    } else {
                        TokenSpend::OtherBody
                    })
                }
                _ => Err(aws_error("PutItem", err)),
            },
        }
    }

    /// Marks a pending row sent: records the message id, leaves the unsent index and starts the TTL.
    /// Only the row the caller sent changes: still `pending`, and received at `received_at` (the
    /// time the sender read), so a row is never marked sent by someone who did not send it, not
    /// even a newer row under the same key written after the one that was sent expired.
    pub async fn mark_sent(
        &self,
        key: &str,
        received_at: EpochMillis,
        message_id: &str,
        delivered_by: DeliveredBy,
        now: EpochMillis,
        retention: Duration,
    ) -> Result<MarkOutcome, OutboxError> {
        let changes = sent_changes(message_id, delivered_by, now, retention);
        let marked = self
            .mark_sent_if(key, received_at, &[RowStatus::Pending], changes)
            .await?;
        Ok(if marked {
            MarkOutcome::Marked
        } else {
            MarkOutcome::NotPending
        })
    }

    /// The conditional UpdateItem behind every mark-sent: `changes` apply only while the row is in
    /// one of `statuses` and still the row received at `received_at`; `false` when it was not.
    async fn mark_sent_if(
        &self,
        key: &str,
        received_at: EpochMillis,
        statuses: &[RowStatus],
        changes: Vec<(&'static str, AttributeValue)>,
    ) -> Result<bool, OutboxError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .expression_attribute_names("#received_at", attr::RECEIVED_AT)
            .expression_attribute_values(":received_at", n(received_at))
            .expression_attribute_names("#status", attr::STATUS);
        let mut allowed = Vec::with_capacity(statuses.len());
        for (position, status) in statuses.iter().enumerate() {
            allowed.push(format!(":s{position}"));
            update =
                update.expression_attribute_values(format!(":s{position}"), s(status.as_str()));
        }
        let mut assignments = Vec::with_capacity(changes.len());
        for (position, (name, value)) in changes.into_iter().enumerate() {
            assignments.push(format!("#a{position} = :a{position}"));
            update = update
                .expression_attribute_names(format!("#a{position}"), name)
                .expression_attribute_values(format!(":a{position}"), value);
        }
        let result = update
            .condition_expression(format!(
                "#status IN ({}) AND #received_at = :received_at",
                allowed.join(", ")
            ))
            .update_expression(format!(
                "SET {} REMOVE {}",
                assignments.join(", "),
                SENT_REMOVES.join(", ")
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(aws_error("UpdateItem", err)),
            },
        }
    }
}

impl DynamoDbOutbox {
    /// One page of this source's rows in `status` (pending or parked) on `shard` received before
    /// `before`, oldest first, from the sparse index: never a Scan.
    pub async fn unsent_page(
        &self,
        status: RowStatus,
        shard: u16,
        before: EpochMillis,
        limit: i32,
        start: Option<UnsentCursor>,
    ) -> Result<UnsentPage, OutboxError> {
        self.unsent_window(status, shard, ReceivedWindow::before(before), limit, start)
            .await
    }

    /// One page of this source's rows in `status` on `shard` received within `window`, oldest
    /// first, from the sparse index.
    pub async fn unsent_window(
        &self,
        status: RowStatus,
        shard: u16,
        window: ReceivedWindow,
        limit: i32,
        start: Option<UnsentCursor>,
    ) -> Result<UnsentPage, OutboxError> {
        let partition = unsent_key(status, &self.source, shard);
        self.partition_page(&partition, window, limit, start).await
    }

    async fn partition_page(
        &self,
        partition: &str,
        window: ReceivedWindow,
        limit: i32,
        start: Option<UnsentCursor>,
    ) -> Result<UnsentPage, OutboxError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(UNSENT_INDEX)
            .key_condition_expression("unsent_key = :key AND received_at BETWEEN :since AND :last")
            .expression_attribute_values(":key", s(partition))
            .expression_attribute_values(":since", n(window.since))
            .expression_attribute_values(":last", n(window.until.saturating_sub(1)))
            .scan_index_forward(true)
            .limit(limit)
            .set_exclusive_start_key(start.map(|cursor| index_position(partition, &cursor)))
            .send()
            .await
            .map_err(|err| aws_error("Query", err))?;
        let items_read = usize::try_from(output.scanned_count()).unwrap_or(0);
        let rows = output
            .items()
            .iter()
            .map(|item| {
                unsent_ref(item).ok_or_else(|| OutboxError::MalformedRow {
                    key: format!("{item:?}"),
                    problem: "index item without id or received_at".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key()
            .map(|last| {
                unsent_ref(last).ok_or_else(|| OutboxError::MalformedRow {
                    key: format!("{last:?}"),
                    problem: "the query's last evaluated key lacks id or received_at".into(),
                })
            })
            .transpose()?
            .map(|last| UnsentCursor {
                key: last.key,
                received_at: last.received_at,
            });
        Ok(UnsentPage {
            rows,
            items_read,
            next,
        })
    }

    /// How many of this source's rows in `status` are on `shard` (index items counted, not
    /// returned).
    pub async fn count_unsent(
        &self,
        status: RowStatus,
        shard: u16,
    ) -> Result<(u64, usize), OutboxError> {
        self.count_partition(unsent_key(status, &self.source, shard))
            .await
    }

    async fn count_partition(&self, partition: String) -> Result<(u64, usize), OutboxError> {
        let mut count = 0_u64;
        let mut items_read = 0_usize;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(UNSENT_INDEX)
                .key_condition_expression("unsent_key = :key")
                .expression_attribute_values(":key", s(&partition))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| aws_error("Query", err))?;
            count += u64::try_from(output.count()).unwrap_or(0);
            items_read += usize::try_from(output.scanned_count()).unwrap_or(0);
            match output.last_evaluated_key() {
                Some(next) => start = Some(next.clone()),
                None => return Ok((count, items_read)),
            }
        }
    }

    /// Reads up to [`MAX_BATCH_GET`] whole rows with strongly consistent reads (the index is only
    /// eventually consistent: the row itself says whether it is still pending). Keys whose row
    /// is gone, or cannot be read (logged), are left out.
    pub async fn load_rows(&self, keys: &[String]) -> Result<Vec<StoredRow>, OutboxError> {
        let mut wanted: Vec<HashMap<String, AttributeValue>> = keys
            .iter()
            .take(MAX_BATCH_GET)
            .map(|key| HashMap::from([(attr::ID.to_owned(), s(key))]))
            .collect();
        let mut rows = Vec::with_capacity(wanted.len());
        for _ in 0..BATCH_GET_ROUNDS {
            if wanted.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut wanted)))
                .consistent_read(true)
                .build()
                .map_err(|err| OutboxError::MalformedRow {
                    key: String::new(),
                    problem: err.to_string(),
                })?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| aws_error("BatchGetItem", err))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                // One unreadable row must not hold back the rest of the page: it stays pending
                // (counted by PendingCount, and its age alarms) for on-call to look at.
                match stored_row(item) {
                    Ok(row) => rows.push(row),
                    Err(err) => {
                        tracing::warn!(error = %err, "an outbox row cannot be read; left as it is")
                    }
                }
            }
            if let Some(left) = output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                wanted = left.keys().to_vec();
            }
        }
        if !wanted.is_empty() {
            return Err(OutboxError::Aws(AwsCallError {
                service: "DynamoDB",
                operation: "BatchGetItem",
                code: "UnprocessedKeys".to_owned(),
                source: format!(
                    "{} keys still unprocessed after {BATCH_GET_ROUNDS} rounds",
                    wanted.len()
                )
                .into(),
            }));
        }
        Ok(rows)
    }

    /// Records a failed re-send of a pending row: `attempts + 1` and `last_error`, and parks the
    /// row (out of the pending index, into the parked one) once `attempts` reaches `max_attempts`.
    pub async fn record_failure(
        &self,
        row: &StoredRow,
        error: &str,
        max_attempts: u32,
    ) -> Result<FailureOutcome, OutboxError> {
        let park = row.attempts.saturating_add(1) >= max_attempts;
        let shard = shard_of(&row.key, self.shards);
        let parked_key = unsent_key(RowStatus::Parked, &row.event.source, shard);
        let error: String = error.chars().take(MAX_LAST_ERROR_CHARS).collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(&row.key))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":pending", s(RowStatus::Pending.as_str()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":error", s(&error));
        update = if park {
            update
                .update_expression(
                    "SET #status = :parked, unsent_key = :parked_key, last_error = :error ADD attempts :one",
                )
                .expression_attribute_values(":parked", s(RowStatus::Parked.as_str()))
                .expression_attribute_values(":parked_key", s(&parked_key))
        } else {
            update.update_expression("SET last_error = :error ADD attempts :one")
        };
        match update.send().await {
            Ok(_) if park => Ok(FailureOutcome::Parked),
            Ok(_) => Ok(FailureOutcome::WillRetry),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    Ok(FailureOutcome::NotPending)
                }
                _ => Err(aws_error("UpdateItem", err)),
            },
        }
    }
}

// One-off migration from the source-less index keys (`pending#<shard>`), written before sources
// that share a table were kept apart.
impl DynamoDbOutbox {
    /// Moves this source's pending and parked rows from the legacy keys (`pending#<shard>`,
    /// `parked#<shard>`) to `pending#{source}#{shard}` / `parked#{source}#{shard}`, each with a
    /// conditional update, so the source's sweeper sees them again. Rows of other sources stay
    /// where they are until their own source is migrated. Safe to run any number of times, beside
    /// running sweepers and ingresses: a row only moves if it is still under the legacy key.
    pub async fn migrate_legacy_keys(&self) -> Result<MigrationReport, OutboxError> {
        let mut report = MigrationReport::default();
        for status in [RowStatus::Pending, RowStatus::Parked] {
            for shard in 0..self.shards {
                let legacy = legacy_unsent_key(status, shard);
                let mut start = None;
                loop {
                    let page = self
                        .partition_page(
                            &legacy,
                            ReceivedWindow::before(EpochMillis::MAX),
                            MAX_BATCH_GET as i32,
                            start,
                        )
                        .await?;
                    let keys: Vec<String> = page.rows.iter().map(|r| r.key.clone()).collect();
                    for row in self.load_rows(&keys).await? {
                        if row.event.source != self.source {
                            report.other_sources += 1;
                            continue;
                        }
                        let current =
                            unsent_key(status, &self.source, shard_of(&row.key, self.shards));
                        if self.move_index_key(&row.key, &legacy, &current).await? {
                            report.moved += 1;
                        } else {
                            report.changed_meanwhile += 1;
                        }
                    }
                    match page.next {
                        Some(next) => start = Some(next),
                        None => break,
                    }
                }
            }
        }
        Ok(report)
    }

    /// Rewrites a row's index key if it still holds `from`; `false` when it no longer did.
    async fn move_index_key(&self, key: &str, from: &str, to: &str) -> Result<bool, OutboxError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .condition_expression("unsent_key = :from")
            .update_expression("SET unsent_key = :to")
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(aws_error("UpdateItem", err)),
            },
        }
    }
}

/// The key and receipt time an index item (or a query's last evaluated key) holds.
fn unsent_ref(item: &Item) -> Option<UnsentRef> {
    Some(UnsentRef {
        key: item.get(attr::ID)?.as_s().ok()?.clone(),
        received_at: item.get(attr::RECEIVED_AT)?.as_n().ok()?.parse().ok()?,
    })
}

/// The exclusive start key of the index query that goes on after `cursor` in `partition`: the
/// table's key and the index's keys of that row, as DynamoDB returned them.
fn index_position(partition: &str, cursor: &UnsentCursor) -> Item {
    HashMap::from([
        (attr::ID.to_owned(), s(&cursor.key)),
        (attr::UNSENT_KEY.to_owned(), s(partition)),
        (attr::RECEIVED_AT.to_owned(), n(cursor.received_at)),
    ])
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The item the ingress inserts for a new event, `pending` on `shard`: a pure function, so the
/// size model (docs/COST.md) measures exactly what is written. The row holds only what cannot be
/// derived, under short names ([`attr`]): the source and event id are in the key, `attempts` is
/// absent until a send fails, the body hash is computed from the body when a duplicate needs it
/// (the failed conditional put returns the old row whole), and the body is compressed when that
/// lowers the billed write units.
pub fn pending_item(event: &AcceptedEvent, shard: u16) -> Item {
    let mut item = HashMap::from([
        (attr::ID.to_owned(), s(&event.key)),
        (attr::STATUS.to_owned(), s(RowStatus::Pending.as_str())),
        (attr::RECEIVED_AT.to_owned(), n(event.received_at)),
        (
            attr::UNSENT_KEY.to_owned(),
            s(&unsent_key(RowStatus::Pending, &event.source, shard)),
        ),
    ]);
    if let Some(event_type) = &event.event_type {
        item.insert(attr::EVENT_TYPE.to_owned(), s(event_type));
    }
    if let Some(queue_url) = &event.destination.queue_url {
        item.insert(attr::DESTINATION.to_owned(), s(queue_url));
    }
    if let Some(group_id) = &event.destination.group_id {
        item.insert(attr::GROUP_ID.to_owned(), s(group_id));
    }
    if let Some(first_sha256) = &event.id_conflict_of {
        item.insert(attr::ID_CONFLICT_OF.to_owned(), s(first_sha256));
        item.insert(attr::EVENT_ID.to_owned(), s(&event.event_id));
    }
    match &event.claim_check {
        Some(pointer) => {
            // The body is in S3: the row keeps the pointer, and the hash a duplicate delivery
            // is compared with (there is no body to compute it from).
            item.insert(attr::BODY_S3_BUCKET.to_owned(), s(&pointer.bucket));
            item.insert(attr::BODY_S3_KEY.to_owned(), s(&pointer.key));
            item.insert(
                attr::BODY_SIZE.to_owned(),
                n(i64::try_from(pointer.size).unwrap_or(i64::MAX)),
            );
            item.insert(attr::BODY_SHA256.to_owned(), s(&event.body_sha256));
            item
        }
        None => with_cheapest_body(item, &event.body),
    }
}

/// The S3 pointer of a row whose body is in S3; `None` for a row holding its body.
fn claim_check_of(item: &Item) -> Option<BodyPointer> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(BodyPointer {
        bucket: text(attr::BODY_S3_BUCKET)?,
        key: text(attr::BODY_S3_KEY)?,
        size: item
            .get(attr::BODY_SIZE)
            .and_then(|v| v.as_n().ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0),
    })
}

/// What marking a row sent sets: status, sent time, message id (its 16 bytes when it is a UUID),
/// the TTL, and who sent it unless the ingress did (the usual case, so it costs no bytes).
pub fn sent_changes(
    message_id: &str,
    delivered_by: DeliveredBy,
    now: EpochMillis,
    retention: Duration,
) -> Vec<(&'static str, AttributeValue)> {
    let expires_at = expires_at(now, retention);
    let mut changes = vec![
        (attr::STATUS, s(RowStatus::Sent.as_str())),
        (attr::SENT_AT, n(now)),
        (attr::MESSAGE_ID, message_id_value(message_id)),
        (attr::EXPIRES_AT, n(expires_at)),
    ];
    if delivered_by != DeliveredBy::Ingress {
        changes.push((attr::SENT_BY, s(delivered_by.as_str())));
    }
    changes
}

/// A message id as a row stores it: a UUID's 16 bytes, any other id as text.
fn message_id_value(message_id: &str) -> AttributeValue {
    match message_id_bytes(message_id) {
        Some(bytes) => AttributeValue::B(Blob::new(bytes.to_vec())),
        None => s(message_id),
    }
}

/// The message id a sent row records, whichever release wrote it (`mid`, bytes or text, or the
/// legacy `message_id` text).
fn message_id_of(item: &Item) -> Option<String> {
    let stored = item
        .get(attr::MESSAGE_ID)
        .or_else(|| item.get(attr::legacy::MESSAGE_ID))?;
    match stored {
        AttributeValue::S(text) => Some(text.clone()),
        AttributeValue::B(blob) => <[u8; 16]>::try_from(blob.as_ref())
            .ok()
            .map(|bytes| message_id_text(&bytes)),
        _ => None,
    }
}

/// The `unsent-index` as the size model sees it (KEYS_ONLY).
pub const UNSENT_INDEX_KEYS: KeysOnlyIndex = KeysOnlyIndex {
    table_key: &[attr::ID],
    index_key: &[attr::UNSENT_KEY, attr::RECEIVED_AT],
};

/// `item` after the UpdateItem that marks it sent.
pub fn after_sent(item: &Item, changes: &[(&'static str, AttributeValue)]) -> Item {
    let mut sent = item.clone();
    for name in SENT_REMOVES {
        sent.remove(*name);
    }
    for (name, value) in changes {
        sent.insert((*name).to_owned(), value.clone());
    }
    sent
}

/// An SQS message id (a UUID), for sizing a row's sent state before it has one.
const TYPICAL_MESSAGE_ID: &str = "8f14e45f-ceea-467f-a0e6-0a2f3c1b9d7e";

/// `item` with the body stored raw, or compressed when that lowers what the row's life bills
/// (PutItem plus the UpdateItem that marks it sent, which bills the larger item). Bodies whose
/// raw row already costs the minimum are not even compressed.
fn with_cheapest_body(item: Item, body: &[u8]) -> Item {
    let mut raw = item;
    raw.insert(
        attr::BODY.to_owned(),
        AttributeValue::B(Blob::new(body.to_vec())),
    );
    let raw_units = lifetime_write_units(&raw);
    if raw_units <= 2 {
        return raw;
    }
    let Some(compressed) = codec::compress(Codec::ZstdD1, body) else {
        return raw;
    };
    let mut packed = raw.clone();
    packed.insert(
        attr::BODY.to_owned(),
        AttributeValue::B(Blob::new(compressed)),
    );
    packed.insert(attr::CODEC.to_owned(), s(Codec::ZstdD1.id()));
    if lifetime_write_units(&packed) < raw_units {
        packed
    } else {
        raw
    }
}

/// Table write units of a pending row's usual life: its PutItem and the UpdateItem marking it sent.
fn lifetime_write_units(pending: &Item) -> u64 {
    let received_at = pending
        .get(attr::RECEIVED_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let changes = sent_changes(
        TYPICAL_MESSAGE_ID,
        DeliveredBy::Ingress,
        received_at,
        Duration::from_secs(14 * 86_400),
    );
    let sent = after_sent(pending, &changes);
    item_size::put(pending, &UNSENT_INDEX_KEYS).table
        + item_size::update(pending, &sent, &UNSENT_INDEX_KEYS).table
}

/// Status, receipt time and body hash of a row; the hash from `body_sha256` where the row keeps it
/// (the legacy layout, a body in S3), else computed from the body.
fn existing_row(key: &str, item: &Item) -> Result<ExistingRow, OutboxError> {
    let body_sha256 = match item.get(attr::BODY_SHA256).and_then(|v| v.as_s().ok()) {
        Some(hex_digest) => hex_digest.clone(),
        None => sha256_hex(&decoded_body(key, item)?),
    };
    row_state(key, item, body_sha256)
}

fn row_state(key: &str, item: &Item, body_sha256: String) -> Result<ExistingRow, OutboxError> {
    let malformed = |problem: &str| OutboxError::MalformedRow {
        key: key.to_owned(),
        problem: problem.to_owned(),
    };
    let status = item
        .get(attr::STATUS)
        .and_then(|v| v.as_s().ok())
        .and_then(|text| RowStatus::parse(text))
        .ok_or_else(|| malformed("status is missing or unknown"))?;
    let received_at = item
        .get(attr::RECEIVED_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| malformed("received_at is missing"))?;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Ok(ExistingRow {
        status,
        body_sha256,
        received_at,
        destination: Destination {
            queue_url: text(attr::DESTINATION),
            group_id: text(attr::GROUP_ID),
        },
    })
}

/// The exact body a row holds, decoded by its `codec` (none: stored raw).
fn decoded_body(key: &str, item: &Item) -> Result<Vec<u8>, OutboxError> {
    let malformed = |problem: String| OutboxError::MalformedRow {
        key: key.to_owned(),
        problem,
    };
    let stored = item
        .get(attr::BODY)
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| malformed("body is missing".into()))?;
    let codec_id = item.get(attr::CODEC).and_then(|v| v.as_s().ok());
    codec::decode(codec_id.map(String::as_str), stored.as_ref())
        .map_err(|err| malformed(err.to_string()))
}

/// A whole row read back, whichever layout wrote it: the source and event id come from the key
/// when the row does not repeat them, and the body is decoded by its `codec` (none: raw).
pub fn stored_row(item: &Item) -> Result<StoredRow, OutboxError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let key = text(attr::ID).ok_or_else(|| OutboxError::MalformedRow {
        key: String::new(),
        problem: "a row without id".into(),
    })?;
    let claim_check = claim_check_of(item);
    let (body, body_sha256) = match &claim_check {
        // Re-sends carry the pointer, so the body is not fetched; the hash is on the row.
        Some(_) => (
            Vec::new(),
            text(attr::BODY_SHA256).ok_or_else(|| OutboxError::MalformedRow {
                key: key.clone(),
                problem: "a row with its body in S3 lacks body_sha256".into(),
            })?,
        ),
        None => {
            let body = decoded_body(&key, item)?;
            let hash = text(attr::BODY_SHA256).unwrap_or_else(|| sha256_hex(&body));
            (body, hash)
        }
    };
    let existing = row_state(&key, item, body_sha256)?;
    let attempts = item
        .get(attr::ATTEMPTS)
        .and_then(|v| v.as_n().ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let (key_source, key_event_id) = split_key(&key).ok_or_else(|| OutboxError::MalformedRow {
        key: key.clone(),
        problem: "the key is not {source}:{event id}".into(),
    })?;
    let event = AcceptedEvent {
        source: text(attr::SOURCE).unwrap_or_else(|| key_source.to_owned()),
        event_id: text(attr::EVENT_ID).unwrap_or_else(|| key_event_id.to_owned()),
        event_type: text(attr::EVENT_TYPE).or_else(|| text(attr::legacy::EVENT_TYPE)),
        body: Bytes::from(body),
        body_sha256: existing.body_sha256,
        received_at: existing.received_at,
        key: key.clone(),
        destination: Destination {
            queue_url: text(attr::DESTINATION),
            group_id: text(attr::GROUP_ID),
        },
        claim_check: claim_check.map(Box::new),
        id_conflict_of: text(attr::ID_CONFLICT_OF),
    };
    Ok(StoredRow {
        key,
        status: existing.status,
        event,
        attempts,
        parked_by: text(attr::PARKED_BY),
    })
}

// ---- On-call operations (outboxctl): look at one row, list a time window of the
// unsent index, resend, park and discard with the sweeper's conditional rules, and the segmented
// Scan of sent rows that a replay needs. ----
/// One page of one segment of a Scan for sent rows.
#[derive(Debug, Default)]
pub struct SentPage {
    pub rows: Vec<SentRow>,
    /// Rows that matched but cannot be read (each names its key and what is wrong), skipped.
    pub malformed: Vec<OutboxError>,
    /// Items DynamoDB read (all statuses, before the filter): what the Scan costs.
    pub items_scanned: usize,
    /// Read capacity units consumed, as DynamoDB reports them.
    pub read_units: f64,
    pub next: Option<HashMap<String, AttributeValue>>,
}

impl DynamoDbOutbox {
    /// The row under `key`, read consistently, whatever its status.
    pub async fn view(&self, key: &str) -> Result<Option<RowView>, OutboxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| aws_error("GetItem", err))?;
        Ok(output.item().map(|item| row_view(key, item)))
    }

    /// Marks a row sent by on-call: like [`DynamoDbOutbox::mark_sent`], but a parked row may be
    /// marked too. Only the row that was read and is still unsent (pending or parked) changes, so
    /// a row someone else sent meanwhile keeps its own record.
    pub async fn mark_resent(
        &self,
        key: &str,
        received_at: EpochMillis,
        message_id: &str,
        now: EpochMillis,
        retention: Duration,
    ) -> Result<ChangeOutcome, OutboxError> {
        let changes = sent_changes(message_id, DeliveredBy::Outboxctl, now, retention);
        let unsent = [RowStatus::Pending, RowStatus::Parked];
        Ok(
            if self
                .mark_sent_if(key, received_at, &unsent, changes)
                .await?
            {
                ChangeOutcome::Changed
            } else {
                ChangeOutcome::NotApplicable
            },
        )
    }

    /// Parks a pending row on purpose, recording who, why and when: the sweeper leaves it alone,
    /// and a bulk resend of parked rows leaves it too unless asked to include rows parked by hand.
    pub async fn park(
        &self,
        key: &str,
        by: &str,
        reason: &str,
        now: EpochMillis,
    ) -> Result<ChangeOutcome, OutboxError> {
        let parked_key = unsent_key(RowStatus::Parked, &self.source, shard_of(key, self.shards));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .condition_expression("#status = :pending")
            .update_expression(
                "SET #status = :parked, unsent_key = :parked_key, \
                 #parked_by = :by, #park_reason = :reason, #parked_at = :now",
            )
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#parked_by", attr::PARKED_BY)
            .expression_attribute_names("#park_reason", attr::PARK_REASON)
            .expression_attribute_names("#parked_at", attr::PARKED_AT)
            .expression_attribute_values(":pending", s(RowStatus::Pending.as_str()))
            .expression_attribute_values(":parked", s(RowStatus::Parked.as_str()))
            .expression_attribute_values(":parked_key", s(&parked_key))
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional(result)
    }

    /// Puts a parked row back to pending with no failed attempts, so the sweeper sends it again
    /// (and parks it again after `MAX_ATTEMPTS` failures); who parked it and why is cleared.
    pub async fn unpark(&self, key: &str) -> Result<ChangeOutcome, OutboxError> {
        let pending_key = unsent_key(RowStatus::Pending, &self.source, shard_of(key, self.shards));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .condition_expression("#status = :parked")
            .update_expression(
                "SET #status = :pending, unsent_key = :pending_key, #attempts = :zero \
                 REMOVE #parked_by, #park_reason, #parked_at",
            )
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#attempts", attr::ATTEMPTS)
            .expression_attribute_names("#parked_by", attr::PARKED_BY)
            .expression_attribute_names("#park_reason", attr::PARK_REASON)
            .expression_attribute_names("#parked_at", attr::PARKED_AT)
            .expression_attribute_values(":pending", s(RowStatus::Pending.as_str()))
            .expression_attribute_values(":parked", s(RowStatus::Parked.as_str()))
            .expression_attribute_values(":pending_key", s(&pending_key))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        conditional(result)
    }

    /// Gives up on an unsent (pending or parked) row for good, keeping it: status `discarded`,
    /// who, when and why, out of the index, and the TTL of a sent row. Never a delete.
    pub async fn discard(
        &self,
        key: &str,
        by: &str,
        reason: &str,
        now: EpochMillis,
        retention: Duration,
    ) -> Result<ChangeOutcome, OutboxError> {
        let expires_at = expires_at(now, retention);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, s(key))
            .condition_expression("#status IN (:pending, :parked)")
            .update_expression(
                "SET #status = :discarded, discarded_at = :now, discarded_by = :by, \
                 discard_reason = :reason, expires_at = :expires_at REMOVE unsent_key",
            )
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":pending", s(RowStatus::Pending.as_str()))
            .expression_attribute_values(":parked", s(RowStatus::Parked.as_str()))
            .expression_attribute_values(":discarded", s(RowStatus::Discarded.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":expires_at", n(expires_at))
            .send()
            .await;
        conditional(result)
    }

    /// One page of one segment of a parallel Scan for this source's sent rows received within
    /// `window` (and of `event_type`, when given). Sent rows are not in the sparse index, so
    /// this reads the whole table: its cost is in `read_units`.
    pub async fn scan_sent(
        &self,
        segment: i32,
        total_segments: i32,
        window: ReceivedWindow,
        event_type: Option<&str>,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<SentPage, OutboxError> {
        // The source is the key's prefix (rows do not repeat it in an attribute).
        let mut filter = "#status = :sent AND begins_with(#id, :key_prefix) \
                          AND received_at BETWEEN :since AND :last"
            .to_owned();
        let mut request = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(total_segments)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_values(":sent", s(RowStatus::Sent.as_str()))
            .expression_attribute_values(":key_prefix", s(&outbox_key(&self.source, "")))
            .expression_attribute_values(":since", n(window.since))
            .expression_attribute_values(":last", n(window.until.saturating_sub(1)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_exclusive_start_key(start);
        if let Some(event_type) = event_type {
            // Rows written by earlier releases name it `event_type`.
            filter.push_str(" AND (#etype = :event_type OR #event_type = :event_type)");
            request = request
                .expression_attribute_names("#etype", attr::EVENT_TYPE)
                .expression_attribute_names("#event_type", attr::legacy::EVENT_TYPE)
                .expression_attribute_values(":event_type", s(event_type));
        }
        let output = request
            .filter_expression(filter)
            .send()
            .await
            .map_err(|err| aws_error("Scan", err))?;
        // One unreadable row must not hold back the rest (as in `load_rows`): it is reported.
        let (mut rows, mut malformed) = (Vec::new(), Vec::new());
        for item in output.items() {
            match stored_row(item) {
                Ok(row) => rows.push(SentRow {
                    row,
                    message_id: message_id_of(item),
                }),
                Err(err) => {
                    tracing::warn!(error = %err, "a sent row cannot be read; skipped");
                    malformed.push(err);
                }
            }
        }
        Ok(SentPage {
            rows,
            malformed,
            items_scanned: usize::try_from(output.scanned_count()).unwrap_or(0),
            read_units: output
                .consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap_or(0.0),
            next: output.last_evaluated_key().cloned(),
        })
    }
}

fn conditional<E>(
    result: Result<E, SdkError<UpdateItemError>>,
) -> Result<ChangeOutcome, OutboxError> {
    match result {
        Ok(_) => Ok(ChangeOutcome::Changed),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                Ok(ChangeOutcome::NotApplicable)
            }
            _ => Err(aws_error("UpdateItem", err)),
        },
    }
}

fn row_view(key: &str, item: &HashMap<String, AttributeValue>) -> RowView {
    let mut attributes: Vec<(String, String)> = item
        .iter()
        .filter(|(name, _)| name.as_str() != attr::BODY)
        .map(|(name, value)| {
            let text = match value {
                _ if name == attr::MESSAGE_ID => message_id_of(item).unwrap_or_default(),
                AttributeValue::S(text) | AttributeValue::N(text) => text.clone(),
                AttributeValue::B(blob) => hex::encode(blob.as_ref()),
                AttributeValue::Bool(flag) => flag.to_string(),
                other => format!("{other:?}"),
            };
            (display_name(name).to_owned(), text)
        })
        .collect();
    // The current layout names no sender when the ingress sent the row.
    if item.contains_key(attr::MESSAGE_ID) && !item.contains_key(attr::SENT_BY) {
        attributes.push((
            attr::legacy::DELIVERED_BY.to_owned(),
            DeliveredBy::Ingress.as_str().to_owned(),
        ));
    }
    attributes.sort();
    RowView {
        key: key.to_owned(),
        status: item
            .get(attr::STATUS)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default(),
        attributes,
        // Decoded by its codec: on-call sees the bytes received, never the stored compression.
        body: item
            .contains_key(attr::BODY)
            .then(|| decoded_body(key, item).ok().map(Bytes::from))
            .flatten(),
        claim_check: claim_check_of(item),
    }
}

impl ports::Outbox for DynamoDbOutbox {
    fn warm_up(&self) -> PortFuture<'_, Result<(), OutboxError>> {
        Box::pin(DynamoDbOutbox::warm_up(self))
    }

    fn insert_pending<'a>(
        &'a self,
        event: &'a AcceptedEvent,
    ) -> PortFuture<'a, Result<InsertOutcome, OutboxError>> {
        Box::pin(DynamoDbOutbox::insert_pending(self, event))
    }

    fn spend_token<'a>(
        &'a self,
        key: &'a str,
        body_sha256: &'a str,
        expires_at: i64,
    ) -> PortFuture<'a, Result<TokenSpend, OutboxError>> {
        Box::pin(DynamoDbOutbox::spend_token(
            self,
            key,
            body_sha256,
            expires_at,
        ))
    }

    fn mark_sent<'a>(
        &'a self,
        key: &'a str,
        received_at: EpochMillis,
        message_id: &'a str,
        delivered_by: DeliveredBy,
        now: EpochMillis,
        retention: Duration,
    ) -> PortFuture<'a, Result<MarkOutcome, OutboxError>> {
        Box::pin(DynamoDbOutbox::mark_sent(
            self,
            key,
            received_at,
            message_id,
            delivered_by,
            now,
            retention,
        ))
    }

    fn unsent_page(
        &self,
        status: RowStatus,
        shard: u16,
        before: EpochMillis,
        limit: usize,
        start: Option<UnsentCursor>,
    ) -> PortFuture<'_, Result<UnsentPage, OutboxError>> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        Box::pin(DynamoDbOutbox::unsent_page(
            self, status, shard, before, limit, start,
        ))
    }

    fn count_unsent(
        &self,
        status: RowStatus,
        shard: u16,
    ) -> PortFuture<'_, Result<(u64, usize), OutboxError>> {
        Box::pin(DynamoDbOutbox::count_unsent(self, status, shard))
    }

    fn load_rows<'a>(
        &'a self,
        keys: &'a [String],
    ) -> PortFuture<'a, Result<Vec<StoredRow>, OutboxError>> {
        Box::pin(DynamoDbOutbox::load_rows(self, keys))
    }

    fn record_failure<'a>(
        &'a self,
        row: &'a StoredRow,
        error: &'a str,
        max_attempts: u32,
    ) -> PortFuture<'a, Result<FailureOutcome, OutboxError>> {
        Box::pin(DynamoDbOutbox::record_failure(
            self,
            row,
            error,
            max_attempts,
        ))
    }
}
