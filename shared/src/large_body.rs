//! The S3 claim check for bodies the outbox item or the SQS message cannot hold.
//!
//! With `LARGE_BODY_BUCKET` set, such a body is written to S3 first; the outbox row holds a
//! pointer instead of the body, and the queue message carries the pointer in the format of the
//! Amazon SQS Extended Client Library, so the Java and Python extended clients read it as they are.
//!
//! Object life: an object is written tagged `outbox-state=unsent`, and only re-tagged `sent`
//! (copied onto itself, which restarts its age) by whoever marked its row sent or discarded. The
//! bucket's lifecycle rule expires only objects tagged `sent`, so no age can ever delete the body
//! of an unsent row (pending or parked for any time). A failed re-tag only leaks an object.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, TaggingDirective};
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::aws::{describe, BoxError};

/// The most a body stored inline in the outbox row may weigh: a DynamoDB item holds 400 KiB
/// (names and values) and an incompressible body is stored raw, so 384 KiB leaves room for the
/// row's other attributes; as base64 (a third more) it also fits an SQS message (1 MiB) with its
/// attributes. A larger body goes to S3, or without a bucket is refused with 413.
pub const MAX_INLINE_BODY_BYTES: usize = 384 * 1024;

/// The largest `MAX_BODY_BYTES` with a bucket: a Function URL accepts request payloads up to
/// 6 MB (the whole invocation event; a non-text body arrives base64-encoded, a third larger).
pub const MAX_CLAIM_CHECK_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The class name the Extended Client Library writes as the first element of a pointer body.
pub const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";
/// The message attribute (SQS type Number) holding the offloaded body's size in bytes; the
/// Extended Client Library treats a message carrying it as a pointer.
pub const ATTR_EXTENDED_PAYLOAD_SIZE: &str = "ExtendedPayloadSize";

/// The object tag whose value says whether the object's row is still unsent.
pub const STATE_TAG: &str = "outbox-state";
pub const STATE_UNSENT: &str = "unsent";
pub const STATE_SENT: &str = "sent";

/// The longest `LARGE_BODY_PREFIX`: S3 keys hold 1,024 bytes, and the rest of the key (source,
/// event id, hash) takes at most 64 + 1 + 256 + 1 + 64.
pub const MAX_PREFIX_BYTES: usize = 512;

/// Where a body lives in S3, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPointer {
    pub bucket: String,
    pub key: String,
    pub size: u64,
}

/// The claim check's settings (`LARGE_BODY_BUCKET`, `LARGE_BODY_PREFIX`, `LARGE_BODY_KMS_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeBodySettings {
    pub bucket: String,
    /// Prepended to every object key (e.g. `large-bodies/`); empty when unset.
    pub prefix: String,
    /// The KMS key objects are encrypted with (`aws:kms`); `None`: the bucket's default key.
    pub kms_key_id: Option<String>,
}

/// Whether a body goes to S3 rather than into the row and the message. The row is the tighter
/// limit (384 KiB against SQS's 1 MiB, which also holds it as base64), so one size decides both.
pub fn needs_claim_check(body_len: usize) -> bool {
    body_len > MAX_INLINE_BODY_BYTES
}

/// The object key of a body: `{prefix}{outbox key}/{body SHA-256}`.
///
/// The hash is part of the key because the object is written before the conditional PutItem
/// that tells whether the event id is new: a second body under the same id (an IdConflict,
/// kept under a key of its own) must land beside the first body's object, never on it, or the
/// first row would point at bytes that are not its own. The same body again (a provider
/// retry) lands on the same key with the same bytes.
pub fn object_key(prefix: &str, outbox_key: &str, body_sha256: &str) -> String {
    format!("{prefix}{outbox_key}/{body_sha256}")
}

/// The message body the Extended Client Library writes for an offloaded payload.
pub fn pointer_message_body(bucket: &str, key: &str) -> String {
    serde_json::json!([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}]).to_string()
}

