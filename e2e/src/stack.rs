//! A private outbox table, queue, DLQ and secret parameter on the moto server for one run
//! (`crate::testing::provision`, the same script as the local stack), plus the direct
//! (proxy-free) clients the harness uses to watch it: pending counts, queue depth, rows.

use std::net::SocketAddr;

use crate::testing::{harness_limits, provision, sdk_config, ProvisionError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use shared::aws::describe;
use shared::aws::dynamodb::DynamoDbOutbox;
use shared::outbox::RowStatus;

/// The Standard Webhooks secret the provider signs with and the ingress reads from SSM.
pub use crate::testing::STANDARD_SECRET as WEBHOOK_SECRET;
pub const SOURCE_NAME: &str = "market";

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error("{operation} on moto failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

impl StackError {
    pub fn aws(operation: &'static str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self::Aws {
            operation,
            message: describe(err),
        }
    }
}

/// One run's resources and the harness's direct (proxy-free) clients for them.
#[derive(Debug, Clone)]
pub struct Stack {
    pub endpoint: String,
    pub moto: SocketAddr,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub parameter: String,
    /// The large-body bucket (the S3 claim check).
    pub bucket: String,
    pub pending_shards: u16,
    /// Queues created for the run beyond the main one and its DLQ.
    pub extra_queues: Vec<String>,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Stack {
    /// Provisions fresh resources on the moto server at `MOTO_ENDPOINT`.
    pub async fn provision(pending_shards: u16) -> Result<Self, StackError> {
        let resources = provision("e2e", WEBHOOK_SECRET)?;
        let sdk = sdk_config(&resources.endpoint, harness_limits()).await;
        Ok(Self {
            endpoint: resources.endpoint,
            moto: resources.moto,
            table: resources.table,
            queue_url: resources.queue_url,
            dlq_url: resources.dlq_url,
            parameter: resources.parameter,
            bucket: resources.bucket,
            pending_shards,
            extra_queues: Vec::new(),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            s3: shared::aws::s3_client(&sdk),
        })
    }

    /// The environment both binaries share, with every AWS call through `aws_endpoint` (the
    /// proxy, which faults only DynamoDB, SQS and S3, and records every operation: the tests compare
    /// them with each function's IAM actions).
    pub fn binary_env(&self, aws_endpoint: &str) -> Vec<(String, String)> {
        [
            ("SOURCE_NAME", SOURCE_NAME),
            ("OUTBOX_TABLE", self.table.as_str()),
            ("QUEUE_URL", self.queue_url.as_str()),
            // Bodies over what a row holds go to S3, up to the Function URL's limit.
            ("LARGE_BODY_BUCKET", self.bucket.as_str()),
            ("MAX_BODY_BYTES", "6291456"),
            ("AWS_ENDPOINT_URL", aws_endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .chain([
            ("PENDING_SHARDS".to_owned(), self.pending_shards.to_string()),
            // `E2E_RUST_LOG` (for example `info,aws_smithy_runtime=debug`) digs into the SDK.
            (
                "RUST_LOG".to_owned(),
                std::env::var("E2E_RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            ),
        ])
        .collect()
    }

    /// Rows in `status` (pending or parked), counted on the unsent index shard by shard, with the
    /// same adapter call the sweeper uses for `PendingCount`.
    pub async fn unsent_count(&self, status: RowStatus) -> Result<u64, StackError> {
        let outbox = DynamoDbOutbox::new(
            self.dynamodb.clone(),
            &self.table,
            SOURCE_NAME,
            self.pending_shards,
        );
        let mut total = 0;
        for shard in 0..self.pending_shards {
            let (count, _) = outbox
                .count_unsent(status, shard)
                .await
                .map_err(|err| StackError::aws("Query", &err))?;
            total += count;
        }
        Ok(total)
    }

    /// Visible plus in-flight messages on `queue_url` (moto's figures are exact).
    pub async fn queue_depth(&self, queue_url: &str) -> Result<u64, StackError> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|err| StackError::aws("GetQueueAttributes", &err))?;
        Ok(output
            .attributes()
            .map(|attributes| {
                attributes
                    .values()
                    .filter_map(|value| value.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0))
    }

    /// The outbox row of `event_id`, read consistently, as `name=value` text for a report.
    pub async fn describe_row(&self, event_id: &str) -> Result<Option<String>, StackError> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                "id",
                AttributeValue::S(shared::event::outbox_key(SOURCE_NAME, event_id)),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StackError::aws("GetItem", &err))?
            .item;
        Ok(item.map(|item| {
            let mut fields: Vec<String> = item
                .iter()
                .filter(|(name, _)| name.as_str() != "body")
                .map(|(name, value)| {
                    let text = match value {
                        AttributeValue::S(s) => s.clone(),
                        AttributeValue::N(n) => n.clone(),
                        other => format!("{other:?}"),
                    };
                    format!("{name}={text}")
                })
                .collect();
            fields.sort();
            fields.join(" ")
        }))
    }

    /// Creates one more queue on moto (a second source's), deleted with the stack.
    pub async fn create_queue(&mut self, role: &str) -> Result<String, StackError> {
        let url = self
            .sqs
            .create_queue()
            .queue_name(crate::testing::unique(&format!("e2e-{role}")))
            .send()
            .await
            .map_err(|err| StackError::aws("CreateQueue", &err))?
            .queue_url
            .ok_or_else(|| StackError::Aws {
                operation: "CreateQueue",
                message: "no queue URL in the answer".to_owned(),
            })?;
        self.extra_queues.push(url.clone());
        Ok(url)
    }

    /// Deletes the table and queues (best effort) so moto's memory does not grow run after run.
    pub async fn delete(&self) {
        let _ = self
            .dynamodb
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
        for url in [&self.queue_url, &self.dlq_url]
            .into_iter()
            .chain(&self.extra_queues)
        {
            let _ = self.sqs.delete_queue().queue_url(url).send().await;
        }
    }
}
