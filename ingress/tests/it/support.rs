//! Ingress-specific test support on top of `shared::testing`.

use ingress::Ingress;
use shared::aws::{dynamodb_without_retry_quota, sqs_without_retry_quota, CallLimits};
use shared::config::IngressConfig;
use shared::outbox::DynamoDbOutbox;
use shared::queue::SqsQueue;
use shared::secrets::SecretCache;
pub use shared::testing::*;

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
        let dynamodb_sdk = sdk_config(dynamodb_endpoint.unwrap_or(&self.endpoint), limits).await;
        let sqs_sdk = sdk_config(sqs_endpoint.unwrap_or(&self.endpoint), limits).await;
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
        Ingress::new(config, SecretCache::fixed(keys), outbox, queue)
    }
}
