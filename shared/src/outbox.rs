//! The outbox's rows in domain terms: every accepted event is written `pending` before it is
//! sent, and marked `sent` after. Pending and parked rows carry `unsent_key`
//! (`pending#{source}#{shard}` / `parked#{source}#{shard}`), the hash key of the sparse
//! `unsent-index`; sent rows do not, so the sweeper's cost follows the number of unsent rows, never
//! the table's size. The source in the key keeps sources that share a table apart: a sweeper only
//! ever reads its own source's partitions.
//!
//! This module holds the row layout (attribute names, keys, statuses, what a row turns into) and
//! no SDK type; [`crate::aws::dynamodb`] maps it to DynamoDB items and calls.

use std::time::Duration;

use bytes::Bytes;

use crate::call_error::AwsCallError;
use crate::event::AcceptedEvent;
use crate::large_body::BodyPointer;
use crate::routes::Destination;
use crate::time::EpochMillis;

pub const UNSENT_INDEX: &str = "unsent-index";

/// The row's attribute names. Every byte of a row is billed twice (its PutItem, and the UpdateItem
/// that marks it sent bills the larger item), so the attributes every row carries have short
/// names; rows outlive releases, so the names earlier releases wrote ([`legacy`]) are still read.
pub mod attr {
    pub const ID: &str = "id";
    pub const SOURCE: &str = "source";
    pub const EVENT_ID: &str = "event_id";
    /// The event type, when known (written as `event_type` before).
    pub const EVENT_TYPE: &str = "etype";
    pub const STATUS: &str = "status";
    pub const BODY: &str = "body";
    pub const BODY_SHA256: &str = "body_sha256";
    pub const CODEC: &str = "codec";
    pub const RECEIVED_AT: &str = "received_at";
    pub const ATTEMPTS: &str = "attempts";
    pub const UNSENT_KEY: &str = "unsent_key";
    /// The routed queue's URL; absent for the default queue (`QUEUE_URL`).
    pub const DESTINATION: &str = "destination";
    /// `MessageGroupId` for a FIFO destination.
    pub const GROUP_ID: &str = "group_id";
    pub const SENT_AT: &str = "sent_at";
    /// SQS's message id: its UUID's 16 bytes (B), or its text (S) when it is not a UUID
    /// ([`super::message_id_bytes`]); written as `message_id`, text, before.
    pub const MESSAGE_ID: &str = "mid";
    /// Who sent it (`sweeper`, `outboxctl`, `backfill`); absent when the ingress did (written as
    /// `delivered_by`, always, before).
    pub const SENT_BY: &str = "sent_by";
    pub const EXPIRES_AT: &str = "expires_at";
    /// A body in S3 (the claim check): where, and its size; the row then has no `body`.
    pub const BODY_S3_BUCKET: &str = "body_s3_bucket";
    pub const BODY_S3_KEY: &str = "body_s3_key";
    pub const BODY_SIZE: &str = "body_size";
    /// On a row parked by hand: who, why and when (the sweeper's own parking sets none).
    pub const PARKED_BY: &str = "parked_by";
    pub const PARK_REASON: &str = "park_reason";
    pub const PARKED_AT: &str = "parked_at";
    /// On a second body under an event id: the first body's SHA-256 (the key is not then
    /// `{source}:{event id}`, so `event_id` is written too).
    pub const ID_CONFLICT_OF: &str = "id_conflict_of";

    /// Names rows written by earlier releases carry instead, still read by every reader, and the
    /// names on-call sees every row's attributes under (`outboxctl show`), whichever wrote it.
    pub mod legacy {
        pub const EVENT_TYPE: &str = "event_type";
        pub const MESSAGE_ID: &str = "message_id";
        pub const DELIVERED_BY: &str = "delivered_by";
    }
}

/// The name on-call sees an attribute under: the long name for the short ones, whichever
/// release wrote the row, so `outboxctl show` and what reads its output need not know both.
pub fn display_name(name: &str) -> &str {
    match name {
        attr::EVENT_TYPE => attr::legacy::EVENT_TYPE,
        attr::MESSAGE_ID => attr::legacy::MESSAGE_ID,
        attr::SENT_BY => attr::legacy::DELIVERED_BY,
        other => other,
    }
}

