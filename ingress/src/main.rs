//! The `ingress` binary (`bootstrap` when packaged): a Lambda behind a Function URL when
//! `AWS_LAMBDA_RUNTIME_API` is set, a local HTTP server on `INGRESS_LISTEN` otherwise.

use std::sync::Arc;

use anyhow::Context as _;
use ingress::{lambda, local, Ingress};
use shared::config::{IngressConfig, ProcessEnv};

const USAGE: &str = "\
usage: ingress

Receives signed webhooks: verifies the signature (anything unverified gets 404), writes the event
to the DynamoDB outbox, sends it to SQS, marks it sent, and answers 200 once the event is durable.
A duplicate delivery gets 200 and is not queued twice; another body under an event id already
received is queued too, with the attribute id-conflict-of naming the first body's SHA-256.

Under the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) it serves Function URL events. Otherwise it
serves plain HTTP on INGRESS_LISTEN (default 127.0.0.1:9000) until Ctrl-C or SIGTERM.

Configuration comes from the environment. Required: SOURCE_NAME, OUTBOX_TABLE, QUEUE_URL and
SECRET_PARAMETER (the SSM SecureString parameter holding the secret; during a rotation its value
holds several, separated by commas or whitespace). Optional: SIGNATURE_SCHEME (standard-webhooks,
stripe, github, shopify, slack, paddle, hubspot, zendesk, calendly, twitch, linear, intercom,
pagerduty, typeform, bitbucket, woocommerce, razorpay, square, mailgun, twilio, sendgrid, discord,
gitlab, basic; hmac-sha256 with SIGNATURE_HEADER, SIGNATURE_ENCODING and SIGNATURE_PREFIX; token
with SIGNATURE_HEADER and SIGNATURE_PREFIX; custom with SIGNATURE_SPEC, a JSON document declaring
any other HMAC scheme: algorithm, encoding, header, format, signed parts, timestamp, event_id and
event_type, checked at cold start, see docs/custom-schemes.md; see docs/providers.md), PUBLIC_URL (the exact URL
configured at the provider: required for hubspot, square and twilio, which sign it), EVENT_ID_HEADER, EVENT_ID_POINTER, EVENT_TYPE_POINTER, MAX_BODY_BYTES,
TIMESTAMP_TOLERANCE_SECS, SECRET_REFRESH_SECS, PENDING_SHARDS, RETENTION_DAYS, RESPONSE_BUDGET_MS,
METRICS_NAMESPACE, ROUTES, LARGE_BODY_BUCKET, LARGE_BODY_PREFIX, LARGE_BODY_KMS_KEY, and the
standard AWS variables (AWS_REGION, AWS_ENDPOINT_URL, profiles). HTTPS trusts the built-in Amazon
Trust Services roots, or the PEM bundle AWS_CA_BUNDLE names (SSL_CERT_FILE or SSL_CERT_DIR: the
system's store or that bundle). A missing or invalid value stops
the cold start with a message naming the variable. Under Lambda each request is also bounded by its
invocation's deadline, and a RESPONSE_BUDGET_MS longer than the function's timeout (seen at the
first invocation) fails every invocation until fixed. See docs/configuration.md.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        if args.len() == 1 && (first == "--help" || first == "-h") {
            println!("{USAGE}");
            return Ok(());
        }
        anyhow::bail!("unexpected arguments: {}\n\n{USAGE}", args.join(" "));
    }
    shared::logging::init();
    let config = IngressConfig::from_env(&ProcessEnv).context("invalid ingress configuration")?;
    let ingress = Arc::new(
        Ingress::from_config(config)
            .await
            .context("ingress cold start failed")?,
    );

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda::run(ingress)
            .await
            .map_err(|err| anyhow::anyhow!(err))
            .context("Lambda runtime loop failed");
    }
    let listen = std::env::var("INGRESS_LISTEN")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| local::DEFAULT_LISTEN.to_owned());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("INGRESS_LISTEN: cannot listen on {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, "ingress serving HTTP");
    local::serve(listener, ingress, shared::process::shutdown_signal()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_names_every_signature_scheme() {
        let words: Vec<&str> = super::USAGE
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .collect();
        for name in shared::signature::SCHEME_NAMES {
            assert!(words.contains(name), "--help does not name {name}");
        }
    }
}
