//! Test support: a private table and queues on the moto server for each
//! test, clients that talk to it through the real AWS SDK, and helpers to read what reached the
//! queue. Used by the integration tests of every crate.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use shared::aws::{config_loader, CallLimits};
use shared::config::EnvSource;
use shared::signature::SignatureScheme;

pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The workspace root (scripts/ and .venv/ live there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `MOTO_ENDPOINT`, or moto's default address.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:4566".to_owned())
}

/// Why test resources could not be provisioned. The messages say how to fix it: a missing
/// emulator is a failure with instructions, never a silent skip.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "no moto server at {endpoint}: start it with `make moto` (or run `make test`, which \
         starts it), or set MOTO_ENDPOINT"
    )]
    MotoUnreachable { endpoint: String },
    #[error("cannot run .venv/bin/python scripts/localstack.py (`make venv` installs it)")]
    Python(#[source] std::io::Error),
    #[error("scripts/localstack.py failed: {0}")]
    Script(String),
    #[error("scripts/localstack.py printed something unexpected: {0}")]
    Output(String),
}

/// A uniquely named outbox table, queue, DLQ and secret parameter on moto.
#[derive(Debug, Clone)]
pub struct Resources {
    pub endpoint: String,
    /// moto's socket address (the upstream of a fault proxy).
    pub moto: SocketAddr,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub parameter: String,
    /// The large-body bucket (the S3 claim check), with the local stack's lifecycle rule.
    pub bucket: String,
}

/// Provisions fresh resources named `{prefix}-...` on the moto server at `MOTO_ENDPOINT`, with the
/// same script as the local stack (scripts/localstack.py), so tests exercise the real shape.
pub fn provision(prefix: &str, secret: &str) -> Result<Resources, ProvisionError> {
    let endpoint = moto_endpoint();
    let unreachable = || ProvisionError::MotoUnreachable {
        endpoint: endpoint.clone(),
    };
    let moto: SocketAddr = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|_| unreachable())?;
    std::net::TcpStream::connect_timeout(&moto, Duration::from_secs(1))
        .map_err(|_| unreachable())?;
    let (table, queue, dlq) = (
        unique(&format!("{prefix}-outbox")),
        unique(&format!("{prefix}-events")),
        unique(&format!("{prefix}-dlq")),
    );
    let parameter = format!("/{prefix}/{}", unique("secret"));
    let bucket = unique(&format!("{prefix}-bodies")).to_ascii_lowercase();
    let root = repo_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/localstack.py"))
        .args(["--endpoint", &endpoint, "--table", &table])
        .args(["--queue", &queue, "--dlq", &dlq])
        .args(["--parameter", &parameter, "--secret", secret])
        .args(["--bucket", &bucket])
        .output()
        .map_err(ProvisionError::Python)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(ProvisionError::Script(stderr));
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let created: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|_| ProvisionError::Output(text.clone()))?;
    let url = |field: &str| {
        created[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProvisionError::Output(text.clone()))
    };
    Ok(Resources {
        queue_url: url("queue_url")?,
        dlq_url: url("dlq_url")?,
        endpoint,
        moto,
        table,
        parameter,
        bucket,
    })
}

/// SDK configuration for the test process: fixed region and dummy credentials, one endpoint.
pub async fn sdk_config(endpoint: &str, limits: CallLimits) -> SdkConfig {
    config_loader(limits)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Limits for the tests' own clients (provisioning, draining queues, reading rows): patient, since
/// an attempt timed out on a loaded machine and retried can leave what the test reads behind (a
/// received message hidden until its visibility timeout ends). Timeouts here only guard a hang.
pub fn harness_limits() -> CallLimits {
    CallLimits {
        connect_timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(60),
        operation_timeout: Duration::from_secs(180),
        max_attempts: 3,
    }
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    )
}

