//! Property tests over everything that reads attacker-controlled bytes before (or while) deciding
//! whether a request is authentic: every header parser, signature verification, the event id and
//! type extraction, and the base64 rule of the message body. None may panic, and what they accept
//! must be exactly what was signed. And, on realistic samples from the test-kit, the per-webhook
//! write units the size model pins (docs/COST.md is computed from them) and the codec's round trip.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use shared::config::EventIdRule;
use shared::event::{event_id, event_type, sha256_hex, AcceptedEvent, LazyJson, MAX_EVENT_ID_LEN};
use shared::message::{decode_body, sqs_safe_text, DeliveredBy, OutgoingMessage};
use shared::signature::parsers;
use shared::signature::{
    GenericHmac, Rejection, SignatureEncoding, SignatureScheme, SigningKey, SigningKeys,
};

const NOW: i64 = 1_700_000_000;

fn schemes() -> Vec<SignatureScheme> {
    vec![
        SignatureScheme::StandardWebhooks,
        SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-signature"),
            encoding: SignatureEncoding::Base64,
            prefix: "sha256=".to_owned(),
        }),
        SignatureScheme::Stripe,
        SignatureScheme::GitHub,
        SignatureScheme::Shopify,
        SignatureScheme::Slack,
    ]
}

fn scheme() -> impl Strategy<Value = SignatureScheme> {
    proptest::sample::select(schemes())
}

fn tag() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

/// Header-ish text: printable ASCII with the separators the parsers split on, often.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,300}",
        "(t=[0-9]{0,12}|v1=[0-9a-f]{0,70}|v0=[0-9a-f]{0,64}|v1,[A-Za-z0-9+/=]{0,50}|sha256=[0-9a-fA-F]{0,66}|[,= ]){0,12}",
        any::<String>(),
    ]
}

fn headers_of(signed: Vec<(HeaderName, String)>) -> HeaderMap {
    signed
        .into_iter()
        .map(|(name, value)| (name, HeaderValue::from_str(&value).expect("signed header")))
        .collect()
}

