//! Every provider scheme through the built binary, with signatures made by the provider's own SDK
//! (scripts/signers: `standardwebhooks`, `svix` and `slack_sdk` from PyPI, `stripe` and
//! `@octokit/webhooks-methods` from npm, `twilio` from PyPI) or, for providers that publish only
//! their rule, by that rule written in Python and checked by the provider's SDK where it has a
//! verifier (scripts/signers/sign.py says which). One binary per scheme:
//! valid, duplicate, tampered, wrong secret, unsigned, stale, future, and a secret rotated under
//! it without a restart.

use std::process::Command;
use std::time::{Duration, Instant};

use shared::time::now_millis;

use crate::binary::{http_exchange, start_http_with, RunningIngress};
use crate::support::{repo_root, Stack, STANDARD_SECRET};

/// One provider: its scheme, two secrets (before and after a rotation), and its requests.
struct Provider {
    scheme: &'static str,
    /// The signer in scripts/signers/sign.py (the scheme's name, or `svix` for Svix's headers).
    signer: &'static str,
    old_secret: &'static str,
    new_secret: &'static str,
    /// Whether the provider signs a timestamp (then stale and future requests are refused).
    timestamped: bool,
    /// Whether the signature covers the body (a shared token does not: a changed body passes).
    body_signed: bool,
    /// Settings besides `SIGNATURE_SCHEME`.
    env: &'static [(&'static str, &'static str)],
    /// For schemes signed with a private key: the public keys of `old_secret` and `new_secret`
    /// (private keys in hex), which the secret parameter holds instead.
    public_keys: Option<(&'static str, &'static str)>,
    /// The body of event `id` sent at `timestamp` (providers that carry the id or the time in the
    /// body put them there).
    body: fn(&str, i64) -> String,
}

/// What the tests set as `PUBLIC_URL`, the URL configured at the provider, which URL-signing
/// providers sign (requests go to `/hook`, which the ingress never reads).
const PUBLIC_URL: &str = "https://hooks.example.com/in/hook";

/// The headers the provider's SDK sends with `body`, signed with `secret` at `timestamp`.
fn sdk_headers(
    scheme: &str,
    secret: &str,
    event_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let root = repo_root();
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/signers/sign.py"))
        .args([scheme, secret, "--id", event_id])
        .args(["--timestamp", &timestamp.to_string()])
        .args(["--url", PUBLIC_URL])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run scripts/signers/sign.py (`make venv signers` installs the SDKs)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "sign.py {scheme}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Mailgun's signature is inside the body: its signer answers `{"body": ...}`.
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();
    headers
        .into_iter()
        .map(|(name, value)| (name, value.as_str().unwrap().to_owned()))
        .collect()
}

/// The id a provider sends for the event labelled `label`: the label itself, except for Twitch,
/// whose message ids are UUIDs (anything else is refused): one derived from the label.
fn provider_id(scheme: &str, label: &str) -> String {
    if scheme != "twitch" {
        return label.to_owned();
    }
    let hash = shared::event::sha256_hex(label.as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &hash[0..8],
        &hash[8..12],
        &hash[12..16],
        &hash[16..20],
        &hash[20..32]
    )
}

struct Run<'p> {
    provider: &'p Provider,
    ingress: RunningIngress,
}

impl Run<'_> {
    /// Sends event `id` signed with `secret` at `timestamp` (Unix seconds); `tamper` changes the
    /// body after signing.
    fn send(&self, secret: &str, id: &str, timestamp: i64, tamper: bool) -> (u16, String) {
        let id = &provider_id(self.provider.scheme, id);
        let body = (self.provider.body)(id, timestamp);
        let headers = sdk_headers(self.provider.signer, secret, id, timestamp, body.as_bytes());
        let sent = if tamper {
            body.replacen('1', "2", 1)
        } else {
            body
        };
        let headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        http_exchange(self.ingress.address, "POST", &headers, sent.as_bytes())
    }

    fn status(&self, secret: &str, id: &str, skew: i64, tamper: bool) -> u16 {
        self.send(secret, id, now_millis() / 1000 + skew, tamper).0
    }

    /// Sends the same signed request twice: a provider's retry of one delivery, byte for byte
    /// (the timestamp some providers sign inside the body included).
    fn status_twice(&self, secret: &str, id: &str) -> (u16, u16) {
        let timestamp = now_millis() / 1000;
        (
            self.send(secret, id, timestamp, false).0,
            self.send(secret, id, timestamp, false).0,
        )
    }
}

