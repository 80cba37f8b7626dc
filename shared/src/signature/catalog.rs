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
    event_id: &[Field::Pointer("/event_id")],
    event_type: &[Field::Pointer("/event_type")],
};

/// HubSpot v3: `X-HubSpot-Signature-v3: <base64>` over method, URL, body and the millisecond
/// `X-HubSpot-Request-Timestamp`. The body is an array of events; the first one names the batch.
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
    event_id: &[],
    event_type: &[Field::Pointer("/event")],
};

/// Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>` over the message id, the
/// RFC 3339 timestamp and the body, all three concatenated.
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
    event_id: &[Field::Header("x-razorpay-event-id")],
    event_type: &[Field::Pointer("/event")],
};

/// Square: `X-Square-Hmacsha256-Signature: <base64>` over the notification URL followed by the body.
pub static SQUARE: HmacScheme = HmacScheme {
    name: "square",
    algorithm: Algorithm::Sha256,
    encoding: Encoding::Base64,
    header: "x-square-hmacsha256-signature",
    format: plain(""),
    message: &[Part::Url, Part::Body],
    timestamp: None,
    signed_headers: &[],
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