fn assert_usable(text: &str) {
    assert!(
        !text.is_empty() && text.len() <= MAX_EVENT_ID_LEN,
        "{text:?}"
    );
    assert!(sqs_safe_text(text.as_bytes()).is_some(), "{text:?}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_parsers_never_panic_and_only_yield_sha256_tags(text in header_text()) {
        // The parsers yield `Tag`s, 32-byte arrays by their type: what is left is not panicking.
        let _ = parsers::standard_webhooks(&text);
        if let Ok(parsed) = parsers::stripe(&text) {
            prop_assert!(!parsed.signatures.is_empty());
            prop_assert!(parsed.timestamp.secs >= 0);
        }
        let _ = (parsers::github(&text), parsers::shopify(&text), parsers::slack(&text));
        if let Some(timestamp) = parsers::timestamp(&text) {
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit()));
            let printed = timestamp.secs.to_string();
            prop_assert_eq!(printed.trim_start_matches('0'), text.trim_start_matches('0'));
        }
        for scheme in schemes() {
            if let SignatureScheme::HmacSha256(generic) = scheme {
                let _ = generic.parse_header(&text);
            }
        }
    }

    #[test]
    fn header_parsers_read_back_what_was_written(tag in tag(), other in tag(), secs in 0_i64..100_000_000_000) {
        let hex = hex::encode(tag);
        let b64 = BASE64.encode(tag);
        prop_assert_eq!(parsers::github(&format!("sha256={hex}")), Some(tag));
        prop_assert_eq!(parsers::slack(&format!("v0={}", hex.to_uppercase())), Some(tag));
        prop_assert_eq!(parsers::shopify(&b64), Some(tag));
        let entries = format!("v2,{} v1,{b64} v1,AAAA", BASE64.encode(other));
        prop_assert_eq!(parsers::standard_webhooks(&entries), vec![tag]);
        let stripe = format!("t={secs}, v0={}, v1={hex},v1={}", hex::encode(other), hex::encode(other));
        let parsed = parsers::stripe(&stripe).unwrap();
        prop_assert_eq!(parsed.timestamp.secs, secs);
        prop_assert_eq!(parsed.signatures, vec![tag, other]);
        let twice = format!("t={secs},t={secs},v1={hex}");
        prop_assert_eq!(parsers::stripe(&twice), Err(Rejection::Malformed("stripe-signature")));
    }

    #[test]
    fn every_scheme_verifies_what_it_signed_and_nothing_else(
        scheme in scheme(),
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        other_secret in proptest::collection::vec(any::<u8>(), 1..64),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<proptest::sample::Index>(),
        skew in -300_i64..=300,
        id in "[A-Za-z0-9_-]{1,40}",
    ) {
        prop_assume!(secret != other_secret);
        let keys = SigningKeys::new(vec![SigningKey::from_bytes(secret)]);
        let key = keys.first().unwrap();
        let headers = headers_of(scheme.sign(key, &id, NOW + skew, &body));
        prop_assert!(scheme.verify(&headers, &body, &keys, NOW, 300).is_ok());

        let wrong = SigningKeys::new(vec![SigningKey::from_bytes(other_secret)]);
        prop_assert_eq!(scheme.verify(&headers, &body, &wrong, NOW, 300), Err(Rejection::NoMatch));
        if !body.is_empty() {
            let mut tampered = body.clone();
            let at = flip.index(tampered.len());
            tampered[at] ^= 0x01;
            prop_assert_eq!(scheme.verify(&headers, &tampered, &keys, NOW, 300), Err(Rejection::NoMatch));
        }
    }

    #[test]
    fn timestamped_schemes_refuse_outside_the_window_both_ways(
        scheme in proptest::sample::select(vec![SignatureScheme::StandardWebhooks, SignatureScheme::Stripe, SignatureScheme::Slack]),
        beyond in 301_i64..1_000_000,
        future in any::<bool>(),
    ) {
        let keys = SigningKeys::new(vec![SigningKey::from_bytes(b"secret".to_vec())]);
        let at = if future { NOW + beyond } else { NOW - beyond };
        let headers = headers_of(scheme.sign(keys.first().unwrap(), "msg_1", at, b"{}"));
        prop_assert_eq!(scheme.verify(&headers, b"{}", &keys, NOW, 300), Err(Rejection::StaleTimestamp));
    }

    #[test]
    fn verification_of_arbitrary_headers_never_panics(
        scheme in scheme(),
        values in proptest::collection::vec(header_text(), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let names = [
            "webhook-id", "webhook-timestamp", "webhook-signature", "x-signature", "stripe-signature",
            "x-hub-signature-256", "x-shopify-hmac-sha256", "x-slack-signature", "x-slack-request-timestamp",
        ];
        let mut headers = HeaderMap::new();
        for (index, value) in values.iter().enumerate() {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(names[index % names.len()], value);
            }
        }
        let keys = SigningKeys::new(vec![SigningKey::from_bytes(b"secret".to_vec())]);
        // Forging a valid HMAC by chance is not a property that could fail in practice.
        prop_assert!(scheme.verify(&headers, &body, &keys, NOW, 300).is_err());
    }

    #[test]
    fn event_ids_and_types_are_always_usable_and_fall_back_to_the_body_hash(
        scheme in scheme(),
        given in prop_oneof![any::<String>(), "[ -~]{0,300}", Just(String::new()), "\\PC{250,300}"],
        in_header in any::<bool>(),
    ) {
        let mut body_json = serde_json::json!({"id": given, "event_id": given, "type": given, "event": {"type": given}});
        if in_header {
            body_json["id"] = serde_json::Value::Null;
        }
        let body = serde_json::to_vec(&body_json).unwrap();
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&given) {
            for name in ["webhook-id", "x-github-delivery", "x-shopify-webhook-id", "x-github-event", "x-shopify-topic", "x-event-id"] {
                headers.insert(name, value.clone());
            }
        }
        let rule = EventIdRule {
            header: Some(HeaderName::from_static("x-event-id")),
            pointer: Some("/id".to_owned()),
            type_pointer: None,
        };
        let json = LazyJson::default();
        let id = event_id(&scheme, &rule, &headers, &body, &json);
        assert_usable(&id.value);
        if let Some(unusable) = &id.unusable {
            // A 64-hex hash stands for it: the body's (empty id) or the id's own.
            if unusable.reason == shared::event::EventIdError::Empty {
                prop_assert_eq!(&id.value, &sha256_hex(&body));
            }
            prop_assert_eq!(id.value.len(), 64);
            prop_assert!(id.value.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert!(!unusable.escaped_prefix.chars().any(char::is_control));
        }
        let kind = event_type(&scheme, &rule, &headers, &body, &json);
        if let Some(kind) = &kind {
            assert_usable(kind);
        }

        // Whatever was derived can go on the queue: every attribute is text SQS accepts.
        let event = AcceptedEvent::new("source", id.value, kind, Bytes::from(body), 0);
        let message = OutgoingMessage::for_event(&event, DeliveredBy::Ingress);
        for (_, value) in &message.attributes {
            prop_assert!(sqs_safe_text(value.as_bytes()).is_some(), "{:?}", value);
        }
    }

    #[test]
    fn the_base64_rule_keeps_every_body_byte_exact(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        any::<String>().prop_map(String::into_bytes),
    ]) {
        let event = AcceptedEvent::new("source", "id".to_owned(), None, Bytes::from(body.clone()), 0);
        let message = OutgoingMessage::for_event(&event, DeliveredBy::Ingress);
        let encoding = message
            .attributes
            .iter()
            .find(|(name, _)| *name == "body-encoding")
            .map(|(_, value)| value.as_str());
        let expected = if body.is_empty() {
            Some("empty")
        } else {
            sqs_safe_text(&body).is_none().then_some("base64")
        };
        prop_assert_eq!(encoding, expected);
        // Whatever the body, the message is one SQS accepts: non-empty text of allowed characters.
        prop_assert!(sqs_safe_text(message.body.as_bytes()).is_some());
        prop_assert_eq!(decode_body(&message.body, encoding).unwrap(), body);
    }
}

