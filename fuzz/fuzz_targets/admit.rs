//! Fuzzes the ingress's request path up to the first AWS call (`ingress::admit`): any method,
//! request target, `Content-Type`, headers and body, under every signature scheme, signed or not.
//! It checks what must hold for every request: no panic, an unsigned request is never recorded,
//! a recorded event's id is one that can be a key and an attribute, the request's own target
//! never changes the decision (a signed URL is `PUBLIC_URL`), a Mailgun event always carries its
//! token to spend, and a header listing more `v1a` signatures than are tried is never accepted.
//! `custom` runs with a `SIGNATURE_SPEC` using every kind of signed part (target `spec` fuzzes the
//! spec reader itself).
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ingress::{admit, Admission, Outcome, WebhookRequest};
use libfuzzer_sys::fuzz_target;
use shared::config::IngressConfig;
use shared::event::MAX_EVENT_ID_LEN;
use shared::metrics::MetricSet;
use shared::signature::{
    mailgun_signed_body, sign_discord, sign_sendgrid, SignedRequest, MAX_V1A_SIGNATURES,
    SCHEME_NAMES,
};

const NOW_MILLIS: i64 = 1_700_000_000_000;
/// The URL configured at the provider: what the URL-signing schemes sign.
const PUBLIC_URL: &str = "https://hooks.example.com/fuzz";
const UUID_ID: &str = "5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b";
/// The `SIGNATURE_SPEC` of `custom`: every kind of part, a keyed header, a signed time and id.
const CUSTOM_SPEC: &str = r#"{
    "algorithm": "sha512",
    "encoding": "base64",
    "header": "X-Custom-Signature",
    "format": {"style": "keyed", "separator": ";", "timestamp_key": "ts", "signature_key": "sig"},
    "signed": ["method", "url", {"header": "X-Custom-Id"}, {"literal": "."}, "timestamp", {"literal": "."}, "body"],
    "timestamp": {"from_signature": true, "unit": "seconds"},
    "event_id": [{"header": "X-Custom-Id"}],
    "event_type": [{"pointer": "/type"}]
}"#;

