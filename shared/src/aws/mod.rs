//! The AWS adapters, one module per service, and the client setup they share.
//!
//! Loading the AWS SDK configuration once per cold start, with explicit timeouts and bounded
//! retries so no call can hold a request past its budget. `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_DYNAMODB`, `..._SQS`, `..._SSM`, `..._S3`) point the clients at the local stack.

use std::error::Error as StdError;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;

use crate::call_error::{self, AwsCallError};

pub mod dynamodb;
#[cfg(feature = "oncall")]
pub mod lambda;
pub mod s3;
pub mod sqs;
pub mod ssm;

/// Timeouts and retries applied to every AWS call a process makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl CallLimits {
    /// Limits for a request that must be answered within `budget`: three short attempts per
    /// call, so one slow connection is retried instead of eating the whole budget.
    pub fn within(budget: Duration) -> Self {
        let attempt = (budget / 5).max(Duration::from_millis(100));
        Self {
            connect_timeout: attempt,
            attempt_timeout: attempt,
            operation_timeout: budget / 2,
            max_attempts: 3,
        }
    }

    /// Limits for background work (the sweeper), where patience is cheaper than a failed send.
    pub fn background() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(15),
            max_attempts: 4,
        }
    }
}

/// The roots of Amazon Trust Services, the certificate authority of every AWS service endpoint
/// (Amazon Root CA 1 to 4 and the Starfield Services Root Certificate Authority - G2 that
/// cross-signs them), as the system's store (Debian's ca-certificates) has them.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// Which certificate authorities the functions' HTTPS client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedRoots {
    /// Amazon Trust Services' roots alone (the default): every AWS endpoint chains to them, and
    /// parsing five roots at a cold start instead of the system's ~140 is several milliseconds of
    /// CPU less, which a 256 MB function (a seventh of a core) pays several times over.
    AmazonTrustServices,
    /// The PEM bundle named by `AWS_CA_BUNDLE` (the variable the AWS CLI and SDKs read), alone.
    Bundle(std::path::PathBuf),
    /// The system's store, or the bundle `SSL_CERT_FILE` / `SSL_CERT_DIR` name instead of it.
    System,
}

impl TrustedRoots {
    /// `AWS_CA_BUNDLE` first, then `SSL_CERT_FILE` or `SSL_CERT_DIR`, else Amazon Trust Services.
    pub fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Self {
        let set = |name: &str| var(name).filter(|value| !value.is_empty());
        if let Some(bundle) = set("AWS_CA_BUNDLE") {
            Self::Bundle(bundle.into())
        } else if set("SSL_CERT_FILE").is_some() || set("SSL_CERT_DIR").is_some() {
            Self::System
        } else {
            Self::AmazonTrustServices
        }
    }

    fn trust_store(&self) -> tls::TrustStore {
        match self {
            Self::AmazonTrustServices => amazon_trust_services(),
            // The SDK parses a bundle only at its first connection, and panics on a malformed one.
            Self::Bundle(path) => match std::fs::read(path) {
                Ok(pem) if pem_certificates(&pem).is_some_and(|ders| !ders.is_empty()) => {
                    tls::TrustStore::empty().with_pem_certificate(pem)
                }
                Ok(_) => {
                    tracing::error!(path = %path.display(),
                        "AWS_CA_BUNDLE holds no well-formed PEM certificate; trusting Amazon Trust Services' roots");
                    amazon_trust_services()
                }
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err,
                        "AWS_CA_BUNDLE cannot be read; trusting Amazon Trust Services' roots");
                    amazon_trust_services()
                }
            },
            Self::System => tls::TrustStore::default(),
        }
    }
}

/// The DER of every `CERTIFICATE` section of a PEM bundle, or `None` if one is malformed (no end
/// line, a body that is not base64 or not a DER sequence).
fn pem_certificates(pem: &[u8]) -> Option<Vec<Vec<u8>>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|section| {
            let (body, _) = section.split_once("-----END CERTIFICATE-----")?;
            let body: String = body.split_whitespace().collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?;
            (der.first() == Some(&0x30)).then_some(der)
        })
        .collect()
}

fn amazon_trust_services() -> tls::TrustStore {
    tls::TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES)
}

/// Reads region, credentials and endpoints from the environment and applies `limits`; the HTTPS
/// client trusts [`TrustedRoots::from_vars`] of the process's environment. For the functions
/// (ingress, sweeper), which talk to AWS endpoints only.
pub async fn load_sdk_config(limits: CallLimits) -> SdkConfig {
    loader_trusting(
        limits,
        &TrustedRoots::from_vars(|name| std::env::var_os(name)),
    )
    .load()
    .await
}

/// The loader behind [`load_sdk_config`], trusting the system's store, for callers that set
/// region, credentials or endpoint themselves (outboxctl on an operator's machine, tests pointing
/// one client at a fault proxy).
pub fn config_loader(limits: CallLimits) -> ConfigLoader {
    loader_trusting(limits, &TrustedRoots::System)
}

fn loader_trusting(limits: CallLimits, roots: &TrustedRoots) -> ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(limits.connect_timeout)
        .operation_attempt_timeout(limits.attempt_timeout)
        .operation_timeout(limits.operation_timeout)
        .build();
    // rustls on ring: the SDK's default client would link aws-lc, which a Lambda package pays for
    // in size (see docs/benchmarks.md); ring speaks the same TLS to AWS.
    let tls_context = tls::TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
        .unwrap_or_default();
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls_context)
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(limits.max_attempts))
}