async fn exercise(provider: Provider) {
    let (stored_old, stored_new) = provider
        .public_keys
        .unwrap_or((provider.old_secret, provider.new_secret));
    let stack = Stack::with_secret(stored_old).await;
    let mut env = vec![
        ("SIGNATURE_SCHEME", provider.scheme),
        ("SECRET_REFRESH_SECS", "1"),
        ("PUBLIC_URL", PUBLIC_URL),
    ];
    env.extend_from_slice(provider.env);
    let ingress = start_http_with(&stack, &env);
    let run = Run {
        provider: &provider,
        ingress,
    };
    let (old, new) = (provider.old_secret, provider.new_secret);
    let name = provider.scheme;

    assert_eq!(
        run.status_twice(old, "evt_valid_1"),
        (200, 200),
        "{name} valid, then its duplicate"
    );
    if provider.body_signed {
        assert_eq!(
            run.status(old, "evt_tampered_1", 0, true),
            404,
            "{name} tampered"
        );
    }
    assert_eq!(
        run.status(new, "evt_wrong_1", 0, false),
        404,
        "{name} wrong secret"
    );
    let unsigned = (provider.body)("evt_unsigned_1", now_millis() / 1000);
    let (status, _) = http_exchange(run.ingress.address, "POST", &[], unsigned.as_bytes());
    assert_eq!(status, 404, "{name} unsigned");
    if provider.timestamped {
        assert_eq!(
            run.status(old, "evt_stale_1", -400, false),
            404,
            "{name} stale"
        );
        assert_eq!(
            run.status(old, "evt_future_1", 400, false),
            404,
            "{name} future"
        );
    }

    // Rotation: both secrets in the parameter; once the binary re-reads it (at most once every
    // 10 s, so within about 10 s of its last read), both verify, without a restart.
    stack
        .put_secret(&format!("{stored_old},{stored_new}"))
        .await;
    let rotated = Instant::now();
    while run.status(new, "evt_rotated_new", 0, false) != 200 {
        assert!(
            // Only a hang guard: the re-read comes about 10 s after the last one.
            rotated.elapsed() < Duration::from_secs(120),
            "{name}: the new secret was not picked up"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        run.status(old, "evt_rotated_old", 0, false),
        200,
        "{name} old secret"
    );

    let mut ids: Vec<String> = stack
        .drain(&stack.queue_url)
        .await
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = ["evt_rotated_new", "evt_rotated_old", "evt_valid_1"]
        .iter()
        .map(|label| provider_id(name, label))
        .collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "{name}: exactly the authentic events, once each"
    );
    let log = run.ingress.log_text();
    assert!(
        !log.contains(old) && !log.contains(new),
        "{name}: a secret reached the log"
    );
}

#[tokio::test]
async fn standard_webhooks_sdk_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "standard-webhooks",
        signer: "standard-webhooks",
        old_secret: STANDARD_SECRET,
        new_secret: "whsec_bmV3LXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldC0wMQ==",
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |id, _| format!(r#"{{"type":"invoice.paid","data":{{"ref":"{id}","n":1}}}}"#),
    })
    .await;
}

/// Svix-branded senders (Clerk, Resend, ...) send the Standard Webhooks scheme under `svix-id`,
/// `svix-timestamp` and `svix-signature`, which the Svix libraries accept as its headers.
#[tokio::test]
async fn svix_sdk_signatures_with_svix_headers_through_the_binary() {
    exercise(Provider {
        scheme: "standard-webhooks",
        signer: "svix",
        old_secret: STANDARD_SECRET,
        new_secret: "whsec_bmV3LXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldC0wMQ==",
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |id, _| format!(r#"{{"type":"user.created","data":{{"ref":"{id}","n":1}}}}"#),
    })
    .await;
}

#[tokio::test]
async fn stripe_sdk_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "stripe",
        signer: "stripe",
        old_secret: "whsec_old_stripe_0001",
        new_secret: "whsec_new_stripe_0002",
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |id, _| {
            format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid","livemode":1}}"#)
        },
    })
    .await;
}