/// A test's own outbox table, queue and secret parameter ([`provision`]), with clients for them.
pub struct Stack {
    pub endpoint: String,
    pub table: String,
    pub queue_url: String,
    pub parameter: String,
    /// The large-body bucket; not in [`Stack::env`] (add `LARGE_BODY_BUCKET` where a test wants it).
    pub bucket: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Stack {
    pub async fn new() -> Self {
        Self::with_secret(STANDARD_SECRET).await
    }

    pub async fn with_secret(secret: &str) -> Self {
        let resources = provision("tests", secret).unwrap_or_else(|err| panic!("{err}"));
        let sdk = sdk_config(&resources.endpoint, harness_limits()).await;
        Self {
            endpoint: resources.endpoint,
            table: resources.table,
            queue_url: resources.queue_url,
            parameter: resources.parameter,
            bucket: resources.bucket,
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            ssm: aws_sdk_ssm::Client::new(&sdk),
            s3: shared::aws::s3_client(&sdk),
        }
    }

    /// The environment the ingress binary (or `IngressConfig`) gets for this stack.
    pub fn env(&self) -> HashMap<&'static str, String> {
        HashMap::from([
            ("SOURCE_NAME", "market".to_owned()),
            ("OUTBOX_TABLE", self.table.clone()),
            ("QUEUE_URL", self.queue_url.clone()),
            ("SECRET_PARAMETER", self.parameter.clone()),
            // Far above the deployed 3 s: tests answer by what AWS did, not by how fast moto did
            // it on a loaded machine. Tests of the budget itself set their own.
            ("RESPONSE_BUDGET_MS", "30000".to_owned()),
            ("PENDING_SHARDS", "4".to_owned()),
        ])
    }