/// How a message id is stored: the 16 bytes of a UUID in its canonical text (lowercase,
/// hyphenated: what SQS returns), which the text comes back from exactly; `None` for any other
/// text, stored as it is.
pub fn message_id_bytes(message_id: &str) -> Option<[u8; 16]> {
    let parts: Vec<&str> = message_id.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|part| part.len()).collect();
    if lengths != [8, 4, 4, 4, 12] {
        return None;
    }
    let mut bytes = [0_u8; 16];
    hex::decode_to_slice(parts.concat(), &mut bytes).ok()?;
    (message_id_text(&bytes) == message_id).then_some(bytes)
}

/// The canonical text of a message id stored as its 16 bytes.
pub fn message_id_text(bytes: &[u8; 16]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Longest `last_error` kept on a row.
pub const MAX_LAST_ERROR_CHARS: usize = 500;

/// Where a row is in its life (docs/outbox-table.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Pending,
    Sent,
    Parked,
    /// Given up by on-call (`outboxctl discard`): kept with who, when and why, never sent, and
    /// expiring like a sent row. A later delivery of the same event is a duplicate.
    Discarded,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Parked => "parked",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "parked" => Some(Self::Parked),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

/// The TTL (epoch seconds) of a row sent or discarded at `now` and kept `retention` after: never
/// set on an unsent row, so nothing unsent ever expires.
pub fn expires_at(now: EpochMillis, retention: Duration) -> i64 {
    now / 1000 + i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2)
}

/// The source and event id an outbox key `{source}:{event id}` names.
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(':')
}

/// What marking a row sent removes: the index key, so the row leaves the sparse index.
pub const SENT_REMOVES: &[&str] = &[attr::UNSENT_KEY];

/// The `unsent-index` hash key of a pending or parked row of `source`.
pub fn unsent_key(status: RowStatus, source: &str, shard: u16) -> String {
    format!("{}#{source}#{shard}", status.as_str())
}

/// The hash key rows had before the source was part of it (`pending#<shard>`): only the one-off
/// migration (`migrate_legacy_keys`) still reads it.
pub fn legacy_unsent_key(status: RowStatus, shard: u16) -> String {
    format!("{}#{shard}", status.as_str())
}

/// What the table already held under a key the ingress tried to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRow {
    pub status: RowStatus,
    pub body_sha256: String,
    pub received_at: EpochMillis,
    /// The queue the first delivery chose: a re-send goes there, whatever `ROUTES` says now.
    pub destination: Destination,
}

impl ExistingRow {
    /// Whether this row is `event`'s own write, stored by an attempt whose answer was lost (a
    /// timeout, a dropped connection) before the SDK retried it: still pending, with this body,
    /// received at this millisecond. A provider's duplicate delivery is received later.
    pub fn is_this_write(&self, event: &AcceptedEvent) -> bool {
        self.status == RowStatus::Pending
            && self.received_at == event.received_at
            && self.body_sha256 == event.body_sha256
    }
}

/// The result of a conditional insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// Another row holds this key: a duplicate delivery, or a different body under the id. Our
    /// own write coming back through a retried attempt is `Inserted`.
    AlreadyThere(ExistingRow),
}

/// What spending a single-use token of a signed request (Mailgun's `token`) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSpend {
    /// Its first use: recorded now.
    Spent,
    /// Spent before by a request with this exact body: a retry of the same delivery.
    SameBody,
    /// Spent before by a request with another body: a captured signature re-used.
    OtherBody,
}

/// The item key recording a spent token of `source`: under the source's own key prefix (its
/// functions may touch no other rows), named apart from the `{source}:{event id}` of events by
/// the `{kind}-token#` that no provider's event id of that scheme starts with.
pub fn token_key(source: &str, kind: &str, token: &str) -> String {
    format!("{source}:{kind}-token#{token}")
}

/// A row found in the unsent index: its key and when it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentRef {
    pub key: String,
    pub received_at: EpochMillis,
}

/// Where the next page of an unsent-index query starts: the last row of the page before (the
/// index is ordered by `received_at`, then by key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentCursor {
    pub key: String,
    pub received_at: EpochMillis,
}

