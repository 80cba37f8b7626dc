//! What an accepted webhook becomes: its event id, outbox key, body hash,
//! event type and pending-index shard.

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use crate::large_body::BodyPointer;
pub use crate::primitives::{outbox_key, sha256_hex, LazyJson};
use crate::routes::Destination;
use crate::signature::{Field, SignatureScheme};
use crate::time::EpochMillis;

/// Longest event id kept as given; DynamoDB keys and SQS attributes take far more, but an id this
/// long is not one a provider assigns.
pub const MAX_EVENT_ID_LEN: usize = 256;

/// The provider's id for an event could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventIdError {
    #[error("the event id is empty")]
    Empty,
    #[error("the event id is longer than {MAX_EVENT_ID_LEN} bytes")]
    TooLong,
    #[error("the event id contains control characters or characters SQS refuses")]
    ControlCharacters,
}

/// Where the event id comes from when the scheme does not define it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventIdRule {
    pub header: Option<HeaderName>,
    pub pointer: Option<String>,
    pub type_pointer: Option<String>,
}

/// The event id an accepted webhook is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    /// The provider's id; the SHA-256 of that id when it cannot be a key; the body's SHA-256 when
    /// it gave none (or an empty one).
    pub value: String,
    /// Why the provider's id was set aside, when it was: the event is still accepted, keyed by a hash.
    pub unusable: Option<UnusableId>,
}

/// A provider id that cannot be a key or an attribute, described without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableId {
    pub reason: EventIdError,
    /// Its length in bytes.
    pub len: usize,
    /// At most its first 64 characters with control characters escaped, so a log line can show it
    /// without carrying raw control bytes.
    pub escaped_prefix: String,
}

/// The event id: the scheme's own id header, then the configured header, then the configured JSON
/// pointer into the body; failing all of those (or given an empty one, which names nothing) the
/// body's SHA-256, so that an identical retry of an id-less webhook is still recognised as a
/// duplicate. An id that cannot be a key (too long, control characters) is replaced by its own
/// SHA-256: refusing an authentic event would lose it, and the body's hash would merge distinct
/// events sharing a body, while a retry keeps its id and so its key.
pub fn event_id(
    scheme: &SignatureScheme,
    rule: &EventIdRule,
    headers: &HeaderMap,
    body: &[u8],
    json: &LazyJson,
) -> EventId {
    let given = first_present(scheme.event_id_fields(), headers, body, json)
        .or_else(|| {
            rule.header
                .as_ref()
                .and_then(|name| header_text(headers, name.as_str()))
        })
        .or_else(|| {
            rule.pointer
                .as_deref()
                .and_then(|pointer| json.scalar_at(body, pointer))
        });
    let Some(id) = given else {
        return EventId {
            value: sha256_hex(body),
            unusable: None,
        };
    };
    let Err(reason) = validate(&id) else {
        return EventId {
            value: id,
            unusable: None,
        };
    };
    let value = match reason {
        EventIdError::Empty => sha256_hex(body),
        EventIdError::TooLong | EventIdError::ControlCharacters => sha256_hex(id.as_bytes()),
    };
    EventId {
        value,
        unusable: Some(UnusableId {
            reason,
            len: id.len(),
            escaped_prefix: id.chars().take(64).flat_map(char::escape_debug).collect(),
        }),
    }
}

fn validate(id: &str) -> Result<(), EventIdError> {
    if id.is_empty() {
        Err(EventIdError::Empty)
    } else if id.len() > MAX_EVENT_ID_LEN {
        Err(EventIdError::TooLong)
    } else if id
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        Err(EventIdError::ControlCharacters)
    } else {
        Ok(())
    }
}