    /// [`Stack::env`] with `overrides` applied: what a configuration reader gets in a test.
    pub fn env_with(&self, overrides: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        let mut env = self.env();
        env.extend(
            overrides
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned())),
        );
        env
    }

    /// The environment a binary gets for this stack: [`Stack::env`] plus the AWS settings.
    pub fn binary_env(&self) -> Vec<(String, String)> {
        let aws = [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("RUST_LOG", "info"),
        ];
        self.env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(aws.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .collect()
    }

    /// Replaces the secret parameter's value, as an operator rotating the secret does.
    pub async fn put_secret(&self, value: &str) {
        self.ssm
            .put_parameter()
            .name(&self.parameter)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("PutParameter");
    }

    /// Every message on `queue_url`, received and deleted (waits briefly for stragglers).
    pub async fn drain(&self, queue_url: &str) -> Vec<ReceivedMessage> {
        let mut messages = Vec::new();
        let mut empty_polls = 0;
        while empty_polls < 2 {
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("ReceiveMessage");
            let batch = output.messages.unwrap_or_default();
            if batch.is_empty() {
                empty_polls += 1;
                continue;
            }
            for message in batch {
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("DeleteMessage");
                let attributes = message
                    .message_attributes()
                    .map(|attrs| {
                        attrs
                            .iter()
                            .map(|(k, v)| {
                                (k.clone(), v.string_value().unwrap_or_default().to_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                messages.push(ReceivedMessage {
                    body: message.body().unwrap_or_default().to_owned(),
                    attributes,
                });
            }
        }
        messages
    }

    /// The outbox row under `key`, read consistently.
    pub async fn row(&self, key: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Sets one attribute of the row under `key` as a hand edit, a bug or another tool (say
    /// `outboxctl discard`) would leave it.
    pub async fn set_row_attribute(&self, key: &str, name: &str, value: AttributeValue) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(key.to_owned()))
            .update_expression("SET #name = :value")
            .expression_attribute_names("#name", name)
            .expression_attribute_values(":value", value)
            .send()
            .await
            .expect("UpdateItem");
    }

    /// Every row of the table (a test-only Scan, paginated).
    pub async fn all_rows(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            rows.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return rows,
            }
        }
    }

    pub async fn row_count(&self) -> usize {
        self.all_rows().await.len()
    }

    /// The large-body object's bytes and its `outbox-state` tag.
    pub async fn object(&self, key: &str) -> (Vec<u8>, Option<String>) {
        let bytes = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("GetObject")
            .body
            .collect()
            .await
            .expect("object body")
            .to_vec();
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("GetObjectTagging");
        let state = tags
            .tag_set()
            .iter()
            .find(|tag| tag.key() == shared::large_body::STATE_TAG)
            .map(|tag| tag.value().to_owned());
        (bytes, state)
    }

    /// The exact bytes a worker gets from `message`: an Extended Client pointer is followed to its
    /// S3 object (checking `ExtendedPayloadSize`), any other body decoded by the base64 rule.
    pub async fn worker_body(&self, message: &ReceivedMessage) -> Vec<u8> {
        match shared::large_body::parse_pointer_message_body(&message.body) {
            Some((bucket, key)) => {
                assert_eq!(bucket, self.bucket, "the pointer names the stack's bucket");
                let (bytes, _) = self.object(&key).await;
                let size = message
                    .attribute(shared::large_body::ATTR_EXTENDED_PAYLOAD_SIZE)
                    .expect("a pointer message carries ExtendedPayloadSize");
                assert_eq!(
                    size,
                    bytes.len().to_string(),
                    "ExtendedPayloadSize is the object's size"
                );
                bytes
            }
            None => message.raw_body(),
        }
    }

    /// Every object key in the large-body bucket.
    pub async fn object_keys(&self) -> Vec<String> {
        self.s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("ListObjectsV2")
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }
}

/// The test secret of each scheme, shaped like the provider's own.
pub fn secret_for(scheme: &SignatureScheme) -> String {
    match scheme.name() {
        "standard-webhooks" => STANDARD_SECRET,
        "hmac-sha256" => "generic-app-secret",
        "stripe" => "whsec_stripe_test_secret_4eC39HqLyjWDarjtT1zdp7dc",
        "github" => "github-webhook-secret-1",
        "shopify" => "shpss_0123456789abcdef0123456789abcdef",
        "slack" => "8f742231b10e8888abcd99yyyzzz85a5",
        "basic" => "hooks:catalog-test-password",
        // Public keys of the private key 01..01 (hex), as the dashboards show them.
        "discord" => "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "sendgrid" => {
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb/A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY8T3U6Vb8B3FP2wLDH7ueLQMb/fSWpbiKCuYnO9xwUSg=="
        }
        // Every other scheme takes any text.
        _ => "catalog-test-secret-1",
    }
    .to_owned()
}

/// A message as a worker receives it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub body: String,
    pub attributes: HashMap<String, String>,
}

impl ReceivedMessage {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// The exact bytes the provider sent, undoing the base64 rule.
    pub fn raw_body(&self) -> Vec<u8> {
        shared::message::decode_body(&self.body, self.attribute("body-encoding"))
            .expect("a body that decodes")
    }
}

pub fn s(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A number attribute of an item.
pub fn n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|text| text.parse().ok())
}

pub fn has(item: &HashMap<String, AttributeValue>, name: &str) -> bool {
    item.contains_key(name)
}

/// The URL of a TCP listener that accepts connections and never answers: AWS hanging.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the black hole");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

/// Every variable name `read` asks for when given an environment that answers from `values`
/// (`"value"` for names not listed). Panics if `read` fails: pass values that make it succeed, so
/// that every branch asks for its names.
pub fn variables_read<T, E: std::fmt::Debug>(
    values: &[(&str, &str)],
    read: impl Fn(&dyn EnvSource) -> Result<T, E>,
) -> std::collections::BTreeSet<String> {
    struct Recorder<'v> {
        values: &'v [(&'v str, &'v str)],
        asked: Mutex<std::collections::BTreeSet<String>>,
    }
    impl EnvSource for Recorder<'_> {
        fn var(&self, name: &str) -> Option<String> {
            self.asked
                .lock()
                .expect("recorder lock")
                .insert(name.to_owned());
            let value = self
                .values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("value", |(_, v)| v);
            Some(value.to_owned())
        }
    }
    let recorder = Recorder {
        values,
        asked: Mutex::default(),
    };
    if let Err(err) = read(&recorder) {
        panic!("the configuration must accept the recorded values: {err:?}");
    }
    recorder.asked.into_inner().expect("recorder lock")
}