/// `(bucket, key)` of an Extended Client pointer body; `None` for any other body.
pub fn parse_pointer_message_body(body: &str) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let [class, pointer] = value.as_array()?.as_slice() else {
        return None;
    };
    if class.as_str()? != POINTER_CLASS {
        return None;
    }
    Some((
        pointer["s3BucketName"].as_str()?.to_owned(),
        pointer["s3Key"].as_str()?.to_owned(),
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum BodyStoreError {
    #[error("S3 {operation} of {key} failed: {message}")]
    Aws {
        operation: &'static str,
        key: String,
        message: String,
        #[source]
        source: BoxError,
    },
}

impl BodyStoreError {
    fn aws<E>(operation: &'static str, key: &str, err: SdkError<E>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Aws {
            operation,
            key: key.to_owned(),
            message: describe(&err),
            source: err.into(),
        }
    }
}

/// Bodies in S3: written by the ingress, re-tagged by whoever marks their row sent, read by on-call.
#[derive(Debug, Clone)]
pub struct S3BodyStore {
    client: Client,
    kms_key_id: Option<String>,
}

impl S3BodyStore {
    pub fn new(client: Client, kms_key_id: Option<String>) -> Self {
        Self { client, kms_key_id }
    }

    /// Writes `body` under `pointer`, encrypted with KMS and tagged unsent. Overwriting an
    /// existing object (the same event and body again) only restarts its life as unsent.
    pub async fn put(&self, pointer: &BodyPointer, body: Bytes) -> Result<(), BodyStoreError> {
        self.client
            .put_object()
            .bucket(&pointer.bucket)
            .key(&pointer.key)
            .body(ByteStream::from(body))
            .content_type("application/octet-stream")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key_id.clone())
            .tagging(format!("{STATE_TAG}={STATE_UNSENT}"))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BodyStoreError::aws("PutObject", &pointer.key, err))
    }

    /// Re-tags the object `sent` by copying it onto itself, which also restarts its age, so the
    /// lifecycle rule (sent objects only) counts from the moment its row stopped needing it.
    /// Call it only after the row was marked sent or discarded: before, a failure of the mark
    /// would leave an unsent row whose body may expire.
    pub async fn mark_sent(&self, bucket: &str, key: &str) -> Result<(), BodyStoreError> {
        self.client
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(copy_source(bucket, key))
            // S3 refuses a copy onto itself that changes nothing it counts (tags do not count).
            .metadata_directive(MetadataDirective::Replace)
            .content_type("application/octet-stream")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key_id.clone())
            .tagging_directive(TaggingDirective::Replace)
            .tagging(format!("{STATE_TAG}={STATE_SENT}"))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BodyStoreError::aws("CopyObject", key, err))
    }

    /// The exact bytes of a stored body.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, BodyStoreError> {
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| BodyStoreError::aws("GetObject", key, err))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| BodyStoreError::Aws {
                operation: "GetObject",
                key: key.to_owned(),
                message: err.to_string(),
                source: err.into(),
            })?;
        Ok(bytes.into_bytes())
    }
}

/// `CopySource` is `bucket/key` with the key URL-encoded (S3 decodes it; a key may hold any
/// character an event id does).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{bucket}/{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_over_what_the_row_holds_go_to_s3() {
        assert!(!needs_claim_check(0));
        assert!(!needs_claim_check(MAX_INLINE_BODY_BYTES));
        assert!(needs_claim_check(MAX_INLINE_BODY_BYTES + 1));
        assert!(needs_claim_check(MAX_CLAIM_CHECK_BODY_BYTES));
    }

    #[test]
    fn the_pointer_body_is_the_extended_client_format() {
        let body = pointer_message_body("bodies", "p/marketplace:evt \"1\"/ab");
        assert_eq!(
            body,
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"bodies","s3Key":"p/marketplace:evt \"1\"/ab"}]"#
        );
        assert_eq!(
            parse_pointer_message_body(&body),
            Some(("bodies".to_owned(), "p/marketplace:evt \"1\"/ab".to_owned()))
        );
        assert_eq!(parse_pointer_message_body(r#"{"type":"a"}"#), None);
        assert_eq!(
            parse_pointer_message_body(r#"["other.Class",{"s3BucketName":"b","s3Key":"k"}]"#),
            None
        );
    }

    #[test]
    fn keys_differ_by_body_so_a_second_body_never_overwrites_the_first() {
        let first = object_key("large/", "marketplace:evt-1", &"a".repeat(64));
        let second = object_key("large/", "marketplace:evt-1", &"b".repeat(64));
        assert_eq!(first, format!("large/marketplace:evt-1/{}", "a".repeat(64)));
        assert_ne!(first, second);
        // The longest key there can be still fits S3's 1,024 bytes.
        let longest = object_key(
            &"p".repeat(MAX_PREFIX_BYTES),
            &format!("{}:{}", "s".repeat(64), "e".repeat(256)),
            &"a".repeat(64),
        );
        assert!(longest.len() <= 1024, "{}", longest.len());
    }

    #[test]
    fn copy_sources_encode_every_character_s3_would_misread() {
        assert_eq!(
            copy_source("b", "p/src:e v?#/ab"),
            "b/p/src%3Ae%20v%3F%23/ab"
        );
        assert_eq!(copy_source("b", "é"), "b/%C3%A9");
    }
}