/// The event type when known: `EVENT_TYPE_POINTER` when set, else where the provider puts it (the
/// body's `type` for Standard Webhooks and Stripe, a header for GitHub and Shopify, `event.type` or
/// `type` for Slack). A value that could not be an attribute is left out.
pub fn event_type(
    scheme: &SignatureScheme,
    rule: &EventIdRule,
    headers: &HeaderMap,
    body: &[u8],
    json: &LazyJson,
) -> Option<String> {
    let found = match rule.type_pointer.as_deref() {
        Some(pointer) => json.scalar_at(body, pointer),
        None => first_present(scheme.event_type_fields(), headers, body, json),
    }?;
    validate(&found).is_ok().then_some(found)
}

/// The first of `fields` present in the request.
fn first_present(
    fields: &[Field],
    headers: &HeaderMap,
    body: &[u8],
    json: &LazyJson,
) -> Option<String> {
    fields.iter().find_map(|field| match field {
        Field::Header(name) => header_text(headers, name),
        Field::Pointer(pointer) => json.scalar_at(body, pointer),
    })
}

/// A header's trimmed text; headers that are not text count as absent.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_owned())
}

/// The pending-index shard of a key: stable, so every delivery of an event lands on the same one.
pub fn shard_of(key: &str, shards: u16) -> u16 {
    let digest = Sha256::digest(key.as_bytes());
    let prefix = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    u16::try_from(prefix % u32::from(shards.max(1))).unwrap_or(0)
}

/// An accepted webhook, ready for the outbox and the queue. Its `Debug` shows the body's size and
/// hash, never its bytes (a body may carry personal data or, for some providers, a secret).
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptedEvent {
    pub key: String,
    pub source: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub body: Bytes,
    pub body_sha256: String,
    pub received_at: EpochMillis,
    /// Where it goes: a routed queue (`ROUTES`) or the default one, and its FIFO group.
    pub destination: Destination,
    /// Where the body lives when it is too large for the row and the message (the S3 claim
    /// check): the row and the messages carry this pointer instead of the body. A row read
    /// back with a pointer has an empty `body` (nothing reads S3 to re-send it).
    pub claim_check: Option<Box<BodyPointer>>,
    /// Set on a second body received under an event id whose row holds another body: the first
    /// body's SHA-256. Such a body is kept under its own key ([`AcceptedEvent::conflicting`]) and
    /// sent like a new event, marked so the workers can tell it from a duplicate.
    pub id_conflict_of: Option<String>,
}

impl std::fmt::Debug for AcceptedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedEvent")
            .field("key", &self.key)
            .field("source", &self.source)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("body_sha256", &self.body_sha256)
            .field("received_at", &self.received_at)
            .field("destination", &self.destination)
            .field("claim_check", &self.claim_check)
            .field("id_conflict_of", &self.id_conflict_of)
            .finish()
    }
}

impl AcceptedEvent {
    pub fn new(
        source: &str,
        event_id: String,
        event_type: Option<String>,
        body: Bytes,
        received_at: EpochMillis,
    ) -> Self {
        Self {
            key: outbox_key(source, &event_id),
            source: source.to_owned(),
            event_id,
            event_type,
            body_sha256: sha256_hex(&body),
            body,
            received_at,
            destination: Destination::default(),
            claim_check: None,
            id_conflict_of: None,
        }
    }

    /// This body kept beside another one found under its key (`first_sha256`, the body of the
    /// first row written for the id): keyed `{key}#{body SHA-256}`, so a retry of this body finds
    /// its own row and is an ordinary duplicate, and two bodies never share a key.
    pub fn conflicting(self, first_sha256: &str) -> Self {
        Self {
            key: format!("{}#{}", self.key, self.body_sha256),
            id_conflict_of: Some(
                self.id_conflict_of
                    .unwrap_or_else(|| first_sha256.to_owned()),
            ),
            ..self
        }
    }

    /// The same event with its body stored in S3 at `pointer`.
    pub fn with_claim_check(self, pointer: BodyPointer) -> Self {
        Self {
            claim_check: Some(Box::new(pointer)),
            ..self
        }
    }