/// The units the outbox's real items cost, pinned: a change to what a row holds changes these
/// figures, and docs/COST.md is computed from them.
mod pinned {
    use e2e::samples::{
        legacy_pending_item, sample_event, stripe_invoice_event, with_long_names, Layout, Provider,
    };
    use shared::aws::dynamodb::item_size::{item_size, put, update, Item};
    use shared::aws::dynamodb::{after_sent, pending_item, sent_changes, UNSENT_INDEX_KEYS};
    use shared::event::shard_of;
    use shared::message::DeliveredBy;

    const SIZES: [usize; 4] = [1024, 2048, 8192, 32768];
    const SEEDS: u64 = 3;

    /// (PutItem table, PutItem index, UpdateItem table, UpdateItem index) for one event's usual life.
    fn life(pending: &Item) -> (u64, u64, u64, u64) {
        let changes = sent_changes(
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            DeliveredBy::Ingress,
            1_764_400_100_000,
            std::time::Duration::from_secs(14 * 86_400),
        );
        let sent = after_sent(pending, &changes);
        let put = put(pending, &UNSENT_INDEX_KEYS);
        let update = update(pending, &sent, &UNSENT_INDEX_KEYS);
        (put.table, put.index, update.table, update.index)
    }

    /// How each provider really sends its JSON: Stripe pretty-printed, GitHub and Shopify compact.
    const NATIVE: [(Provider, Layout); 3] = [
        (Provider::Stripe, Layout::Pretty),
        (Provider::GitHub, Layout::Compact),
        (Provider::Shopify, Layout::Compact),
    ];

    fn every_shape() -> Vec<(Provider, Layout)> {
        Provider::ALL
            .iter()
            .flat_map(|p| Layout::ALL.iter().map(move |l| (*p, *l)))
            .collect()
    }

    type Life = (u64, u64, u64, u64);

    /// The costliest life over `shapes` and a few seeds at each size.
    fn worst(
        shapes: &[(Provider, Layout)],
        build: impl Fn(&shared::event::AcceptedEvent, u16) -> Item,
    ) -> Vec<(usize, Life)> {
        let total = |l: Life| l.0 + l.1 + l.2 + l.3;
        SIZES
            .iter()
            .map(|&size| {
                let mut worst = (0, 0, 0, 0);
                for &(provider, layout) in shapes {
                    for seed in 0..SEEDS {
                        let event = sample_event(provider, layout, size, seed);
                        let units = life(&build(&event, shard_of(&event.key, 8)));
                        if total(units) > total(worst) {
                            worst = units;
                        }
                    }
                }
                (size, worst)
            })
            .collect()
    }

    #[test]
    fn write_units_per_webhook_of_the_legacy_row_layout() {
        let expected = vec![
            (1024, (2, 1, 2, 1)),
            (2048, (3, 1, 3, 1)),
            (8192, (9, 1, 9, 1)),
            (32768, (33, 1, 33, 1)),
        ];
        assert_eq!(worst(&every_shape(), legacy_pending_item), expected);
    }

