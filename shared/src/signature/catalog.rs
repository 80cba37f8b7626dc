//! Every provider whose signature is an HMAC over header-addressed parts of the request, each one
//! declared: the header and its format, the algorithm and encoding, what is signed, the signed
//! time, and where the event id and type are. `docs/providers.md` describes each for users.

use super::declarative::{
    Algorithm, Challenge, Encoding, HmacScheme, Part, SignatureFormat, TimeUnit, Timestamp,
    TimestampSource,
};
use super::{Field, KnownHeader};

/// The timestamp headers, parsed once.
static SLACK_TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(SLACK_TIMESTAMP);
static TWITCH_EVENTSUB_MESSAGE_TIMESTAMP_HEADER: KnownHeader =
    KnownHeader::new("twitch-eventsub-message-timestamp");
static X_HUBSPOT_REQUEST_TIMESTAMP_HEADER: KnownHeader =
    KnownHeader::new("x-hubspot-request-timestamp");
static X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP_HEADER: KnownHeader =
    KnownHeader::new("x-zendesk-webhook-signature-timestamp");

const fn plain(prefix: &'static str) -> SignatureFormat {
    SignatureFormat::Plain {
        prefix,
        separator: None,
    }
}

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]` over `{t}.{body}`, with
/// the endpoint's `whsec_...` secret taken as text. Several `v1` entries appear while Stripe rolls
/// an endpoint's secret; any one may match. The event id and type are in the body.
pub static STRIPE: HmacScheme = HmacScheme {
    name: "stripe",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("stripe-signature"),
    format: SignatureFormat::Keyed {
        separator: ',',
        timestamp_key: "t",
        signature_key: "v1",
    },
    message: &[Part::Timestamp, Part::Literal("."), Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::SignatureItem,
        unit: TimeUnit::Seconds,
    }),
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/id")],
    event_type: &[Field::Pointer("/type")],
    challenge: None,
};

/// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body; the delivery id and the event name
/// are headers. GitHub signs no timestamp: replays are caught by the outbox's dedupe on
/// `X-GitHub-Delivery` (a redelivery from GitHub's console keeps its delivery id).
pub static GITHUB: HmacScheme = HmacScheme {
    name: "github",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-hub-signature-256"),
    format: plain("sha256="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-github-delivery")],
    event_type: &[Field::Header("x-github-event")],
    challenge: None,
};

/// Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body, with the app's client secret; the
/// webhook id and topic are headers. No timestamp is signed: the outbox's dedupe on
/// `X-Shopify-Webhook-Id` is the replay defence.
pub static SHOPIFY: HmacScheme = HmacScheme {
    name: "shopify",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("x-shopify-hmac-sha256"),
    format: plain(""),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-shopify-webhook-id")],
    event_type: &[Field::Header("x-shopify-topic")],
    challenge: None,
};

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`, with the
/// app's signing secret. Events API bodies carry `event_id` and `event.type`; the
/// `url_verification` request Slack sends when an app's URL is set is answered with its
/// `challenge`.
pub static SLACK: HmacScheme = HmacScheme {
    name: "slack",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-slack-signature"),
    format: plain("v0="),
    message: &[
        Part::Literal("v0:"),
        Part::Timestamp,
        Part::Literal(":"),
        Part::Body,
    ],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header(&SLACK_TIMESTAMP_HEADER),
        unit: TimeUnit::Seconds,
    }),
    signed_headers: &[SLACK_TIMESTAMP],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/event/type"), Field::Pointer("/type")],
    challenge: Some(Challenge {
        when: Field::Pointer("/type"),
        equals: "url_verification",
        answer: "/challenge",
    }),
};
const SLACK_TIMESTAMP: &str = "x-slack-request-timestamp";

/// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>` over `{ts}:{body}`.
pub static PADDLE: HmacScheme = HmacScheme {
    name: "paddle",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("paddle-signature"),
    format: SignatureFormat::Keyed {
        separator: ';',
        timestamp_key: "ts",
        signature_key: "h1",
    },
    message: &[Part::Timestamp, Part::Literal(":"), Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::SignatureItem,
        unit: TimeUnit::Seconds,
    }),
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/event_type")],
    challenge: None,
};

