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

use crate::call_error::AwsCallError;

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
    #[error("S3 object {key}")]
    Aws {
        key: String,
        #[source]
        call: AwsCallError,
    },
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
}