/// A DynamoDB client whose retries are bounded only by `max_attempts` and the timeouts.
///
/// The SDK also keeps a per-process retry quota (500 tokens, 5 a retry): under a sustained partial
/// outage a long-lived ingress exhausts it and silently stops retrying at all, which turns
/// recoverable errors into 500s (the fault harness measured 372 refused retries in 1,500 requests
/// at 50% SendMessage faults). The ingress already caps each request by the response budget, so
/// it opts out; the sweeper keeps the quota, since backing off is right for background work.
pub fn dynamodb_without_retry_quota(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::retry::{RetryPartition, TokenBucket};
    let partition = RetryPartition::custom("dynamodb-no-quota")
        .token_bucket(TokenBucket::unlimited())
        .build();
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_partition(partition)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// An SQS client whose retries are bounded only by `max_attempts` and the timeouts (see
/// [`dynamodb_without_retry_quota`]).
pub fn sqs_without_retry_quota(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::config::retry::{RetryPartition, TokenBucket};
    let partition = RetryPartition::custom("sqs-no-quota")
        .token_bucket(TokenBucket::unlimited())
        .build();
    let config = aws_sdk_sqs::config::Builder::from(sdk)
        .retry_partition(partition)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An S3 client for the large-body bucket. Against a configured endpoint (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_S3`: the local emulator) it addresses buckets path-style, since the
/// emulator's host has no per-bucket subdomains; against AWS, the SDK's default.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(sdk).build())
}

/// [`s3_client`] whose retries are bounded only by `max_attempts` and the timeouts (see
/// [`dynamodb_without_retry_quota`]).
pub fn s3_without_retry_quota(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::retry::{RetryPartition, TokenBucket};
    let partition = RetryPartition::custom("s3-no-quota")
        .token_bucket(TokenBucket::unlimited())
        .build();
    aws_sdk_s3::Client::from_conf(s3_config(sdk).retry_partition(partition).build())
}

fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    let local_endpoint =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(local_endpoint)
}

/// A boxed SDK error kept as the source of our own error types.
pub use crate::primitives::BoxError;

/// The [`AwsCallError`] of a failed call to `service`'s `operation`: the service's error code, or
/// what stood in for an answer.
pub fn call_error<E, R>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, R>,
) -> AwsCallError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = match &err {
        SdkError::ServiceError(failed) => failed.err().code().unwrap_or("Unknown"),
        SdkError::TimeoutError(_) => call_error::TIMEOUT,
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if describe(&err).contains("credentials") =>
        {
            call_error::NO_CREDENTIALS
        }
        SdkError::DispatchFailure(_) => call_error::DISPATCH_FAILURE,
        SdkError::ResponseError(_) => call_error::RESPONSE_ERROR,
        _ => call_error::CONSTRUCTION_FAILURE,
    }
    .to_owned();
    AwsCallError {
        service,
        operation,
        code,
        source: err.into(),
    }
}

pub use crate::call_error::describe;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;

    use super::{pem_certificates, TrustedRoots, AMAZON_TRUST_SERVICES};

    fn roots(vars: &[(&str, &str)]) -> TrustedRoots {
        let vars: HashMap<&str, OsString> =
            vars.iter().map(|(k, v)| (*k, OsString::from(v))).collect();
        TrustedRoots::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn functions_trust_amazon_unless_a_bundle_is_named() {
        assert_eq!(roots(&[]), TrustedRoots::AmazonTrustServices);
        assert_eq!(
            roots(&[("SSL_CERT_FILE", "")]),
            TrustedRoots::AmazonTrustServices
        );
        assert_eq!(
            roots(&[("SSL_CERT_FILE", "/etc/ca.pem")]),
            TrustedRoots::System
        );
        assert_eq!(
            roots(&[("SSL_CERT_DIR", "/etc/certs")]),
            TrustedRoots::System
        );
        assert_eq!(
            roots(&[
                ("AWS_CA_BUNDLE", "/ca.pem"),
                ("SSL_CERT_FILE", "/etc/ca.pem")
            ]),
            TrustedRoots::Bundle("/ca.pem".into())
        );
    }

    /// The SDK parses the bundle only at the first connection and panics on a bad one: each of
    /// the five roots must be a whole PEM certificate naming its authority.
    #[test]
    fn the_amazon_bundle_holds_the_five_roots() {
        let ders = pem_certificates(AMAZON_TRUST_SERVICES).expect("well-formed PEM");
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        assert_eq!(ders.len(), names.len());
        for (der, name) in ders.iter().zip(names) {
            assert!(
                der.windows(name.len())
                    .any(|window| window == name.as_bytes()),
                "{name} missing"
            );
        }
    }

    #[test]
    fn a_malformed_bundle_is_refused() {
        let good = "-----BEGIN CERTIFICATE-----\nMAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(good.as_bytes()),
            Some(vec![vec![0x30, 1, 2]])
        );
        let not_der = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(not_der.as_bytes()), None);
        assert_eq!(pem_certificates(b"no certificate here"), Some(vec![]));
        assert_eq!(
            pem_certificates(b"-----BEGIN CERTIFICATE-----\nAAEC\n"),
            None
        );
        assert_eq!(
            pem_certificates(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"),
            None
        );
    }
}