/// One page of an unsent-index query, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsentPage {
    pub rows: Vec<UnsentRef>,
    /// Index items read to answer (what the query costs).
    pub items_read: usize,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<UnsentCursor>,
}

/// A whole row, as the sweeper and on-call need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub key: String,
    pub status: RowStatus,
    pub event: AcceptedEvent,
    pub attempts: u32,
    /// Who parked it by hand (`outboxctl park`); `None` for a row the sweeper parked.
    pub parked_by: Option<String>,
}

/// What happened when a failed send was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Still pending; the next sweep tries again.
    WillRetry,
    /// `MAX_ATTEMPTS` reached: parked for on-call, out of the pending index.
    Parked,
    /// The row was no longer pending (another sweeper sent it meanwhile).
    NotPending,
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
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    #[error("outbox row {key} is malformed: {problem}")]
    MalformedRow { key: String, problem: String },
}

impl OutboxError {
    /// Whether the table refused the call for its rate: the same call succeeds a moment later.
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Aws(call) if call.is_throttling())
    }
}

/// What `migrate_legacy_keys` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// This source's rows moved to the source-scoped key.
    pub moved: u64,
    /// Rows of other sources found under the legacy keys, left for their own migration.
    pub other_sources: u64,
    /// Rows that changed while being moved (sent or moved by someone else meanwhile).
    pub changed_meanwhile: u64,
}

/// A row as on-call sees it: every attribute as text (the body apart, as bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    pub key: String,
    /// `pending`, `sent`, `parked` or `discarded`.
    pub status: String,
    /// Every attribute but the body, by its long name ([`display_name`]), as text (numbers as
    /// written, the message id as its UUID, other binaries in hex); a sent row of the current
    /// layout without `sent_by` shows `delivered_by` = `ingress`.
    pub attributes: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// Where the body is when it is in S3 (then `body` is `None`).
    pub claim_check: Option<BodyPointer>,
}

impl RowView {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The result of an on-call change to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Changed,
    /// The row was not in a state the change applies to (someone changed it meanwhile).
    NotApplicable,
}

/// A sent row found by `DynamoDbOutbox::scan_sent`, with the message id of its first delivery.
#[derive(Debug, Clone)]
pub struct SentRow {
    pub row: StoredRow,
    pub message_id: Option<String>,
}

/// A time window of received rows, `since` inclusive, `until` exclusive (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedWindow {
    pub since: EpochMillis,
    pub until: EpochMillis,
}

impl ReceivedWindow {
    /// Every row received before `until`.
    pub fn before(until: EpochMillis) -> Self {
        Self {
            since: EpochMillis::MIN,
            until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqs_message_id_is_stored_in_16_bytes_and_comes_back_exactly() {
        let id = "8f14e45f-ceea-467f-a0e6-0a2f3c1b9d7e";
        let bytes = message_id_bytes(id).expect("a UUID");
        assert_eq!(bytes[..4], [0x8f, 0x14, 0xe4, 0x5f]);
        assert_eq!(message_id_text(&bytes), id);
    }

    #[test]
    fn on_call_sees_the_long_names_whichever_release_wrote_the_row() {
        assert_eq!(display_name(attr::EVENT_TYPE), "event_type");
        assert_eq!(display_name(attr::MESSAGE_ID), "message_id");
        assert_eq!(display_name(attr::SENT_BY), "delivered_by");
        assert_eq!(display_name("event_type"), "event_type");
        assert_eq!(display_name(attr::RECEIVED_AT), "received_at");
    }

    #[test]
    fn a_message_id_that_would_not_come_back_exactly_is_kept_as_text() {
        for id in [
            "8F14E45F-CEEA-467F-A0E6-0A2F3C1B9D7E",
            "8f14e45fceea467fa0e60a2f3c1b9d7e",
            "8f14e45f-ceea-467f-a0e6-0a2f3c1b9d7",
            "8f14e45f-ceea-467f-a0e6-0a2f3c1b9d7g",
            "+f14e45f-ceea-467f-a0e6-0a2f3c1b9d7e",
            "sent-by-another-sweep",
            "",
        ] {
            assert_eq!(message_id_bytes(id), None, "{id}");
        }
    }
}