#[derive(Debug, Arbitrary)]
struct Request {
    scheme: u8,
    post: bool,
    /// Sign the body with the configured secret first, so the paths after verification are reached.
    sign: bool,
    /// Seconds between the signed timestamp and now.
    clock_skew: i16,
    /// Sent (and signed, for Twilio) as JSON rather than a form.
    json: bool,
    /// The request's own path and query, which no scheme may read.
    target: String,
    /// Sign with a UUID id (Twitch refuses any other) instead of `event_id`.
    uuid_id: bool,
    /// Mailgun's token (letters and digits are accepted).
    token: String,
    event_id: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

/// Every `SIGNATURE_SCHEME` value with a secret of its form.
fn scheme_and_secret(choice: u8) -> (&'static str, &'static str) {
    let name = SCHEME_NAMES[usize::from(choice) % SCHEME_NAMES.len()];
    let secret = match name {
        "standard-webhooks" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "basic" => "hooks:fuzz-password",
        // Public keys of the private key 01..01, which signs for these below.
        "discord" => "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "sendgrid" => "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb/A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY8T3U6Vb8B3FP2wLDH7ueLQMb/fSWpbiKCuYnO9xwUSg==",
        _ => "fuzz-secret",
    };
    (name, secret)
}

fn config(scheme: &str) -> IngressConfig {
    let mut env = HashMap::from([
        ("SOURCE_NAME", "fuzz"),
        ("OUTBOX_TABLE", "outbox"),
        ("QUEUE_URL", "https://sqs.example/queue"),
        ("SECRET_PARAMETER", "/fuzz/secret"),
        ("SIGNATURE_SCHEME", scheme),
        ("EVENT_ID_POINTER", "/data/id"),
        ("MAX_BODY_BYTES", "65536"),
        ("PUBLIC_URL", PUBLIC_URL),
    ]);
    if scheme == "token" {
        env.insert("SIGNATURE_HEADER", "X-Webhook-Token");
    }
    if scheme == "custom" {
        env.insert("SIGNATURE_SPEC", CUSTOM_SPEC);
    }
    if scheme == "hmac-sha256" {
        env.insert("SIGNATURE_HEADER", "X-Signature");
        env.insert("EVENT_ID_HEADER", "X-Event-Id");
    }
    IngressConfig::from_env(&env).expect("the fuzz configuration is valid")
}

fuzz_target!(|request: Request| {
    let (name, secret) = scheme_and_secret(request.scheme);
    let config = config(name);
    let keys = config.scheme.parse_keys(secret).expect("valid secret");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(if request.json {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        }),
    );
    let event_id = if request.uuid_id {
        UUID_ID
    } else {
        request.event_id.as_str()
    };
    let mut body = request.body;
    if request.sign {
        let timestamp = NOW_MILLIS / 1000 + i64::from(request.clock_skew);
        let signed = match name {
            // The private keys of the public keys in `scheme_and_secret`.
            "discord" => sign_discord(
                &ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
                timestamp,
                &body,
            ),
            "sendgrid" => {
                let key = p256::ecdsa::SigningKey::from_slice(&[1; 32]).expect("a valid scalar");
                sign_sendgrid(&key, timestamp, &body)
            }
            _ => {
                let first = keys.first().expect("one key");
                if name == "mailgun" {
                    // The signature goes inside the body; the fuzzed bytes become its event data.
                    let event_data = String::from_utf8_lossy(&body).into_owned();
                    body = mailgun_signed_body(first, timestamp, &request.token, &event_data)
                        .into_bytes();
                    Vec::new()
                } else {
                    let signed_request = SignedRequest {
                        method: "POST",
                        url: PUBLIC_URL,
                        headers: &headers,
                        body: &body,
                    };
                    config
                        .scheme
                        .sign_request(first, event_id, timestamp, &signed_request)
                }
            }
        };
        for (header, value) in signed {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header, value);
            }
        }
    }
    for (name, value) in &request.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let method = if request.post {
        Method::POST
    } else {
        Method::PUT
    };
    let mut metrics = MetricSet::default();
    let body = Bytes::from(body);
    let webhook = WebhookRequest {
        method: &method,
        target: &request.target,
        headers: &headers,
        body: ingress::ReceivedBody::Complete(body.clone()),
        request_id: "fuzz",
    };
    let admission = admit(&config, &keys, &webhook, NOW_MILLIS, &mut metrics);
    let elsewhere = WebhookRequest {
        target: "/",
        ..webhook
    };
    let at_root = admit(&config, &keys, &elsewhere, NOW_MILLIS, &mut metrics);
    assert_eq!(
        format!("{admission:?}"),
        format!("{at_root:?}"),
        "the request's own target changed the decision"
    );
    // The signature header Standard Webhooks reads: `svix-signature` when sent, else `webhook-signature`.
    let too_many_v1a = headers
        .get("svix-signature")
        .or_else(|| headers.get("webhook-signature"))
        .and_then(|value| value.to_str().ok())
        .is_some_and(|text| {
            text.trim()
                .split(' ')
                .filter(|entry| entry.starts_with("v1a,"))
                .count()
                > MAX_V1A_SIGNATURES
        });
    match admission {
        Admission::Record { event, token, .. } => {
            assert!(
                request.sign && request.post,
                "an unsigned request was recorded"
            );
            assert!(
                !(name == "standard-webhooks" && too_many_v1a),
                "a header listing too many v1a signatures was accepted"
            );
            match (name, token) {
                ("mailgun", Some(token)) => {
                    assert!(
                        token.key.starts_with("fuzz:mailgun-token#"),
                        "{}",
                        token.key
                    )
                }
                ("mailgun", None) => panic!("a Mailgun event without its token to spend"),
                (_, Some(_)) => panic!("a token to spend outside Mailgun"),
                (_, None) => {}
            }
            let id = &event.event_id;
            assert!(!id.is_empty() && id.len() <= MAX_EVENT_ID_LEN, "{id:?}");
            assert!(!id.chars().any(char::is_control), "{id:?}");
            assert_eq!(event.key, format!("fuzz:{id}"));
            if let Some(kind) = &event.event_type {
                assert!(!kind.chars().any(char::is_control), "{kind:?}");
            }
        }
        Admission::Challenge { .. } => {
            assert!(
                request.sign && matches!(name, "slack" | "twitch" | "discord"),
                "a handshake answered without a Slack, Twitch or Discord signature"
            );
        }
        Admission::Answer(Outcome::Rejected(_)) => {}
        Admission::Answer(Outcome::MethodNotAllowed) => assert!(!request.post),
        Admission::Answer(Outcome::TooLarge) => {}
        Admission::Answer(other) => panic!("admit never answers {other:?}"),
    }
});