/// HubSpot v3: `X-HubSpot-Signature-v3: <base64>` over method, URL, body and the millisecond
/// `X-HubSpot-Request-Timestamp`. The body is an array of events (JSON, or refused: the body and
/// the timestamp are concatenated); the first one names the batch.
pub static HUBSPOT: HmacScheme = HmacScheme {
    name: "hubspot",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("x-hubspot-signature-v3"),
    format: plain(""),
    message: &[Part::Method, Part::Url, Part::Body, Part::Timestamp],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header(&X_HUBSPOT_REQUEST_TIMESTAMP_HEADER),
        unit: TimeUnit::Millis,
    }),
    signed_headers: &["x-hubspot-request-timestamp"],
    json_body: true,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/0/eventId")],
    event_type: &[Field::Pointer("/0/subscriptionType")],
    challenge: None,
};

/// Zendesk: `X-Zendesk-Webhook-Signature: <base64>` over the RFC 3339
/// `X-Zendesk-Webhook-Signature-Timestamp` followed by the body.
pub static ZENDESK: HmacScheme = HmacScheme {
    name: "zendesk",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("x-zendesk-webhook-signature"),
    format: plain(""),
    message: &[Part::Timestamp, Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header(&X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP_HEADER),
        unit: TimeUnit::Rfc3339,
    }),
    signed_headers: &["x-zendesk-webhook-signature-timestamp"],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/id")],
    event_type: &[Field::Pointer("/type")],
    challenge: None,
};

/// Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`. Its payloads carry
/// no event id, so the body's hash is the id.
pub static CALENDLY: HmacScheme = HmacScheme {
    name: "calendly",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("calendly-webhook-signature"),
    format: SignatureFormat::Keyed {
        separator: ',',
        timestamp_key: "t",
        signature_key: "v1",
    },
    message: &[Part::Timestamp, Part::Literal("."), Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::SignatureItem,
        unit: TimeUnit::Seconds,
    }),
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[],
    event_type: &[Field::Pointer("/event")],
    challenge: None,
};

/// Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>` over the message id, the
/// RFC 3339 timestamp and the body, all three concatenated: the id must be a UUID and the body
/// JSON, as Twitch sends them, so the parts cannot be re-cut.
pub static TWITCH: HmacScheme = HmacScheme {
    name: "twitch",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("twitch-eventsub-message-signature"),
    format: plain("sha256="),
    message: &[Part::Header(&TWITCH_ID_HEADER), Part::Timestamp, Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header(&TWITCH_EVENTSUB_MESSAGE_TIMESTAMP_HEADER),
        unit: TimeUnit::Rfc3339,
    }),
    signed_headers: &[TWITCH_ID, "twitch-eventsub-message-timestamp"],
    json_body: true,
    uuid_headers: &[&TWITCH_ID_HEADER],
    event_id: &[Field::Header(TWITCH_ID)],
    event_type: &[Field::Pointer("/subscription/type")],
    challenge: Some(Challenge {
        when: Field::Header(TWITCH_MESSAGE_TYPE),
        equals: "webhook_callback_verification",
        answer: "/challenge",
    }),
};
const TWITCH_ID: &str = "twitch-eventsub-message-id";
static TWITCH_ID_HEADER: KnownHeader = KnownHeader::new(TWITCH_ID);
/// The header saying which kind of Twitch message a request is.
const TWITCH_MESSAGE_TYPE: &str = "twitch-eventsub-message-type";

/// Linear: `Linear-Signature: <hex>` over the body, whose `webhookTimestamp` (milliseconds) must
/// be within the tolerance.
pub static LINEAR: HmacScheme = HmacScheme {
    name: "linear",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("linear-signature"),
    format: plain(""),
    message: &[Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::BodyField("webhookTimestamp"),
        unit: TimeUnit::Millis,
    }),
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("linear-delivery")],
    event_type: &[Field::Pointer("/type"), Field::Header("linear-event")],
    challenge: None,
};

/// Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the body with the app's client secret.
pub static INTERCOM: HmacScheme = HmacScheme {
    name: "intercom",
    algorithm: Algorithm::Sha1,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-hub-signature"),
    format: plain("sha1="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/id")],
    event_type: &[Field::Pointer("/topic")],
    challenge: None,
};

/// PagerDuty v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]` over the body (several while a
/// secret rotates).
pub static PAGERDUTY: HmacScheme = HmacScheme {
    name: "pagerduty",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-pagerduty-signature"),
    format: SignatureFormat::Plain {
        prefix: "v1=",
        separator: Some(','),
    },
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event/id")],
    event_type: &[Field::Pointer("/event/event_type")],
    challenge: None,
};

/// Typeform: `Typeform-Signature: sha256=<base64>` over the body.
pub static TYPEFORM: HmacScheme = HmacScheme {
    name: "typeform",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("typeform-signature"),
    format: plain("sha256="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/event_type")],
    challenge: None,
};

/// Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>` over the body.
pub static BITBUCKET: HmacScheme = HmacScheme {
    name: "bitbucket",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-hub-signature"),
    format: plain("sha256="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-request-uuid")],
    event_type: &[Field::Header("x-event-key")],
    challenge: None,
};

/// WooCommerce: `X-WC-Webhook-Signature: <base64>` over the body.
pub static WOOCOMMERCE: HmacScheme = HmacScheme {
    name: "woocommerce",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("x-wc-webhook-signature"),
    format: plain(""),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-wc-webhook-delivery-id")],
    event_type: &[Field::Header("x-wc-webhook-topic")],
    challenge: None,
};

/// Razorpay: `X-Razorpay-Signature: <hex>` over the body.
pub static RAZORPAY: HmacScheme = HmacScheme {
    name: "razorpay",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: KnownHeader::new("x-razorpay-signature"),
    format: plain(""),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-razorpay-event-id")],
    event_type: &[Field::Pointer("/event")],
    challenge: None,
};

/// Square: `X-Square-Hmacsha256-Signature: <base64>` over the notification URL followed by the
/// body, which must be JSON.
pub static SQUARE: HmacScheme = HmacScheme {
    name: "square",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: KnownHeader::new("x-square-hmacsha256-signature"),
    format: plain(""),
    message: &[Part::Url, Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: true,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/type")],
    challenge: None,
};

#[cfg(test)]
pub(super) mod tests {
    use http::HeaderMap;

    use super::super::registry::declared_schemes;
    use super::super::{
        Rejection, SignatureScheme, SignedRequest, SigningKey, SigningKeys, Verified,
    };
    use super::*;

    pub(in crate::signature) const SECRET: &str = "catalog-doc-secret";
    pub(in crate::signature) const NOW: i64 = 1_700_000_000;
    pub(in crate::signature) const URL: &str = "https://hooks.example.com/in/hook";
    pub(in crate::signature) const BODY: &[u8] =
        br#"{"webhookTimestamp":1700000000000,"id":"evt_1","type":"t"}"#;
    const TWITCH_MESSAGE_ID: &str = "5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b";

    /// Each provider's headers for `BODY` at `NOW`, made by scripts/signers/sign.py from the
    /// provider's documented rule (Python's `hmac`, not this crate):
    /// `sign.py NAME catalog-doc-secret --id evt_1 --timestamp 1700000000 --url URL`.
    pub(in crate::signature) fn documented(name: &str) -> &'static [(&'static str, &'static str)] {
        match name {
            // Python's `hmac` over the provider's documented message.
            "stripe" => &[(
                "stripe-signature",
                "t=1700000000,v1=58b30bbf158f53ce17512fffea90f7faa84821604238020d098af9533330bb6d",
            )],
            "github" => &[(
                "x-hub-signature-256",
                "sha256=4d41fd7216190749b703c8f8d0061c8a8d98508fdc4ff9437c03f02090ee8840",
            )],
            "shopify" => &[(
                "x-shopify-hmac-sha256",
                "TUH9chYZB0m3A8j40AYcio2YUI/cT/lDfAPwIJDuiEA=",
            )],
            "slack" => &[
                ("x-slack-request-timestamp", "1700000000"),
                (
                    "x-slack-signature",
                    "v0=9791ba90b584e8a34be217eef1b72077dca5ab6f1c6ca949af6798412740f611",
                ),
            ],
            "paddle" => &[(
                "paddle-signature",
                "ts=1700000000;h1=3f217bc3788c316f66b6383da37e795c2ee8989f4cecf14a279b6d359fbd6453",
            )],
            "hubspot" => &[
                (
                    "x-hubspot-signature-v3",
                    "ybUTqRNh6BPQN5bz5gF1mcJrQkRdkBGWn6xY832w+3M=",
                ),
                ("x-hubspot-request-timestamp", "1700000000000"),
            ],
            "zendesk" => &[
                (
                    "x-zendesk-webhook-signature",
                    "sU7oJvZ+tvppipdeNIQAC0G+Ya/6WtRDKkIEjmz3waE=",
                ),
                (
                    "x-zendesk-webhook-signature-timestamp",
                    "2023-11-14T22:13:20Z",
                ),
            ],
            "calendly" => &[(
                "calendly-webhook-signature",
                "t=1700000000,v1=58b30bbf158f53ce17512fffea90f7faa84821604238020d098af9533330bb6d",
            )],
            // `--id 5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b`: Twitch's message ids are UUIDs.
            "twitch" => &[
                ("twitch-eventsub-message-id", TWITCH_MESSAGE_ID),
                ("twitch-eventsub-message-timestamp", "2023-11-14T22:13:20Z"),
                (
                    "twitch-eventsub-message-signature",
                    "sha256=f3334e506eb1faf3889e78117076539307d3185aa559a65ea23cd98020d1b3cb",
                ),
            ],
            "linear" => &[
                (
                    "linear-signature",
                    "4d41fd7216190749b703c8f8d0061c8a8d98508fdc4ff9437c03f02090ee8840",
                ),
                ("linear-delivery", "evt_1"),
            ],
            "intercom" => &[(
                "x-hub-signature",
                "sha1=a67e5bdc2e655f230e923b208c0d584b069974b5",
            )],
            "pagerduty" => &[(
                "x-pagerduty-signature",
                "v1=4d41fd7216190749b703c8f8d0061c8a8d98508fdc4ff9437c03f02090ee8840",
            )],
            "typeform" => &[(
                "typeform-signature",
                "sha256=TUH9chYZB0m3A8j40AYcio2YUI/cT/lDfAPwIJDuiEA=",
            )],
            "bitbucket" => &[(
                "x-hub-signature",
                "sha256=4d41fd7216190749b703c8f8d0061c8a8d98508fdc4ff9437c03f02090ee8840",
            )],
            "woocommerce" => &[(
                "x-wc-webhook-signature",
                "TUH9chYZB0m3A8j40AYcio2YUI/cT/lDfAPwIJDuiEA=",
            )],
            "razorpay" => &[(
                "x-razorpay-signature",
                "4d41fd7216190749b703c8f8d0061c8a8d98508fdc4ff9437c03f02090ee8840",
            )],
            "square" => &[(
                "x-square-hmacsha256-signature",
                "5+QNOPKYluoJhiz3kvvTQOF/LTNm/FfNDjg3NOgJ93c=",
            )],
            other => panic!("no documented vector for {other}"),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                )
            })
            .collect()
    }

    fn check(
        scheme: &'static HmacScheme,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, Rejection> {
        let scheme = SignatureScheme::Hmac(scheme);
        let keys = scheme.parse_keys(&format!("old-secret {SECRET}")).unwrap();
        let request = SignedRequest {
            method: "POST",
            url: URL,
            headers,
            body,
        };
        scheme.verify_request(&request, &keys, now, 300)
    }

    #[test]
    fn every_declared_provider_verifies_its_documented_signature_and_signs_it_alike() {
        for declared in declared_schemes() {
            let name = declared.name;
            let expected = headers(documented(name));
            assert_eq!(
                check(declared, &expected, BODY, NOW),
                Ok(Verified { key_index: 1 }),
                "{name}"
            );
            let tampered = String::from_utf8_lossy(BODY).replace("evt_1", "evt_2");
            assert_eq!(
                check(declared, &expected, tampered.as_bytes(), NOW),
                Err(Rejection::NoMatch),
                "{name}"
            );
            let scheme = SignatureScheme::Hmac(declared);
            let keys = scheme.parse_keys(SECRET).unwrap();
            let empty = HeaderMap::new();
            let request = SignedRequest {
                method: "POST",
                url: URL,
                headers: &empty,
                body: BODY,
            };
            let id = if name == "twitch" {
                TWITCH_MESSAGE_ID
            } else {
                "evt_1"
            };
            let signed = scheme.sign_request(keys.first().unwrap(), id, NOW, &request);
            let ours = signed
                .iter()
                .find(|(n, _)| *n == declared.header.name)
                .unwrap();
            assert_eq!(
                Some(ours.1.as_str()),
                expected
                    .get(declared.header.name)
                    .and_then(|v| v.to_str().ok()),
                "{name}"
            );
            let missing = HeaderMap::new();
            assert!(check(declared, &missing, BODY, NOW).is_err(), "{name}");
        }
    }

    #[test]
    fn timestamped_providers_refuse_stale_and_future_requests() {
        for declared in declared_schemes().filter(|d| d.timestamp.is_some()) {
            let name = declared.name;
            let signed = headers(documented(name));
            for now in [NOW + 301, NOW - 301] {
                assert_eq!(
                    check(declared, &signed, BODY, now),
                    Err(Rejection::StaleTimestamp),
                    "{name} at {now}"
                );
            }
            assert!(check(declared, &signed, BODY, NOW + 300).is_ok(), "{name}");
        }
    }

    #[test]
    fn url_signing_providers_refuse_another_url() {
        for declared in [&HUBSPOT, &SQUARE] {
            let scheme = SignatureScheme::Hmac(declared);
            let keys = scheme.parse_keys(SECRET).unwrap();
            let signed = headers(documented(declared.name));
            let request = SignedRequest {
                method: "POST",
                url: "https://hooks.example.com/in/other",
                headers: &signed,
                body: BODY,
            };
            assert_eq!(
                scheme.verify_request(&request, &keys, NOW, 300),
                Err(Rejection::NoMatch)
            );
        }
    }

    /// Twitch signs its id, timestamp and body concatenated, HubSpot its body then its timestamp,
    /// Square its URL then its body: what the provider cannot have sent (an id that is no UUID, a
    /// body that is no JSON) is refused, so no captured request is re-cut into another.
    #[test]
    fn parts_concatenated_without_a_separator_must_be_what_the_provider_sends() {
        let twitch = |id: &str, body: &[u8]| {
            let mut pairs = documented("twitch").to_vec();
            pairs[0].1 = Box::leak(id.to_owned().into_boxed_str());
            check(&TWITCH, &headers(&pairs), body, NOW)
        };
        assert_eq!(
            twitch(TWITCH_MESSAGE_ID, BODY),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            twitch(&TWITCH_MESSAGE_ID.to_uppercase(), BODY),
            Err(Rejection::NoMatch)
        );
        for id in [
            "evt_1",
            "5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b2",
            "5f2c9b1e8d3a4e6f9a7b1c2d3e4f5a6b",
        ] {
            assert_eq!(
                twitch(id, BODY),
                Err(Rejection::Malformed(TWITCH_ID)),
                "{id}"
            );
        }
        // A body that is not JSON is refused even when it is signed; the check comes after the
        // signature, so a sender without the key never makes the ingress parse its body.
        let not_json: &[&[u8]] = &[b"", b"{", b"Z{}", b"{} 2", b"form=1"];
        for declared in [&TWITCH, &HUBSPOT, &SQUARE] {
            let scheme = SignatureScheme::Hmac(declared);
            let keys = scheme.parse_keys(SECRET).unwrap();
            for body in not_json {
                let what = format!("{} {:?}", declared.name, String::from_utf8_lossy(body));
                assert_eq!(
                    check(declared, &headers(documented(declared.name)), body, NOW),
                    Err(Rejection::NoMatch),
                    "{what}"
                );
                let empty = HeaderMap::new();
                let request = SignedRequest {
                    method: "POST",
                    url: URL,
                    headers: &empty,
                    body,
                };
                let signed: HeaderMap = scheme
                    .sign_request(keys.first().unwrap(), TWITCH_MESSAGE_ID, NOW, &request)
                    .into_iter()
                    .map(|(name, value)| (name, value.parse().unwrap()))
                    .collect();
                assert_eq!(
                    check(declared, &signed, body, NOW),
                    Err(Rejection::Malformed("body")),
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn pagerduty_accepts_any_of_several_v1_signatures() {
        let valid = documented("pagerduty")[0].1;
        let value = format!("v1=00ff, v1={}, {valid}", "ab".repeat(32));
        let signed = headers(&[("x-pagerduty-signature", &value)]);
        assert_eq!(
            check(&PAGERDUTY, &signed, BODY, NOW),
            Ok(Verified { key_index: 1 })
        );
        let none = headers(&[("x-pagerduty-signature", "v2=abcd")]);
        assert_eq!(
            check(&PAGERDUTY, &none, BODY, NOW),
            Err(Rejection::Malformed("x-pagerduty-signature"))
        );
    }

    #[test]
    fn keyed_headers_refuse_a_second_timestamp() {
        let value = format!(
            "ts=1700000000;ts=1700000001;{}",
            &documented("paddle")[0].1[14..]
        );
        let signed = headers(&[("paddle-signature", &value)]);
        assert_eq!(
            check(&PADDLE, &signed, BODY, NOW),
            Err(Rejection::Malformed("paddle-signature"))
        );
    }

    #[test]
    fn twitch_verification_is_answered_with_its_challenge_and_notifications_are_not() {
        let scheme = SignatureScheme::Hmac(&TWITCH);
        let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
        let mut verification = HeaderMap::new();
        verification.insert(
            TWITCH_MESSAGE_TYPE,
            "webhook_callback_verification".parse().unwrap(),
        );
        assert_eq!(
            scheme.handshake(&verification, body).map(|h| h.body),
            Some("pogchamp-kappa-360noscope-vohiyo".to_owned())
        );
        let mut notification = HeaderMap::new();
        notification.insert(TWITCH_MESSAGE_TYPE, "notification".parse().unwrap());
        assert_eq!(scheme.handshake(&notification, body), None);
        assert_eq!(
            SignatureScheme::Hmac(&LINEAR).handshake(&verification, body),
            None
        );
    }

    // Stripe documents the scheme but publishes no vector with its secret; this one was made by
    // Stripe's own Node SDK (stripe 23.1.0, `webhooks.generateTestHeaderString`), see
    // scripts/signers/sign.mjs.
    const STRIPE_SECRET: &str = "whsec_test_secret";
    const STRIPE_TIMESTAMP: i64 = 1_614_265_330;
    const STRIPE_BODY: &[u8] =
        br#"{"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"}"#;
    const STRIPE_SDK_HEADER: &str =
        "t=1614265330,v1=31fe7071853a3ce7cef4cf91041ccfde0db025f63c690910579c71cf94740b3d";

    fn one_header(name: &str, value: &str) -> HeaderMap {
        headers(&[(name, value)])
    }

    fn stripe(value: &str, body: &[u8], now: i64) -> Result<Verified, Rejection> {
        let keys = SignatureScheme::Stripe.parse_keys(STRIPE_SECRET).unwrap();
        SignatureScheme::Stripe.verify(
            &one_header("stripe-signature", value),
            body,
            &keys,
            now,
            300,
        )
    }

    #[test]
    fn the_stripe_sdks_signature_verifies_and_sign_reproduces_it() {
        assert_eq!(
            stripe(STRIPE_SDK_HEADER, STRIPE_BODY, STRIPE_TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
        let keys = SignatureScheme::Stripe.parse_keys(STRIPE_SECRET).unwrap();
        let signed =
            SignatureScheme::Stripe.sign(keys.first().unwrap(), "", STRIPE_TIMESTAMP, STRIPE_BODY);
        assert_eq!(signed.len(), 1);
        assert_eq!(signed[0].1, STRIPE_SDK_HEADER);
        assert_eq!(
            stripe(STRIPE_SDK_HEADER, b"{}", STRIPE_TIMESTAMP),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn any_stripe_v1_entry_may_match_and_v0_and_spaces_are_ignored() {
        let header = format!(
            "t=1614265330, v0=6ffbb59b2300aade63f272ed86ee07a9ebe7bd7bd2227bf5290fec7f0cd74e23, v1={}, {}",
            "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
            STRIPE_SDK_HEADER.split_once(',').unwrap().1,
        );
        assert_eq!(
            stripe(&header, STRIPE_BODY, STRIPE_TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
        for now in [STRIPE_TIMESTAMP + 301, STRIPE_TIMESTAMP - 301] {
            assert_eq!(
                stripe(STRIPE_SDK_HEADER, STRIPE_BODY, now),
                Err(Rejection::StaleTimestamp)
            );
        }
    }

    #[test]
    fn malformed_stripe_headers_are_refused() {
        let v1 = "v1=31fe7071853a3ce7cef4cf91041ccfde0db025f63c690910579c71cf94740b3d";
        for bad in [
            v1.to_owned(),
            "t=1614265330".to_owned(),
            "t=1614265330,v1=nothex".to_owned(),
            "t=1614265330,v1=00ff".to_owned(),
            format!("t=soon,{v1}"),
            format!("t=1614265330,t=1614265331,{v1}"),
            String::new(),
        ] {
            assert_eq!(
                stripe(&bad, STRIPE_BODY, STRIPE_TIMESTAMP),
                Err(Rejection::Malformed("stripe-signature")),
                "{bad}"
            );
        }
    }

    /// GitHub's published example ("Validating webhook deliveries"): secret
    /// `It's a Secret to Everybody`, payload `Hello, World!`.
    const GITHUB_DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn github_doc_keys() -> SigningKeys {
        // The documented secret holds spaces, which the parameter format reads as separators.
        SigningKeys::new(vec![SigningKey::from_bytes(
            b"It's a Secret to Everybody".to_vec(),
        )])
    }

    fn github(value: &str, body: &[u8]) -> Result<Verified, Rejection> {
        let headers = one_header("x-hub-signature-256", value);
        SignatureScheme::GitHub.verify(&headers, body, &github_doc_keys(), 0, 300)
    }

    #[test]
    fn githubs_published_example_verifies_and_sign_reproduces_it() {
        assert_eq!(
            github(GITHUB_DOC_SIGNATURE, b"Hello, World!"),
            Ok(Verified { key_index: 0 })
        );
        let keys = github_doc_keys();
        let signed = SignatureScheme::GitHub.sign(keys.first().unwrap(), "", 0, b"Hello, World!");
        assert_eq!(
            signed,
            vec![(
                http::HeaderName::from_static("x-hub-signature-256"),
                GITHUB_DOC_SIGNATURE.to_owned()
            )]
        );
        assert_eq!(
            github(GITHUB_DOC_SIGNATURE, b"Hello, World?"),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn github_refuses_other_algorithms_and_bad_hex() {
        for bad in [
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(
                github(bad, b"Hello, World!"),
                Err(Rejection::Malformed("x-hub-signature-256")),
                "{bad}"
            );
        }
        assert_eq!(
            SignatureScheme::GitHub.verify(
                &HeaderMap::new(),
                b"Hello, World!",
                &github_doc_keys(),
                0,
                300
            ),
            Err(Rejection::MissingHeader("x-hub-signature-256"))
        );
    }

    // Shopify publishes the formula (base64 of HMAC-SHA256 of the raw body with the client
    // secret), not a vector; this one was computed with Python's hmac module, independently.
    const SHOPIFY_SECRET: &str = "shpss_example_secret";
    const SHOPIFY_BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    const SHOPIFY_SIGNATURE: &str = "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g=";

    #[test]
    fn shopify_formula_vector_verifies_and_refuses_hex_truncated_and_unpadded_base64() {
        let scheme = SignatureScheme::Shopify;
        let keys = scheme.parse_keys(SHOPIFY_SECRET).unwrap();
        let check = |value: &str| {
            let headers = one_header("x-shopify-hmac-sha256", value);
            scheme.verify(&headers, SHOPIFY_BODY, &keys, 0, 300)
        };
        assert_eq!(check(SHOPIFY_SIGNATURE), Ok(Verified { key_index: 0 }));
        let signed = scheme.sign(keys.first().unwrap(), "", 0, SHOPIFY_BODY);
        assert_eq!(signed[0].1, SHOPIFY_SIGNATURE);
        for bad in [
            "dfd0c6482b181a1b2c0978a4335ac5bd1b6f2eb1e3677",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYD",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g=!",
        ] {
            assert_eq!(
                check(bad),
                Err(Rejection::Malformed("x-shopify-hmac-sha256")),
                "{bad}"
            );
        }
    }

    // The example in Slack's "Verifying requests from Slack" documentation.
    const SLACK_DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_DOC_TIMESTAMP: i64 = 1_531_420_618;
    const SLACK_DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const SLACK_SIGNATURE: &str = "x-slack-signature";

    fn slack_headers(timestamp: &str, signature: &str) -> HeaderMap {
        headers(&[(SLACK_TIMESTAMP, timestamp), (SLACK_SIGNATURE, signature)])
    }

    fn slack(headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Rejection> {
        let keys = SignatureScheme::Slack.parse_keys(SLACK_DOC_SECRET).unwrap();
        SignatureScheme::Slack.verify(headers, body, &keys, now, 300)
    }

    #[test]
    fn slacks_published_example_verifies_and_sign_reproduces_it() {
        let doc = slack_headers(&SLACK_DOC_TIMESTAMP.to_string(), SLACK_DOC_SIGNATURE);
        assert_eq!(
            slack(&doc, SLACK_DOC_BODY, SLACK_DOC_TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
        let keys = SignatureScheme::Slack.parse_keys(SLACK_DOC_SECRET).unwrap();
        let signed = SignatureScheme::Slack.sign(
            keys.first().unwrap(),
            "",
            SLACK_DOC_TIMESTAMP,
            SLACK_DOC_BODY,
        );
        assert_eq!(signed[1].1, SLACK_DOC_SIGNATURE);
        assert_eq!(
            slack(&doc, b"token=other", SLACK_DOC_TIMESTAMP),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn slack_refuses_stale_future_and_malformed() {
        let doc = slack_headers(&SLACK_DOC_TIMESTAMP.to_string(), SLACK_DOC_SIGNATURE);
        for now in [SLACK_DOC_TIMESTAMP + 301, SLACK_DOC_TIMESTAMP - 301] {
            assert_eq!(
                slack(&doc, SLACK_DOC_BODY, now),
                Err(Rejection::StaleTimestamp)
            );
        }
        let bad_signature = slack_headers(&SLACK_DOC_TIMESTAMP.to_string(), "v1=a2114d57");
        assert_eq!(
            slack(&bad_signature, SLACK_DOC_BODY, SLACK_DOC_TIMESTAMP),
            Err(Rejection::Malformed(SLACK_SIGNATURE))
        );
        let bad_time = slack_headers("noon", SLACK_DOC_SIGNATURE);
        assert_eq!(
            slack(&bad_time, SLACK_DOC_BODY, SLACK_DOC_TIMESTAMP),
            Err(Rejection::Malformed(SLACK_TIMESTAMP))
        );
        let missing = one_header(SLACK_SIGNATURE, SLACK_DOC_SIGNATURE);
        assert_eq!(
            slack(&missing, SLACK_DOC_BODY, SLACK_DOC_TIMESTAMP),
            Err(Rejection::MissingHeader(SLACK_TIMESTAMP))
        );
    }

    #[test]
    fn slack_url_verification_yields_its_challenge_and_nothing_else_does() {
        let scheme = SignatureScheme::Slack;
        let none = HeaderMap::new();
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            scheme
                .handshake(&none, body)
                .map(|h| (h.body, h.content_type)),
            Some((
                "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned(),
                "text/plain"
            ))
        );
        assert_eq!(
            scheme.handshake(&none, br#"{"type":"event_callback","challenge":"x"}"#),
            None
        );
        assert_eq!(scheme.handshake(&none, b"token=x&challenge=y"), None);
    }

    #[test]
    fn every_declared_provider_is_a_listed_and_named_scheme() {
        for declared in declared_schemes() {
            assert!(super::super::SCHEME_NAMES.contains(&declared.name));
            assert_eq!(
                SignatureScheme::named(declared.name),
                Some(SignatureScheme::Hmac(declared))
            );
        }
    }
}
