//! Fuzzes the ingress's request path up to the first AWS call (`ingress::admit`): any method,
//! headers and body, under every signature scheme, signed or not. It checks what must hold for
//! every request: no panic, an unsigned request is never recorded, and a recorded event's id is
//! one that can be a key and an attribute.
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
    mailgun_signed_body, sign_discord, sign_sendgrid, SignedRequest, SCHEME_NAMES,
};

const NOW_MILLIS: i64 = 1_700_000_000_000;

#[derive(Debug, Arbitrary)]
struct Request {
    scheme: u8,
    post: bool,
    /// Sign the body with the configured secret first, so the paths after verification are reached.
    sign: bool,
    /// Seconds between the signed timestamp and now.
    clock_skew: i16,
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
    ]);
    if scheme == "token" {
        env.insert("SIGNATURE_HEADER", "X-Webhook-Token");
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
                    body = mailgun_signed_body(first, timestamp, "fuzz-token", &event_data)
                        .into_bytes();
                    Vec::new()
                } else {
                    // The URL `admit` rebuilds when no Host header is sent.
                    let unsigned = HeaderMap::new();
                    let signed_request = SignedRequest {
                        method: "POST",
                        url: "https:///hook",
                        headers: &unsigned,
                        body: &body,
                    };
                    config
                        .scheme
                        .sign_request(first, &request.event_id, timestamp, &signed_request)
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
    let webhook = WebhookRequest {
        method: &method,
        target: "/hook",
        headers: &headers,
        body: ingress::ReceivedBody::Complete(Bytes::from(body)),
        request_id: "fuzz",
    };
    let admission = admit(&config, &keys, &webhook, NOW_MILLIS, &mut metrics);
    match admission {
        Admission::Record { event, .. } => {
            assert!(
                request.sign && request.post,
                "an unsigned request was recorded"
            );
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
