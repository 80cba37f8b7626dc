//! Every provider whose signature is an HMAC over header-addressed parts of the request, each one
//! declared: the header and its format, the algorithm and encoding, what is signed, the signed
//! time, and where the event id and type are. `docs/providers.md` describes each for users.

use super::declarative::{
    Algorithm, Encoding, HmacScheme, Part, SignatureFormat, TimeUnit, Timestamp, TimestampSource,
};
use super::Field;

const fn plain(prefix: &'static str) -> SignatureFormat {
    SignatureFormat::Plain {
        prefix,
        separator: None,
    }
}

/// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>` over `{ts}:{body}`.
pub static PADDLE: HmacScheme = HmacScheme {
    name: "paddle",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "paddle-signature",
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
};

/// HubSpot v3: `X-HubSpot-Signature-v3: <base64>` over method, URL, body and the millisecond
/// `X-HubSpot-Request-Timestamp`. The body is an array of events (JSON, or refused: the body and
/// the timestamp are concatenated); the first one names the batch.
pub static HUBSPOT: HmacScheme = HmacScheme {
    name: "hubspot",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "x-hubspot-signature-v3",
    format: plain(""),
    message: &[Part::Method, Part::Url, Part::Body, Part::Timestamp],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header("x-hubspot-request-timestamp"),
        unit: TimeUnit::Millis,
    }),
    signed_headers: &["x-hubspot-request-timestamp"],
    json_body: true,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/0/eventId")],
    event_type: &[Field::Pointer("/0/subscriptionType")],
};

/// Zendesk: `X-Zendesk-Webhook-Signature: <base64>` over the RFC 3339
/// `X-Zendesk-Webhook-Signature-Timestamp` followed by the body.
pub static ZENDESK: HmacScheme = HmacScheme {
    name: "zendesk",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "x-zendesk-webhook-signature",
    format: plain(""),
    message: &[Part::Timestamp, Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header("x-zendesk-webhook-signature-timestamp"),
        unit: TimeUnit::Rfc3339,
    }),
    signed_headers: &["x-zendesk-webhook-signature-timestamp"],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/id")],
    event_type: &[Field::Pointer("/type")],
};

/// Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`. Its payloads carry
/// no event id, so the body's hash is the id.
pub static CALENDLY: HmacScheme = HmacScheme {
    name: "calendly",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "calendly-webhook-signature",
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
};

/// Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>` over the message id, the
/// RFC 3339 timestamp and the body, all three concatenated: the id must be a UUID and the body
/// JSON, as Twitch sends them, so the parts cannot be re-cut.
pub static TWITCH: HmacScheme = HmacScheme {
    name: "twitch",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "twitch-eventsub-message-signature",
    format: plain("sha256="),
    message: &[Part::Header(TWITCH_ID), Part::Timestamp, Part::Body],
    timestamp: Some(Timestamp {
        source: TimestampSource::Header("twitch-eventsub-message-timestamp"),
        unit: TimeUnit::Rfc3339,
    }),
    signed_headers: &[TWITCH_ID, "twitch-eventsub-message-timestamp"],
    json_body: true,
    uuid_headers: &[TWITCH_ID],
    event_id: &[Field::Header(TWITCH_ID)],
    event_type: &[Field::Pointer("/subscription/type")],
};
const TWITCH_ID: &str = "twitch-eventsub-message-id";
/// The header saying which kind of Twitch message a request is.
pub(super) const TWITCH_MESSAGE_TYPE: &str = "twitch-eventsub-message-type";

/// Linear: `Linear-Signature: <hex>` over the body, whose `webhookTimestamp` (milliseconds) must
/// be within the tolerance.
pub static LINEAR: HmacScheme = HmacScheme {
    name: "linear",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "linear-signature",
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
};

/// Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the body with the app's client secret.
pub static INTERCOM: HmacScheme = HmacScheme {
    name: "intercom",
    algorithm: Algorithm::Sha1,
    encoding: Encoding::Hex,
    header: "x-hub-signature",
    format: plain("sha1="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/id")],
    event_type: &[Field::Pointer("/topic")],
};

/// PagerDuty v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]` over the body (several while a
/// secret rotates).
pub static PAGERDUTY: HmacScheme = HmacScheme {
    name: "pagerduty",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "x-pagerduty-signature",
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
};

/// Typeform: `Typeform-Signature: sha256=<base64>` over the body.
pub static TYPEFORM: HmacScheme = HmacScheme {
    name: "typeform",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "typeform-signature",
    format: plain("sha256="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/event_type")],
};

/// Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>` over the body.
pub static BITBUCKET: HmacScheme = HmacScheme {
    name: "bitbucket",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "x-hub-signature",
    format: plain("sha256="),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-request-uuid")],
    event_type: &[Field::Header("x-event-key")],
};

/// WooCommerce: `X-WC-Webhook-Signature: <base64>` over the body.
pub static WOOCOMMERCE: HmacScheme = HmacScheme {
    name: "woocommerce",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "x-wc-webhook-signature",
    format: plain(""),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-wc-webhook-delivery-id")],
    event_type: &[Field::Header("x-wc-webhook-topic")],
};

/// Razorpay: `X-Razorpay-Signature: <hex>` over the body.
pub static RAZORPAY: HmacScheme = HmacScheme {
    name: "razorpay",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Hex,
    header: "x-razorpay-signature",
    format: plain(""),
    message: &[Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: false,
    uuid_headers: &[],
    event_id: &[Field::Header("x-razorpay-event-id")],
    event_type: &[Field::Pointer("/event")],
};

/// Square: `X-Square-Hmacsha256-Signature: <base64>` over the notification URL followed by the
/// body, which must be JSON.
pub static SQUARE: HmacScheme = HmacScheme {
    name: "square",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "x-square-hmacsha256-signature",
    format: plain(""),
    message: &[Part::Url, Part::Body],
    timestamp: None,
    signed_headers: &[],
    json_body: true,
    uuid_headers: &[],
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/type")],
};

/// Every declared provider, in the order `SIGNATURE_SCHEME`'s list names them.
pub static DECLARED: [&HmacScheme; 13] = [
    &PADDLE,
    &HUBSPOT,
    &ZENDESK,
    &CALENDLY,
    &TWITCH,
    &LINEAR,
    &INTERCOM,
    &PAGERDUTY,
    &TYPEFORM,
    &BITBUCKET,
    &WOOCOMMERCE,
    &RAZORPAY,
    &SQUARE,
];

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::{Rejection, SignatureScheme, SignedRequest, Verified};
    use super::*;

    const SECRET: &str = "catalog-doc-secret";
    const NOW: i64 = 1_700_000_000;
    const URL: &str = "https://hooks.example.com/in/hook";
    const BODY: &[u8] = br#"{"webhookTimestamp":1700000000000,"id":"evt_1","type":"t"}"#;
    const TWITCH_MESSAGE_ID: &str = "5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b";

    /// Each provider's headers for `BODY` at `NOW`, made by scripts/signers/sign.py from the
    /// provider's documented rule (Python's `hmac`, not this crate):
    /// `sign.py NAME catalog-doc-secret --id evt_1 --timestamp 1700000000 --url URL`.
    fn documented(name: &str) -> &'static [(&'static str, &'static str)] {
        match name {
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
        for declared in DECLARED {
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
            let ours = signed.iter().find(|(n, _)| *n == declared.header).unwrap();
            assert_eq!(
                Some(ours.1.as_str()),
                expected.get(declared.header).and_then(|v| v.to_str().ok()),
                "{name}"
            );
            let missing = HeaderMap::new();
            assert!(check(declared, &missing, BODY, NOW).is_err(), "{name}");
        }
    }

    #[test]
    fn timestamped_providers_refuse_stale_and_future_requests() {
        for declared in DECLARED.iter().filter(|d| d.timestamp.is_some()) {
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
        let not_json: &[&[u8]] = &[b"", b"{", b"Z{}", b"{} 2", b"form=1"];
        for declared in [&TWITCH, &HUBSPOT, &SQUARE] {
            for body in not_json {
                assert_eq!(
                    check(declared, &headers(documented(declared.name)), body, NOW),
                    Err(Rejection::Malformed("body")),
                    "{} {:?}",
                    declared.name,
                    String::from_utf8_lossy(body)
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
            Err(Rejection::Malformed("signature timestamp"))
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

    #[test]
    fn every_declared_provider_is_a_listed_and_named_scheme() {
        for declared in DECLARED {
            assert!(super::super::SCHEME_NAMES.contains(&declared.name));
            assert_eq!(
                SignatureScheme::named(declared.name),
                Some(SignatureScheme::Hmac(declared))
            );
        }
    }
}
