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
use serde_json::Value;
use shared::aws::ssm::SsmSecrets;
use shared::config::IngressConfig;
use shared::signature::{Field, SignedRequest, SigningKey};
use shared::time::{now_millis, rfc3339_millis, EpochMillis};

use crate::cli::SendTestArgs;
use crate::output::Output;
use crate::target::{Origin, Target};
use crate::Outcome;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The event type of a test event, on the queue as `event-type`: workers skip it.
pub const TEST_EVENT_TYPE: &str = "outboxctl.test";
/// The start of a test event's id, on the queue as `event-id`.
pub const TEST_EVENT_ID_PREFIX: &str = "outboxctl-test-";

/// Sets `value` at JSON `pointer` in `json`, creating the objects on the way.
fn set_at_pointer(json: &mut Value, pointer: &str, value: Value) {
    let mut at = json;
    let mut parts = pointer
        .split('/')
        .skip(1)
        .map(|part| part.replace("~1", "/").replace("~0", "~"))
        .peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else {
            return;
        };
        if parts.peek().is_none() {
            map.insert(part, value);
            return;
        }
        at = map.entry(part).or_insert_with(|| json!({}));
    }
}

/// The default test body: the test type wherever this deployment reads an event type from the
/// body (the scheme's own fields and EVENT_TYPE_POINTER), and the event id.
fn test_body(config: &IngressConfig, event_id: &str, now: EpochMillis) -> Value {
    let mut body = json!({
        "type": TEST_EVENT_TYPE,
        "id": event_id,
        "created_at": rfc3339_millis(now),
    });
    let pointers = config
        .scheme
        .event_type_fields()
        .iter()
        .filter_map(|field| match field {
            Field::Pointer(pointer) => Some(*pointer),
            Field::Header(_) => None,
        })
        .chain(config.event_id.type_pointer.as_deref());
    for pointer in pointers {
        set_at_pointer(&mut body, pointer, json!(TEST_EVENT_TYPE));
    }
    if let Some(pointer) = config.event_id.pointer.as_deref() {
        set_at_pointer(&mut body, pointer, json!(event_id));
    }
    body
}

/// The headers signing `body`, sent as JSON, as the deployment's provider signs it: for the
/// schemes that sign the URL, over the deployment's `PUBLIC_URL`.
fn sign_for_public_url(
    config: &IngressConfig,
    key: &SigningKey,
    event_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(http::HeaderName, String)> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let request = SignedRequest {
        method: "POST",
        url: config.public_url.as_deref().unwrap_or_default(),
        headers: &headers,
        body,
    };
    config
        .scheme
        .sign_request(key, event_id, timestamp_secs, &request)
}

pub async fn run(target: &Target, args: &SendTestArgs, output: Output) -> anyhow::Result<Outcome> {
    let config = target.ingress_config()?;
    let url = target.ingress_url(args.url.as_deref()).await?;
    let now = now_millis();
    let event_id = if config.scheme.name() == "twitch" {
        // Twitch's message ids are UUIDs, and the ingress refuses any other.
        format!("00000000-0000-4000-8000-{:012x}", now.max(0))
    } else {
        format!("{TEST_EVENT_ID_PREFIX}{now}")
    };
    let body = match &args.body {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => serde_json::to_vec(&test_body(&config, &event_id, now))?,
    };
    // A deployment's workers get this event: a person says so.
    if !args.yes && !matches!(target.origin, Origin::LocalStack(_)) {
        let json = json!({"dry_run": true, "url": url, "event_id": event_id, "event_type": TEST_EVENT_TYPE});
        output.emit(&json, || {
            println!(
                "dry run: would POST a signed test event ({event_id}, event-type {TEST_EVENT_TYPE}{}) to {url}, which reaches the {}'s workers; add --yes",
                if args.body.is_some() { "; your --body as it is" } else { "" },
                target.origin
            );
        });
        return Ok(Outcome::Ok);
    }
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
    // The URL-signing schemes sign PUBLIC_URL, the one URL the ingress verifies against,
    // whatever URL this request goes to (a Function URL behind the custom domain, say).
    for (name, value) in sign_for_public_url(&config, key, &event_id, now / 1000, &body) {
        request = request.header(name, value);
    }
    if let Some(header) = &config.event_id.header {
        request = request.header(header, &event_id);
    }
    for field in config.scheme.event_type_fields() {
        if let Field::Header(name) = field {
            request = request.header(*name, TEST_EVENT_TYPE);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_signing_schemes_are_signed_for_public_url() {
        use shared::signature::SigningKeys;
        use std::collections::HashMap;
        let env = |scheme: &'static str| {
            HashMap::from([
                ("SOURCE_NAME", "s"),
                ("OUTBOX_TABLE", "t"),
                ("QUEUE_URL", "https://sqs.example/q"),
                ("SECRET_PARAMETER", "/p"),
                ("SIGNATURE_SCHEME", scheme),
                ("PUBLIC_URL", "https://hooks.example.com/in/hook"),
            ])
        };
        for scheme in ["twilio", "square", "hubspot"] {
            let config = IngressConfig::from_env(&env(scheme)).unwrap();
            let keys: SigningKeys = config.scheme.parse_keys("secret-0001").unwrap();
            let body = br#"{"id":"outboxctl-test-1"}"#;
            let signed =
                sign_for_public_url(&config, keys.first().unwrap(), "id-1", 1_700_000_000, body);
            let mut headers: http::HeaderMap = signed
                .into_iter()
                .map(|(name, value)| (name, value.parse().unwrap()))
                .collect();
            headers.insert(
                http::header::CONTENT_TYPE,
                "application/json".parse().unwrap(),
            );
            let request = SignedRequest {
                method: "POST",
                url: config.public_url.as_deref().unwrap(),
                headers: &headers,
                body,
            };
            assert!(
                config
                    .scheme
                    .verify_request(&request, &keys, 1_700_000_000, 300)
                    .is_ok(),
                "{scheme}"
            );
        }
    }

    #[test]
    fn pointers_are_set_creating_the_objects_on_the_way() {
        let mut body = json!({"type": "x"});
        set_at_pointer(&mut body, "/event/type", json!(TEST_EVENT_TYPE));
        set_at_pointer(&mut body, "/type", json!(TEST_EVENT_TYPE));
        assert_eq!(
            body,
            json!({"type": TEST_EVENT_TYPE, "event": {"type": TEST_EVENT_TYPE}})
        );
    }
}
