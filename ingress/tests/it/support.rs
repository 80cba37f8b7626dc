//! Ingress-specific test support on top of `e2e::testing`.

use std::time::Duration;

pub use e2e::testing::*;
use ingress::Ingress;
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::aws::s3::S3BodyStore;
use shared::aws::sqs::SqsQueue;
use shared::aws::{
    dynamodb_without_retry_quota, s3_without_retry_quota, sqs_without_retry_quota, CallLimits,
};
use shared::config::IngressConfig;
use shared::secrets::SecretCache;

/// Builds an [`Ingress`] over a test [`Stack`].
pub trait IngressStack {
    async fn ingress_with(
        &self,
        overrides: &[(&'static str, &str)],
        dynamodb_endpoint: Option<&str>,
        sqs_endpoint: Option<&str>,
    ) -> Ingress;

    async fn ingress(&self) -> Ingress {
        self.ingress_with(&[], None, None).await
    }

    /// Like [`IngressStack::ingress_with`], with clients that would wait an hour for an answer:
    /// only the ingress's own response budget can end a call early.
    async fn ingress_with_patient_clients(
        &self,
        overrides: &[(&'static str, &str)],
        dynamodb_endpoint: Option<&str>,
        sqs_endpoint: Option<&str>,
    ) -> Ingress;

    /// An ingress with the S3 claim check on this stack's bucket (`MAX_BODY_BYTES` at the
    /// Function URL's limit), its S3 client pointed at `s3_endpoint` (a dead port, say).
    async fn ingress_with_bucket(&self, s3_endpoint: Option<&str>) -> Ingress;
}

impl IngressStack for Stack {
    /// An ingress over this stack, built like the binary builds it but with explicit endpoints:
    /// `dynamodb_endpoint` / `sqs_endpoint` may point at a dead port or a hanging listener.
    async fn ingress_with(
        &self,
        overrides: &[(&'static str, &str)],
        dynamodb_endpoint: Option<&str>,
        sqs_endpoint: Option<&str>,
    ) -> Ingress {
        let config = IngressConfig::from_env(&self.env_with(overrides))
            .expect("test configuration is valid");
        let limits = CallLimits::within(config.response_budget);
        build_ingress(self, config, limits, dynamodb_endpoint, sqs_endpoint).await
    }

    async fn ingress_with_patient_clients(
        &self,
        overrides: &[(&'static str, &str)],
        dynamodb_endpoint: Option<&str>,
        sqs_endpoint: Option<&str>,
    ) -> Ingress {
        let config = IngressConfig::from_env(&self.env_with(overrides))
            .expect("test configuration is valid");
        let hour = Duration::from_secs(3600);
        let limits = CallLimits {
            connect_timeout: hour,
            attempt_timeout: hour,
            operation_timeout: hour,
            max_attempts: 1,
        };
        build_ingress(self, config, limits, dynamodb_endpoint, sqs_endpoint).await
    }

    async fn ingress_with_bucket(&self, s3_endpoint: Option<&str>) -> Ingress {
        let overrides = [
            ("LARGE_BODY_BUCKET", self.bucket.as_str()),
            ("MAX_BODY_BYTES", "6291456"),
        ];
        let ingress = self.ingress_with(&overrides, None, None).await;
        match s3_endpoint {
            None => ingress,
            Some(endpoint) => {
                let sdk = sdk_config(
                    endpoint,
                    CallLimits::within(ingress.config().response_budget),
                )
                .await;
                ingress.with_body_store(S3BodyStore::new(s3_without_retry_quota(&sdk), None))
            }
        }
    }
}

/// An ingress over `stack`, built like the binary builds it but with explicit endpoints and limits.
async fn build_ingress(
    stack: &Stack,
    config: IngressConfig,
    limits: CallLimits,
    dynamodb_endpoint: Option<&str>,
    sqs_endpoint: Option<&str>,
) -> Ingress {
    let dynamodb_sdk = sdk_config(dynamodb_endpoint.unwrap_or(&stack.endpoint), limits).await;
    let sqs_sdk = sdk_config(sqs_endpoint.unwrap_or(&stack.endpoint), limits).await;
    let keys = config
        .scheme
        .parse_keys(&secret_for(&config.scheme))
        .unwrap();
    let outbox = DynamoDbOutbox::new(
        dynamodb_without_retry_quota(&dynamodb_sdk),
        &config.outbox.table,
        &config.outbox.source,
        config.outbox.pending_shards,
    );
    let queue = SqsQueue::new(sqs_without_retry_quota(&sqs_sdk), &config.outbox.queue_url);
    let store = S3BodyStore::new(s3_without_retry_quota(&dynamodb_sdk), None);
    Ingress::new(config, SecretCache::fixed(keys), outbox, queue).with_body_store(store)
}