    /// The same event sent to `destination` instead of the default queue.
    pub fn routed_to(self, destination: Destination) -> Self {
        Self {
            destination,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use super::*;
    use crate::signature::{GenericHmac, SignatureEncoding};

    fn generic() -> SignatureScheme {
        SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-signature"),
            encoding: SignatureEncoding::Hex,
            prefix: String::new(),
        })
    }

    fn id(
        scheme: &SignatureScheme,
        rule: &EventIdRule,
        headers: &HeaderMap,
        body: &[u8],
    ) -> String {
        event_id(scheme, rule, headers, body, &LazyJson::default()).value
    }

    #[test]
    fn a_gitlab_resend_keeps_its_event_id_and_an_older_gitlab_falls_back_to_the_uuid() {
        let delivery = |uuid: &str, key: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.insert("x-gitlab-event-uuid", uuid.parse().unwrap());
            if let Some(key) = key {
                headers.insert("idempotency-key", key.parse().unwrap());
            }
            id(
                &SignatureScheme::GitLab,
                &EventIdRule::default(),
                &headers,
                b"{}",
            )
        };
        let first = delivery("uuid-first", Some("key-1"));
        assert_eq!(first, delivery("uuid-of-the-resend", Some("key-1")));
        assert_eq!(first, "key-1");
        assert_eq!(delivery("uuid-only", None), "uuid-only");
    }

    #[test]
    fn standard_webhooks_uses_the_webhook_id_header() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", "msg_123".parse().unwrap());
        let rule = EventIdRule {
            pointer: Some("/id".into()),
            ..Default::default()
        };
        assert_eq!(
            id(
                &SignatureScheme::StandardWebhooks,
                &rule,
                &headers,
                br#"{"id":"other"}"#
            ),
            "msg_123"
        );
    }

    #[test]
    fn configured_header_wins_over_the_pointer() {
        let mut headers = HeaderMap::new();
        headers.insert("x-event-id", " evt-1 ".parse().unwrap());
        let rule = EventIdRule {
            header: Some(HeaderName::from_static("x-event-id")),
            pointer: Some("/id".into()),
            type_pointer: None,
        };
        assert_eq!(
            id(&generic(), &rule, &headers, br#"{"id":"evt-2"}"#),
            "evt-1"
        );
    }

    #[test]
    fn pointer_reads_strings_and_numbers_from_the_body() {
        let rule = EventIdRule {
            pointer: Some("/data/id".into()),
            ..Default::default()
        };
        let headers = HeaderMap::new();
        assert_eq!(
            id(&generic(), &rule, &headers, br#"{"data":{"id":"p-9"}}"#),
            "p-9"
        );
        assert_eq!(
            id(&generic(), &rule, &headers, br#"{"data":{"id":42}}"#),
            "42"
        );
    }

    #[test]
    fn without_any_id_the_body_hash_is_used_so_retries_match() {
        let rule = EventIdRule {
            pointer: Some("/id".into()),
            ..Default::default()
        };
        let headers = HeaderMap::new();
        let body = b"not json at all";
        let first = id(&generic(), &rule, &headers, body);
        assert_eq!(first, sha256_hex(body));
        assert_eq!(first.len(), 64);
        assert_eq!(id(&generic(), &rule, &headers, body), first);
    }

    #[test]
    fn unusable_ids_are_keyed_by_their_own_hash_and_described_without_raw_bytes() {
        let rule = EventIdRule {
            pointer: Some("/id".into()),
            ..Default::default()
        };
        let headers = HeaderMap::new();
        let long_id = "x".repeat(300);
        let long = format!(r#"{{"id":"{long_id}"}}"#);
        let cases: [(&[u8], EventIdError, usize, String); 3] = [
            // An empty id names nothing: the body's hash, as for an absent one.
            (
                br#"{"id":""}"#,
                EventIdError::Empty,
                0,
                sha256_hex(br#"{"id":""}"#),
            ),
            (
                long.as_bytes(),
                EventIdError::TooLong,
                300,
                sha256_hex(long_id.as_bytes()),
            ),
            (
                br#"{"id":"a\nb\u001b"}"#,
                EventIdError::ControlCharacters,
                4,
                sha256_hex("a\nb\u{1b}".as_bytes()),
            ),
        ];
        for (body, reason, len, expected) in cases {
            let id = event_id(&generic(), &rule, &headers, body, &LazyJson::default());
            assert_eq!(id.value, expected, "{reason}");
            let unusable = id.unusable.expect("the id is reported unusable");
            assert_eq!((unusable.reason, unusable.len), (reason, len));
            assert!(unusable.escaped_prefix.chars().all(|c| !c.is_control()));
            assert!(unusable.escaped_prefix.chars().count() <= 64 * 10);
        }
        let usable = event_id(
            &generic(),
            &rule,
            &headers,
            br#"{"id":"ok"}"#,
            &LazyJson::default(),
        );
        assert_eq!(usable.unusable, None);
    }

    #[test]
    fn distinct_unusable_ids_with_one_body_stay_distinct_events() {
        let body = br#"{"type":"ping"}"#;
        let with_id = |id: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("webhook-id", id.parse().unwrap());
            id_of(&SignatureScheme::StandardWebhooks, &headers, body)
        };
        let first = with_id(&"a".repeat(300));
        let second = with_id(&"b".repeat(300));
        assert_ne!(first, second, "two events, two keys");
        assert_eq!(first, with_id(&"a".repeat(300)), "a retry keeps its key");
        assert_ne!(first, sha256_hex(body));
    }

    fn id_of(scheme: &SignatureScheme, headers: &HeaderMap, body: &[u8]) -> String {
        id(scheme, &EventIdRule::default(), headers, body)
    }

    #[test]
    fn numeric_ids_beyond_64_bits_keep_their_exact_digits() {
        let pointed = EventIdRule {
            pointer: Some("/id".into()),
            ..Default::default()
        };
        let headers = HeaderMap::new();
        let first = br#"{"id":123456789012345678901}"#;
        let second = br#"{"id":123456789012345678902}"#;
        assert_eq!(
            id(&generic(), &pointed, &headers, first),
            "123456789012345678901"
        );
        assert_eq!(
            id(&generic(), &pointed, &headers, second),
            "123456789012345678902"
        );
        assert_eq!(
            id_of(
                &SignatureScheme::Stripe,
                &headers,
                br#"{"id":98765432109876543210987}"#
            ),
            "98765432109876543210987"
        );
        // Within 64 bits nothing changes.
        assert_eq!(id(&generic(), &pointed, &headers, br#"{"id":-42}"#), "-42");
        assert_eq!(
            id(
                &generic(),
                &pointed,
                &headers,
                br#"{"id":18446744073709551615}"#
            ),
            "18446744073709551615"
        );
    }

    #[test]
    fn the_streaming_lookup_finds_what_a_parsed_document_finds() {
        let documents: [&[u8]; 9] = [
            br#"{"a":{"b":[1,"two",{"c":"three"}]},"a~b":"tilde","a/b":"slash","":"empty"}"#,
            br#"{"id":"first","id":"last"}"#,
            br#"{"k\u0065y":"escaped key","list":[[0],[1,[2,"deep"]]]}"#,
            br#"[10,"x",{"y":-3}]"#,
            br#"{"id":"x"} trailing"#,
            br#"{"id":"x""#,
            b"not json",
            br#""just a string""#,
            br#"{"n":null,"t":true,"f":1.5,"o":{}}"#,
        ];
        let pointers = [
            "",
            "/a/b/0",
            "/a/b/1",
            "/a/b/2/c",
            "/a/b/3",
            "/a~0b",
            "/a~1b",
            "/",
            "/id",
            "/key",
            "/list/1/1/1",
            "/list/01",
            "/0",
            "/1",
            "/2/y",
            "/n",
            "/t",
            "/o",
            "/a/b/+1",
            "no-slash",
        ];
        for document in documents {
            let parsed: Option<serde_json::Value> = serde_json::from_slice(document).ok();
            for pointer in pointers {
                let expected = parsed
                    .as_ref()
                    .and_then(|value| match value.pointer(pointer)? {
                        serde_json::Value::String(text) => Some(text.clone()),
                        serde_json::Value::Number(number) => Some(number.to_string()),
                        _ => None,
                    });
                let found = LazyJson::default().scalar_at(document, pointer);
                assert_eq!(
                    found,
                    expected,
                    "{pointer} in {}",
                    String::from_utf8_lossy(document)
                );
            }
        }
    }

    #[test]
    fn event_type_comes_from_the_body() {
        let json = LazyJson::default();
        let body = br#"{"type":"product.reviewed"}"#;
        assert_eq!(
            event_type(
                &SignatureScheme::StandardWebhooks,
                &EventIdRule::default(),
                &HeaderMap::new(),
                body,
                &json
            ),
            Some("product.reviewed".into())
        );
        assert_eq!(
            event_type(
                &generic(),
                &EventIdRule::default(),
                &HeaderMap::new(),
                body,
                &json
            ),
            None
        );
    }

    #[test]
    fn each_provider_scheme_finds_its_own_id_and_type() {
        let json_body = br#"{"id":"evt_1","event_id":"Ev1","type":"event_callback","event":{"type":"app_mention"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert("x-github-delivery", "72d3162e-cc78".parse().unwrap());
        headers.insert("x-github-event", "push".parse().unwrap());
        headers.insert("x-shopify-webhook-id", "b54557e4".parse().unwrap());
        headers.insert("x-shopify-topic", "orders/create".parse().unwrap());
        let rule = EventIdRule::default();
        let cases = [
            (SignatureScheme::Stripe, "evt_1", "event_callback"),
            (SignatureScheme::GitHub, "72d3162e-cc78", "push"),
            (SignatureScheme::Shopify, "b54557e4", "orders/create"),
            (SignatureScheme::Slack, "Ev1", "app_mention"),
        ];
        for (scheme, expected_id, expected_type) in cases {
            let json = LazyJson::default();
            assert_eq!(
                event_id(&scheme, &rule, &headers, json_body, &json).value,
                expected_id
            );
            assert_eq!(
                event_type(&scheme, &rule, &headers, json_body, &json).as_deref(),
                Some(expected_type)
            );
        }
        // Slack's url_verification and older payloads have only a top-level `type`.
        assert_eq!(
            event_type(
                &SignatureScheme::Slack,
                &rule,
                &headers,
                br#"{"type":"url_verification"}"#,
                &LazyJson::default()
            )
            .as_deref(),
            Some("url_verification")
        );
        // EVENT_TYPE_POINTER wins over the provider's place.
        let pointed = EventIdRule {
            type_pointer: Some("/event/type".into()),
            ..Default::default()
        };
        assert_eq!(
            event_type(
                &SignatureScheme::GitHub,
                &pointed,
                &headers,
                json_body,
                &LazyJson::default()
            )
            .as_deref(),
            Some("app_mention")
        );
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        for shards in [1_u16, 3, 8, 256] {
            for n in 0..200 {
                let key = format!("marketplace:evt-{n}");
                let shard = shard_of(&key, shards);
                assert!(shard < shards);
                assert_eq!(shard, shard_of(&key, shards));
            }
        }
        let used: std::collections::BTreeSet<u16> =
            (0..200).map(|n| shard_of(&format!("s:{n}"), 8)).collect();
        assert_eq!(used.len(), 8, "200 keys should reach every one of 8 shards");
    }
}