/// A minimal Lambda Runtime API (`/2018-06-01/runtime/...`) for running a real function binary
/// locally: `next` hands out queued events, and each `response` or `error` the function posts
/// comes back from [`RuntimeApi::next_answer`].
pub struct RuntimeApi {
    pub address: String,
    state: Arc<RuntimeState>,
    answers: tokio::sync::Mutex<mpsc::UnboundedReceiver<RuntimeAnswer>>,
}

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub struct RuntimeAnswer {
    pub request_id: String,
    /// `response`, `error`, or the path of an init error.
    pub kind: String,
    pub body: String,
}

#[derive(Default)]
struct RuntimeState {
    /// Request id, event, and the function's timeout: the deadline is set when the function
    /// takes the event, as Lambda's clock starts with the invocation.
    pending: Mutex<VecDeque<(String, String, Duration)>>,
    available: Notify,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API");
        let address = listener.local_addr().expect("local address").to_string();
        let state = Arc::new(RuntimeState::default());
        let (sender, answers) = mpsc::unbounded_channel();
        let shared_state = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, sender) = (Arc::clone(&shared_state), sender.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (state, sender) = (Arc::clone(&state), sender.clone());
                        async move { Ok::<_, Infallible>(runtime_route(&state, &sender, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            state,
            answers: tokio::sync::Mutex::new(answers),
        }
    }

    /// Queues an invocation event, for a function with a 60 s timeout.
    pub fn invoke(&self, request_id: &str, event: String) {
        self.invoke_with_timeout(request_id, event, Duration::from_secs(60));
    }

    /// Queues an invocation event for a function whose timeout is `timeout`: its deadline
    /// (`Lambda-Runtime-Deadline-Ms`) is `timeout` after the function takes the event, however
    /// long the binary took to start.
    pub fn invoke_with_timeout(&self, request_id: &str, event: String, timeout: Duration) {
        self.state
            .pending
            .lock()
            .expect("runtime state lock")
            .push_back((request_id.to_owned(), event, timeout));
        self.state.available.notify_one();
    }

    /// The next answer the function posted, waiting up to `timeout` (a guard against a hang: give
    /// it minutes, since a loaded machine may take seconds to start the binary).
    pub async fn next_answer(&self, timeout: Duration) -> RuntimeAnswer {
        tokio::time::timeout(timeout, self.answers.lock().await.recv())
            .await
            .expect("the function answers within the timeout")
            .expect("runtime API still running")
    }

    /// The variables the Lambda runtime sets for a function, pointing it at this API.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }
}

async fn runtime_route(
    state: &RuntimeState,
    answers: &mpsc::UnboundedSender<RuntimeAnswer>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let (id, event, timeout) = loop {
            let next = state
                .pending
                .lock()
                .expect("runtime state lock")
                .pop_front();
            match next {
                Some(next) => break next,
                None => state.available.notified().await,
            }
        };
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let deadline = shared::time::now_millis()
            .saturating_add(timeout_ms)
            .to_string();
        return Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline)
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5eb33c07-de25b420912dee103a5db434",
            )
            .body(Full::new(Bytes::from(event)))
            .expect("valid response");
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    // /2018-06-01/runtime/invocation/{id}/response|error, or /2018-06-01/runtime/init/error
    let (request_id, kind) = match parts.as_slice() {
        [_, _, _, "invocation", id, kind] => ((*id).to_owned(), (*kind).to_owned()),
        _ => (String::new(), path.clone()),
    };
    let _ = answers.send(RuntimeAnswer {
        request_id,
        kind,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}
