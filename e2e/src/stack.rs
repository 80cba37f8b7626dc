//! A private outbox table, queue, DLQ and secret parameter on the moto server for one run,
//! provisioned by the same script as the local stack (`scripts/localstack.py`) so the harness
//! exercises the real resource shape, plus the direct (proxy-free) clients the harness uses to
//! watch it: pending counts, queue depth, rows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::aws::{config_loader, describe, CallLimits};

pub const DEFAULT_MOTO_ENDPOINT: &str = "http://127.0.0.1:4566";
/// The Standard Webhooks secret the provider signs with and the ingress reads from SSM.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SOURCE_NAME: &str = "market";
pub const UNSENT_INDEX: &str = "unsent-index";

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "no moto server at {endpoint}: start it with `make moto` (or `scripts/stack.sh moto`), \
         or set MOTO_ENDPOINT to where it runs"
    )]
    MotoUnreachable { endpoint: String },
    #[error("MOTO_ENDPOINT {endpoint} is not an http://127.0.0.1:PORT address")]
    BadEndpoint { endpoint: String },
    #[error("cannot run {python} scripts/localstack.py (run `make venv` to create .venv)")]
    Python {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scripts/localstack.py failed: {stderr}")]
    Provision { stderr: String },
    #[error("scripts/localstack.py did not finish within {0:?}")]
    ProvisionTimeout(Duration),
    #[error("scripts/localstack.py printed something unexpected: {0}")]
    ProvisionOutput(String),
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

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `MOTO_ENDPOINT`, or moto's default address.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MOTO_ENDPOINT.to_owned())
}

/// The socket address of an `http://HOST:PORT` endpoint on this machine.
pub fn endpoint_address(endpoint: &str) -> Result<SocketAddr, StackError> {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|_| StackError::BadEndpoint {
            endpoint: endpoint.to_owned(),
        })
}

/// Fails with instructions when moto is not listening: never a silent skip.
pub async fn require_moto(endpoint: &str) -> Result<SocketAddr, StackError> {
    let address = endpoint_address(endpoint)?;
    let connect = tokio::net::TcpStream::connect(address);
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(_)) => Ok(address),
        _ => Err(StackError::MotoUnreachable {
            endpoint: endpoint.to_owned(),
        }),
    }
}

/// SDK configuration for the harness's own calls: fixed region, dummy credentials, one endpoint.
pub async fn sdk_config(endpoint: &str, limits: CallLimits) -> SdkConfig {
    config_loader(limits)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A name no other run (or parallel test) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random.get(..8).unwrap_or("x")
    )
}

/// One run's resources and the harness's direct clients for them.
#[derive(Debug, Clone)]
pub struct Stack {
    pub endpoint: String,
    pub moto: SocketAddr,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub parameter: String,
    pub pending_shards: u16,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Stack {
    /// Provisions fresh resources on the moto server at `MOTO_ENDPOINT`.
    pub async fn provision(pending_shards: u16) -> Result<Self, StackError> {
        let endpoint = moto_endpoint();
        let moto = require_moto(&endpoint).await?;
        let (table, queue, dlq) = (
            unique("e2e-outbox"),
            unique("e2e-events"),
            unique("e2e-dlq"),
        );
        let parameter = format!("/e2e/{}", unique("secret"));
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        let child = tokio::process::Command::new(&python)
            .arg(root.join("scripts/localstack.py"))
            .args(["--endpoint", &endpoint, "--table", &table])
            .args(["--queue", &queue, "--dlq", &dlq])
            .args(["--parameter", &parameter, "--secret", WEBHOOK_SECRET])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StackError::Python {
                python: python.clone(),
                source,
            })?;
        let limit = Duration::from_secs(90);
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| StackError::ProvisionTimeout(limit))?
            .map_err(|source| StackError::Python { python, source })?;
        if !output.status.success() {
            return Err(StackError::Provision {
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let created: serde_json::Value = serde_json::from_str(text.trim())
            .map_err(|_| StackError::ProvisionOutput(text.clone()))?;
        let url = |field: &str| {
            created[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| StackError::ProvisionOutput(text.clone()))
        };
        let (queue_url, dlq_url) = (url("queue_url")?, url("dlq_url")?);
        let sdk = sdk_config(&endpoint, CallLimits::background()).await;
        Ok(Self {
            moto,
            table,
            queue_url,
            dlq_url,
            parameter,
            pending_shards,
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            endpoint,
        })
    }

    /// The environment both binaries share, with every AWS call through `aws_endpoint` (the
    /// proxy, which faults only DynamoDB and SQS, and records every operation: the tests compare
    /// them with each function's IAM actions).
    pub fn binary_env(&self, aws_endpoint: &str) -> Vec<(String, String)> {
        [
            ("SOURCE_NAME", SOURCE_NAME),
            ("OUTBOX_TABLE", self.table.as_str()),
            ("QUEUE_URL", self.queue_url.as_str()),
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

    /// Rows in `status` (`pending` or `parked`), counted on the unsent index shard by shard.
    pub async fn unsent_count(&self, status: &str) -> Result<u64, StackError> {
        let mut total = 0u64;
        for shard in 0..self.pending_shards {
            let mut start: Option<HashMap<String, AttributeValue>> = None;
            // Bounded: each page is at most 1 MB of keys; 10,000 pages is far beyond any run.
            for _ in 0..10_000 {
                let page = self
                    .dynamodb
                    .query()
                    .table_name(&self.table)
                    .index_name(UNSENT_INDEX)
                    .key_condition_expression("unsent_key = :key")
                    .expression_attribute_values(
                        ":key",
                        AttributeValue::S(format!("{status}#{shard}")),
                    )
                    .select(Select::Count)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|err| StackError::aws("Query", &err))?;
                total += u64::try_from(page.count()).unwrap_or(0);
                match page.last_evaluated_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => break,
                }
            }
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

    /// Deletes the table and queues (best effort) so moto's memory does not grow run after run.
    pub async fn delete(&self) {
        let _ = self
            .dynamodb
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
        for url in [&self.queue_url, &self.dlq_url] {
            let _ = self.sqs.delete_queue().queue_url(url).send().await;
        }
    }
}