    #[test]
    fn write_units_per_webhook_now() {
        let native = vec![
            (1024, (1, 1, 1, 1)),
            (2048, (1, 1, 1, 1)),
            (8192, (3, 1, 3, 1)),
            (32768, (8, 1, 8, 1)),
        ];
        assert_eq!(worst(&NATIVE, pending_item), native);
        // Compact JSON as dense in random ids as Stripe's: its sent row was just over a KiB at
        // 2 KB until the row's names were shortened.
        let densest = vec![
            (1024, (1, 1, 1, 1)),
            (2048, (1, 1, 1, 1)),
            (8192, (3, 1, 3, 1)),
            (32768, (8, 1, 8, 1)),
        ];
        assert_eq!(worst(&every_shape(), pending_item), densest);
    }

    #[test]
    fn a_body_in_s3_costs_the_row_4_write_units_whatever_its_size() {
        // The S3 claim check: the row holds a pointer (bucket, key, size, hash), never the body.
        for size in [400 * 1024, 6 * 1024 * 1024] {
            let event = sample_event(Provider::Stripe, Layout::Pretty, 1024, 0);
            let pointer = shared::large_body::BodyPointer {
                bucket: "webhook-marketplace-body-20261129000000000000000001".into(),
                key: shared::large_body::object_key("bodies/", &event.key, &event.body_sha256),
                size,
            };
            let row = pending_item(&event.with_claim_check(pointer), 3);
            assert!(!row.contains_key("body"));
            assert_eq!(life(&row), (1, 1, 1, 1), "{size}");
        }
    }

    #[test]
    fn a_2_kb_stripe_invoice_event_costs_4_write_units_where_it_cost_5() {
        // A 2.1 KB `invoice.payment_succeeded` with six lines, spaced JSON, random 24-character
        // ids: under the names the release before wrote, its sent row was up to 1,059 bytes.
        let (mut largest_sent, mut largest_before) = (0, 0);
        for seed in 0..50 {
            let event = stripe_invoice_event(seed);
            assert!(
                (2000..2200).contains(&event.body.len()),
                "{}",
                event.body.len()
            );
            let pending = pending_item(&event, shard_of(&event.key, 8));
            let changes = sent_changes(
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                DeliveredBy::Ingress,
                event.received_at + 40,
                std::time::Duration::from_secs(14 * 86_400),
            );
            let sent = after_sent(&pending, &changes);
            assert!(
                item_size(&pending) <= 1024 && item_size(&sent) <= 1024,
                "seed {seed}"
            );
            assert_eq!(life(&pending), (1, 1, 1, 1), "seed {seed}");
            largest_sent = largest_sent.max(item_size(&sent));
            // The same row under the names the release before wrote crossed the unit.
            let (pending_before, sent_before) = (with_long_names(&pending), with_long_names(&sent));
            assert_eq!(
                update(&pending_before, &sent_before, &UNSENT_INDEX_KEYS).table,
                2
            );
            largest_before = largest_before.max(item_size(&sent_before));
            // What the names saved: the message id's 16 bytes against its 36 characters, no
            // `delivered_by` for the ingress, and shorter names.
            assert_eq!(item_size(&sent_before) - item_size(&sent), 51);
        }
        assert_eq!((largest_before, largest_sent), (1059, 1008));
    }

    #[test]
    fn a_2_kb_json_webhook_costs_at_most_4_write_units() {
        let (_, (put, put_index, update, update_index)) = worst(&NATIVE, pending_item)[1];
        assert!(put + put_index + update + update_index <= 4);
    }
}

/// Every realistic sample survives the outbox's compression byte for byte.
mod codec_round_trip {
    use e2e::samples::{webhook, Layout, Provider};
    use shared::codec::{compress, decode, Codec};

    #[test]
    fn every_sample_round_trips_byte_for_byte() {
        for provider in Provider::ALL {
            for layout in Layout::ALL {
                for size in [300, 2048, 32768] {
                    let body = webhook(provider, layout, size, 7);
                    let stored = compress(Codec::ZstdD1, &body).expect("compresses");
                    assert!(stored.len() < body.len());
                    let decoded = decode(Some("zstd-d1"), &stored).expect("decodes");
                    assert_eq!(decoded, body);
                }
            }
        }
    }
}
