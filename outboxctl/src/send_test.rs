//! `send-test`: a sample webhook signed exactly as the provider signs (the deployment's scheme and
//! secret from SSM), posted to the ingress, so on-call sees the whole path answer.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use shared::secrets::SsmSecrets;
use shared::time::{now_millis, rfc3339_millis};

use crate::cli::SendTestArgs;
use crate::output::Output;
use crate::target::Target;
use crate::Outcome;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn run(target: &Target, args: &SendTestArgs, output: Output) -> anyhow::Result<Outcome> {
    let config = target.ingress_config()?;
    let url = target.ingress_url(args.url.as_deref()).await?;
    let now = now_millis();
    let event_id = format!("outboxctl-test-{now}");
    let body = match &args.body {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => serde_json::to_vec(&json!({
            "type": "outboxctl.test",
            "id": event_id,
            "created_at": rfc3339_millis(now),
        }))?,
    };
    let keys = SsmSecrets::new(aws_sdk_ssm::Client::new(&target.sdk))
        .load(&config.secret_parameter, &config.scheme)
        .await?;
    let key = keys
        .first()
        .context("the secret parameter holds no secret")?;
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(&url)
        .header("content-type", "application/json");
    for (name, value) in config.scheme.sign(key, &event_id, now / 1000, &body) {
        request = request.header(name, value);
    }
    if let Some(header) = &config.event_id.header {
        request = request.header(header, &event_id);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .with_context(|| format!("`{url}` is not a URL"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("cannot load the system's TLS root certificates")?
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let response = tokio::time::timeout(ANSWER_TIMEOUT, client.request(request))
        .await
        .with_context(|| format!("{url} did not answer within {ANSWER_TIMEOUT:?}"))?
        .with_context(|| format!("cannot POST to {url}"))?;
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let key = format!("{}:{event_id}", target.settings.source);
    let json = json!({
        "url": url,
        "status": status.as_u16(),
        "event_id": event_id,
        "outbox_key": key,
        "scheme": config.scheme.name(),
    });
    output.emit(&json, || {
        println!(
            "{} {url} ({} signed, event {event_id})",
            status.as_u16(),
            config.scheme.name()
        );
        if status.is_success() {
            println!("next: `outboxctl show {event_id}` should show it sent");
        } else if !answer.is_empty() {
            println!("{}", String::from_utf8_lossy(&answer));
        }
    });
    if status.is_success() {
        Ok(Outcome::Ok)
    } else if status == http::StatusCode::NOT_FOUND {
        anyhow::bail!("the ingress answered 404: the signature was refused (is SIGNATURE_SCHEME right, and the secret the one the ingress reads?)")
    } else {
        anyhow::bail!("the ingress answered {status}")
    }
}