#[tokio::test]
async fn github_sdk_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "github",
        signer: "github",
        old_secret: "gh-old-secret-0001",
        new_secret: "gh-new-secret-0002",
        timestamped: false,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |_, _| r#"{"action":"opened","number":1}"#.to_owned(),
    })
    .await;
}

#[tokio::test]
async fn shopify_formula_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "shopify",
        signer: "shopify",
        old_secret: "shpss_old_0001",
        new_secret: "shpss_new_0002",
        timestamped: false,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |_, _| r#"{"id":820982911946154508,"total":"1.00"}"#.to_owned(),
    })
    .await;
}

#[tokio::test]
async fn slack_sdk_signatures_through_the_binary_and_its_url_verification() {
    let challenge_body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let stack = Stack::with_secret("slack-signing-secret-1").await;
    let ingress = start_http_with(&stack, &[("SIGNATURE_SCHEME", "slack")]);
    let headers = sdk_headers(
        "slack",
        "slack-signing-secret-1",
        "",
        now_millis() / 1000,
        challenge_body.as_bytes(),
    );
    let headers: Vec<(&str, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    let (status, body) =
        http_exchange(ingress.address, "POST", &headers, challenge_body.as_bytes());
    assert_eq!(
        (status, body.as_str()),
        (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );
    assert_eq!(stack.row_count().await, 0);
    drop(ingress);

    exercise(Provider {
        scheme: "slack",
        signer: "slack",
        old_secret: "slackold0001",
        new_secret: "slacknew0002",
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: None,
        body: |id, _| {
            format!(r#"{{"type":"event_callback","event_id":"{id}","event":{{"type":"app_mention","n":1}}}}"#)
        },
    })
    .await;
}

/// The catalog's providers, each signed by its documented rule (scripts/signers/sign.py).
fn documented(scheme: &'static str, timestamped: bool, body: fn(&str, i64) -> String) -> Provider {
    Provider {
        scheme,
        signer: scheme,
        old_secret: "catalog-old-secret-0001",
        new_secret: "catalog-new-secret-0002",
        timestamped,
        body_signed: true,
        env: &[],
        public_keys: None,
        body,
    }
}

#[tokio::test]
async fn paddle_documented_signatures_through_the_binary() {
    exercise(documented("paddle", true, |id, _| {
        format!(r#"{{"event_id":"{id}","event_type":"transaction.completed","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn hubspot_documented_signatures_over_the_public_url_through_the_binary() {
    exercise(documented("hubspot", true, |id, _| {
        format!(r#"[{{"eventId":"{id}","subscriptionType":"contact.creation","n":1}}]"#)
    }))
    .await;
}

#[tokio::test]
async fn zendesk_documented_signatures_through_the_binary() {
    exercise(documented("zendesk", true, |id, _| {
        format!(r#"{{"id":"{id}","type":"zen:event-type:ticket.created","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn calendly_documented_signatures_through_the_binary() {
    exercise(Provider {
        env: &[("EVENT_ID_POINTER", "/id")],
        ..documented("calendly", true, |id, _| {
            format!(r#"{{"id":"{id}","event":"invitee.created","n":1}}"#)
        })
    })
    .await;
}

#[tokio::test]
async fn twitch_documented_signatures_through_the_binary() {
    exercise(documented("twitch", true, |_, _| {
        r#"{"subscription":{"type":"channel.follow"},"event":{"n":1}}"#.to_owned()
    }))
    .await;
}

#[tokio::test]
async fn twitch_callback_verification_is_answered_with_its_challenge_and_nothing_is_queued() {
    let secret = "twitch-secret-0001";
    let stack = Stack::with_secret(secret).await;
    let ingress = start_http_with(&stack, &[("SIGNATURE_SCHEME", "twitch")]);
    let body = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let headers: Vec<(String, String)> = sdk_headers(
        "twitch",
        secret,
        "0b8d6c2a-3f1e-4a5b-9c7d-2e4f6a8b0c1d",
        now_millis() / 1000,
        body.as_bytes(),
    )
    .into_iter()
    .map(|(name, value)| {
        if name.eq_ignore_ascii_case("twitch-eventsub-message-type") {
            (name, "webhook_callback_verification".to_owned())
        } else {
            (name, value)
        }
    })
    .collect();
    let headers: Vec<(&str, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    let (status, answer) = http_exchange(ingress.address, "POST", &headers, body.as_bytes());
    assert_eq!(
        (status, answer.as_str()),
        (200, "pogchamp-kappa-360noscope-vohiyo")
    );
    let forged: Vec<(&str, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = if name.to_ascii_lowercase().ends_with("signature") {
                format!("sha256={}", "0".repeat(64))
            } else {
                value.clone()
            };
            (*name, value)
        })
        .collect();
    let (status, answer) = http_exchange(ingress.address, "POST", &forged, body.as_bytes());
    assert_eq!((status, answer.as_str()), (404, ""));
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn linear_documented_signatures_with_the_body_timestamp_through_the_binary() {
    exercise(documented("linear", true, |_, timestamp| {
        format!(
            r#"{{"action":"create","type":"Issue","webhookTimestamp":{},"n":1}}"#,
            timestamp * 1000
        )
    }))
    .await;
}

#[tokio::test]
async fn intercom_documented_signatures_through_the_binary() {
    exercise(documented("intercom", false, |id, _| {
        format!(r#"{{"id":"{id}","topic":"conversation.user.created","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn pagerduty_documented_signatures_through_the_binary() {
    exercise(documented("pagerduty", false, |id, _| {
        format!(r#"{{"event":{{"id":"{id}","event_type":"incident.triggered","n":1}}}}"#)
    }))
    .await;
}

#[tokio::test]
async fn typeform_documented_signatures_through_the_binary() {
    exercise(documented("typeform", false, |id, _| {
        format!(r#"{{"event_id":"{id}","event_type":"form_response","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn bitbucket_documented_signatures_through_the_binary() {
    exercise(documented("bitbucket", false, |_, _| {
        r#"{"push":{"changes":[]},"n":1}"#.to_owned()
    }))
    .await;
}

#[tokio::test]
async fn woocommerce_documented_signatures_through_the_binary() {
    exercise(documented("woocommerce", false, |_, _| {
        r#"{"id":1,"status":"processing"}"#.to_owned()
    }))
    .await;
}

#[tokio::test]
async fn razorpay_documented_signatures_through_the_binary() {
    exercise(documented("razorpay", false, |_, _| {
        r#"{"event":"payment.captured","n":1}"#.to_owned()
    }))
    .await;
}

#[tokio::test]
async fn square_documented_signatures_over_the_public_url_through_the_binary() {
    exercise(documented("square", false, |id, _| {
        format!(r#"{{"event_id":"{id}","type":"payment.created","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn gitlab_token_through_the_binary() {
    exercise(Provider {
        body_signed: false,
        ..documented("gitlab", false, |_, _| {
            r#"{"object_kind":"push","n":1}"#.to_owned()
        })
    })
    .await;
}

#[tokio::test]
async fn bearer_token_through_the_binary() {
    exercise(Provider {
        body_signed: false,
        env: &[
            ("SIGNATURE_HEADER", "Authorization"),
            ("SIGNATURE_PREFIX", "Bearer "),
            ("EVENT_ID_POINTER", "/id"),
        ],
        ..documented("token", false, |id, _| format!(r#"{{"id":"{id}","n":1}}"#))
    })
    .await;
}

#[tokio::test]
async fn basic_auth_through_the_binary() {
    exercise(Provider {
        old_secret: "hooks:old-password-0001",
        new_secret: "hooks:new-password-0002",
        body_signed: false,
        env: &[("EVENT_ID_POINTER", "/id")],
        ..documented("basic", false, |id, _| format!(r#"{{"id":"{id}","n":1}}"#))
    })
    .await;
}

#[tokio::test]
async fn twilio_sdk_signatures_over_the_public_url_and_form_through_the_binary() {
    exercise(Provider {
        signer: "twilio",
        ..documented("twilio", false, |id, _| {
            format!("MessageSid={id}&From=%2B15005550006&Body=Hello+1&NumMedia=0")
        })
    })
    .await;
}

/// The splice of a captured Twilio form request into a JSON body: an SMS the forger sent
/// (`hi?bodySHA256=<hex of any JSON>&y=`) makes Twilio sign
/// `{url}Bodyhi?bodySHA256=<hex>&y=From+15005550006MessageSidSM...`; re-sent as that JSON body with
/// the signed parameters moved into the request's path and query, a URL taken from the request
/// would sign the same string with the body's hash "in" it. `PUBLIC_URL` is `https://hooks.example.com/`
/// and the captured request goes to `/`, so the URL Twilio signed is the same under either reading.
#[tokio::test]
async fn a_captured_twilio_form_request_spliced_into_a_json_body_is_refused_through_the_binary() {
    let public_url = "https://hooks.example.com/";
    let token = "twilio-auth-token-0001";
    let stack = Stack::with_secret(token).await;
    let ingress = start_http_with(
        &stack,
        &[("SIGNATURE_SCHEME", "twilio"), ("PUBLIC_URL", public_url)],
    );
    let forged = br#"{"EventType":"onMessageAdded","Body":"forged"}"#;
    let hash = shared::event::sha256_hex(forged);
    let sms = format!("hi?bodySHA256={hash}&y=");
    let form = format!(
        "MessageSid=SMsplice1&From=%2B15005550006&Body={}",
        sms.replace('?', "%3F")
            .replace('=', "%3D")
            .replace('&', "%26")
    );
    // The captured request, signed by Twilio's own SDK (its RequestValidator checks it too).
    let root = repo_root();
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/signers/sign.py"))
        .args(["twilio", token, "--id", "SMsplice1", "--url", public_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run scripts/signers/sign.py (`make venv` installs the twilio package)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), form.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let signed: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&output.stdout).unwrap();
    let signature = signed["X-Twilio-Signature"].clone();
    let captured = [
        ("X-Twilio-Signature", signature.clone()),
        ("Content-Type", signed["Content-Type"].clone()),
        ("I-Twilio-Idempotency-Token", "SMsplice1".to_owned()),
    ];
    let (status, _) =
        crate::binary::http_exchange_at(ingress.address, "POST", "/", &captured, form.as_bytes());
    assert_eq!(status, 200, "the captured request itself");
    // The forgery: the signed string's tail after the URL, as the request's path and query.
    let spliced_target = format!("/Body{sms}From+15005550006MessageSidSMsplice1");
    let forgery = [
        ("X-Twilio-Signature", signature),
        ("Content-Type", "application/json".to_owned()),
        ("I-Twilio-Idempotency-Token", "SMforged1".to_owned()),
    ];
    for target in [spliced_target.as_str(), "/"] {
        let (status, _) =
            crate::binary::http_exchange_at(ingress.address, "POST", target, &forgery, forged);
        assert_eq!(status, 404, "the spliced JSON body sent to {target}");
    }
    // The form bytes sent as JSON, and the JSON sent as a form, are not what was signed either.
    let as_json = [
        captured[0].clone(),
        ("Content-Type", "application/json".to_owned()),
        captured[2].clone(),
    ];
    let (status, _) =
        crate::binary::http_exchange_at(ingress.address, "POST", "/", &as_json, form.as_bytes());
    assert_eq!(status, 404, "the captured form labelled JSON");
    let ids: Vec<String> = stack
        .drain(&stack.queue_url)
        .await
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["SMsplice1"], "only the authentic request is queued");
    assert_eq!(stack.row_count().await, 1);
}

/// A Mailgun body signed by Mailgun's documented rule (sign.py builds the whole body).
fn mailgun_body(secret: &str, id: &str, timestamp: i64) -> String {
    let event_data = format!(r#"{{"id":"{id}","event":"delivered","n":1}}"#);
    let signed = sdk_headers("mailgun", secret, id, timestamp, event_data.as_bytes());
    signed
        .into_iter()
        .find(|(name, _)| name == "body")
        .map(|(_, body)| body)
        .unwrap()
}

#[tokio::test]
async fn mailgun_body_signatures_through_the_binary() {
    let (old, new) = ("mailgun-key-old-0001", "mailgun-key-new-0002");
    let stack = Stack::with_secret(old).await;
    let ingress = start_http_with(&stack, &[("SIGNATURE_SCHEME", "mailgun")]);
    let now = now_millis() / 1000;
    let send = |body: &str| http_exchange(ingress.address, "POST", &[], body.as_bytes()).0;
    let valid = mailgun_body(old, "evt_valid_1", now);
    assert_eq!(send(&valid), 200, "valid");
    assert_eq!(send(&valid), 200, "duplicate");
    // The signature does not cover `event-data`: the same signed token with another event is
    // refused (the token was spent by the first body), whatever its event id.
    let replayed = valid.replace("evt_valid_1", "evt_replayed_1");
    assert_ne!(replayed, valid);
    assert_eq!(
        send(&replayed),
        404,
        "the token again with other event-data"
    );
    let reworded = valid.replace("delivered", "failed");
    assert_eq!(
        send(&reworded),
        404,
        "the token again with the same id, another event"
    );
    assert_eq!(send(&valid), 200, "the first body still a duplicate");
    assert_eq!(
        // The signature covers the timestamp and token only (not `event-data`): change the time.
        send(
            &mailgun_body(old, "evt_tampered_1", now)
                .replace(&format!("\"{now}\""), &format!("\"{}\"", now + 1))
        ),
        404,
        "forged"
    );
    assert_eq!(
        send(&mailgun_body(new, "evt_wrong_1", now)),
        404,
        "wrong key"
    );
    assert_eq!(
        send(&mailgun_body(old, "evt_stale_1", now - 400)),
        404,
        "stale"
    );
    assert_eq!(
        send(&mailgun_body(old, "evt_future_1", now + 400)),
        404,
        "future"
    );
    assert_eq!(
        send(r#"{"event-data":{"id":"evt_unsigned_1"}}"#),
        404,
        "unsigned"
    );
    let ids: Vec<String> = stack
        .drain(&stack.queue_url)
        .await
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["evt_valid_1"]);
    // One event row and one spent token (which expires with the window).
    let rows = stack.all_rows().await;
    let keys: std::collections::BTreeSet<String> = rows
        .iter()
        .filter_map(|row| e2e::testing::s(row, "id"))
        .collect();
    let token_keys: Vec<&String> = keys
        .iter()
        .filter(|k| k.contains(":mailgun-token#"))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(token_keys.len(), 1, "{keys:?}");
    let token_row = rows
        .iter()
        .find(|row| e2e::testing::s(row, "id").as_ref() == Some(token_keys[0]))
        .unwrap();
    assert_eq!(
        e2e::testing::n(token_row, "expires_at"),
        Some(now + 120),
        "the token's record lives as long as mailgun's default window"
    );
}

/// Private keys (hex) of the asymmetric providers' tests and their public keys, as
/// `scripts/signers/sign.py SCHEME KEY --public-key` prints them.
const PRIVATE_OLD: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const PRIVATE_NEW: &str = "0202020202020202020202020202020202020202020202020202020202020202";

#[tokio::test]
async fn discord_pynacl_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "discord",
        signer: "discord",
        old_secret: PRIVATE_OLD,
        new_secret: PRIVATE_NEW,
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: Some((
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
            "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
        )),
        body: |id, _| format!(r#"{{"id":"{id}","type":2,"data":{{"name":"ping","n":1}}}}"#),
    })
    .await;
}

#[tokio::test]
async fn discord_ping_is_answered_with_type_1_as_json_and_nothing_is_queued() {
    let stack =
        Stack::with_secret("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c")
            .await;
    let ingress = start_http_with(&stack, &[("SIGNATURE_SCHEME", "discord")]);
    let body = r#"{"id":"1234","type":1,"application_id":"5678"}"#;
    let headers = sdk_headers(
        "discord",
        PRIVATE_OLD,
        "",
        now_millis() / 1000,
        body.as_bytes(),
    );
    let headers: Vec<(&str, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    let mut stream = std::net::TcpStream::connect(ingress.address).unwrap();
    let mut head = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    std::io::Write::write_all(&mut stream, body.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{response}"
    );
    assert!(response.ends_with(r#"{"type":1}"#), "{response}");
    let (status, _) = http_exchange(
        ingress.address,
        "POST",
        &[("X-Signature-Ed25519", "00".repeat(64)), headers[1].clone()],
        body.as_bytes(),
    );
    assert_eq!(status, 404, "a forged PING");
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
}

#[tokio::test]
async fn sendgrid_signatures_its_sdk_accepts_through_the_binary() {
    exercise(Provider {
        scheme: "sendgrid",
        signer: "sendgrid",
        old_secret: PRIVATE_OLD,
        new_secret: PRIVATE_NEW,
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: Some((
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb/A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY8T3U6Vb8B3FP2wLDH7ueLQMb/fSWpbiKCuYnO9xwUSg==",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVQ9HEAPz35fD31Bqx5f2ch+xoft7j2+D0iRJimXIjiQTYJPXAS5QmnNxXL0LAKPMD/S1wBs/+hlqsfsycDa45g==",
        )),
        body: |id, _| format!(r#"[{{"sg_event_id":"{id}","event":"delivered","n":1}}]"#),
    })
    .await;
}

#[tokio::test]
async fn standard_webhooks_v1a_ed25519_signatures_through_the_binary() {
    exercise(Provider {
        scheme: "standard-webhooks",
        signer: "standard-webhooks-v1a",
        old_secret: PRIVATE_OLD,
        new_secret: PRIVATE_NEW,
        timestamped: true,
        body_signed: true,
        env: &[],
        public_keys: Some((
            "whpk_iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=",
            "whpk_gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q=",
        )),
        body: |_, _| r#"{"type":"invoice.paid","data":{"n":1}}"#.to_owned(),
    })
    .await;
}

/// The worked examples of docs/custom-schemes.md, as a user configures them: each provider's
/// `SIGNATURE_SPEC` under `SIGNATURE_SCHEME=custom`, signed by sign.py from the provider's
/// documented rule (Python's `hmac`).
fn custom(
    signer: &'static str,
    spec: &'static str,
    timestamped: bool,
    body: fn(&str, i64) -> String,
) -> Provider {
    // One small leak per test: `Provider` holds its settings for the whole test.
    let env = Box::leak(vec![("SIGNATURE_SPEC", spec)].into_boxed_slice());
    Provider {
        scheme: "custom",
        env,
        ..documented(signer, timestamped, body)
    }
}

#[tokio::test]
async fn custom_scheme_mux_spec_through_the_binary() {
    let spec = r#"{"algorithm": "sha256", "encoding": "hex", "header": "Mux-Signature",
        "format": {"style": "keyed", "separator": ",", "timestamp_key": "t", "signature_key": "v1"},
        "signed": ["timestamp", {"literal": "."}, "body"],
        "timestamp": {"from_signature": true, "unit": "seconds"},
        "event_id": [{"pointer": "/id"}], "event_type": [{"pointer": "/type"}]}"#;
    exercise(custom("mux", spec, true, |id, _| {
        format!(r#"{{"type":"video.asset.ready","id":"{id}","n":1}}"#)
    }))
    .await;
}

#[tokio::test]
async fn custom_scheme_sentry_spec_through_the_binary() {
    let spec = r#"{"algorithm": "sha256", "encoding": "hex", "header": "Sentry-Hook-Signature",
        "signed": ["body"], "event_id": [{"header": "Request-ID"}],
        "event_type": [{"header": "Sentry-Hook-Resource"}]}"#;
    exercise(custom("sentry", spec, false, |_, _| {
        r#"{"action":"created","data":{"issue":{"id":"1170820242"}}}"#.to_owned()
    }))
    .await;
}

#[tokio::test]
async fn custom_scheme_vercel_spec_through_the_binary() {
    let spec = r#"{"algorithm": "sha1", "encoding": "hex", "header": "x-vercel-signature",
        "signed": ["body"], "json_body": true,
        "event_id": [{"pointer": "/id"}], "event_type": [{"pointer": "/type"}]}"#;
    exercise(custom("vercel", spec, false, |id, _| {
        format!(r#"{{"id":"{id}","type":"deployment.created","n":1}}"#)
    }))
    .await;
}
