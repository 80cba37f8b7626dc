//! The claim check's S3 side: bodies too large for the outbox row or the queue message, written
//! by the ingress, re-tagged `sent` by whoever marks their row sent, read by on-call. What the
//! pointer and the object's life are is in [`crate::large_body`].

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, TaggingDirective};
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::aws::call_error;
use crate::call_error::{self as call_errors, AwsCallError};
use crate::large_body::{BodyPointer, BodyStoreError, STATE_SENT, STATE_TAG, STATE_UNSENT};
use crate::ports::{BodyStore, PortFuture};

fn aws_error<E>(operation: &'static str, key: &str, err: SdkError<E>) -> BodyStoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    BodyStoreError::Aws {
        key: key.to_owned(),
        call: call_error("S3", operation, err),
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
            .map_err(|err| aws_error("PutObject", &pointer.key, err))
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
            .map_err(|err| aws_error("CopyObject", key, err))
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
            .map_err(|err| aws_error("GetObject", key, err))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| BodyStoreError::Aws {
                key: key.to_owned(),
                call: AwsCallError {
                    service: "S3",
                    operation: "GetObject",
                    code: call_errors::RESPONSE_ERROR.to_owned(),
                    source: err.into(),
                },
            })?;
        Ok(bytes.into_bytes())
    }
}

impl BodyStore for S3BodyStore {
    fn put<'a>(
        &'a self,
        pointer: &'a BodyPointer,
        body: Bytes,
    ) -> PortFuture<'a, Result<(), BodyStoreError>> {
        Box::pin(S3BodyStore::put(self, pointer, body))
    }

    fn mark_sent<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> PortFuture<'a, Result<(), BodyStoreError>> {
        Box::pin(S3BodyStore::mark_sent(self, bucket, key))
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
    fn copy_sources_encode_every_character_s3_would_misread() {
        assert_eq!(
            copy_source("b", "p/src:e v?#/ab"),
            "b/p/src%3Ae%20v%3F%23/ab"
        );
        assert_eq!(copy_source("b", "é"), "b/%C3%A9");
    }
}
