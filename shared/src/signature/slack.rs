//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`
//! with the app's signing secret. Events API bodies carry `event_id` and `event.type`; the
//! `url_verification` request Slack sends when an app's URL is set must be answered with its
//! `challenge`.

use http::{HeaderMap, HeaderName};

use super::{
    decode_hex_tag, header_str, matched, parse_timestamp, signature_header, Field, KnownHeader,
    Rejection, SigningKey, SigningKeys, Tag, Window,
};

const SIGNATURE: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";
static SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SIGNATURE);
static TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(TIMESTAMP);

/// The header the signature covers besides the body: the timestamp.
pub(super) const SIGNED_HEADERS: &[&str] = &[TIMESTAMP];

pub(super) const EVENT_ID: &[Field] = &[Field::Pointer("/event_id")];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Pointer("/event/type"), Field::Pointer("/type")];

/// The signature of an `X-Slack-Signature` value: `v0=` then 64 hex digits.
pub fn parse_header(value: &str) -> Option<Tag> {
    value.strip_prefix("v0=").and_then(decode_hex_tag)
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    window: Window,
) -> Result<usize, Rejection> {
    let timestamp_text =
        header_str(headers, &TIMESTAMP_HEADER).ok_or(Rejection::MissingHeader(TIMESTAMP))?;
    let value = signature_header(headers, &SIGNATURE_HEADER)?;
    let timestamp = parse_timestamp(timestamp_text).ok_or(Rejection::Malformed(TIMESTAMP))?;
    window.check(timestamp)?;
    let claimed = parse_header(value).ok_or(Rejection::Malformed(SIGNATURE))?;
    matched(
        keys,
        &[b"v0:", timestamp.text.as_bytes(), b":", body],
        &[claimed],
    )
}

pub(super) fn sign(
    key: &SigningKey,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
    let timestamp = timestamp_secs.to_string();
    let tag = key.tag(&[b"v0:", timestamp.as_bytes(), b":", body]);
    vec![
        (HeaderName::from_static(TIMESTAMP), timestamp),
        (
            HeaderName::from_static(SIGNATURE),
            format!("v0={}", hex::encode(tag)),
        ),
    ]
}

/// The `challenge` of a Slack `url_verification` request, which must be answered with it and is
/// not an event. Call only once the request verified.
pub fn url_verification_challenge(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Verification {
        #[serde(rename = "type")]
        kind: String,
        challenge: String,
    }
    let request: Verification = serde_json::from_slice(body).ok()?;
    (request.kind == "url_verification").then_some(request.challenge)
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    // The example in Slack's "Verifying requests from Slack" documentation.
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: i64 = 1_531_420_618;
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP, timestamp.parse().unwrap());
        headers.insert(SIGNATURE, signature.parse().unwrap());
        headers
    }

    fn check(headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, Rejection> {
        let keys = SignatureScheme::Slack.parse_keys(DOC_SECRET).unwrap();
        SignatureScheme::Slack.verify(headers, body, &keys, now, 300)
    }

    #[test]
    fn slacks_published_example_verifies_and_sign_reproduces_it() {
        let doc = headers(&DOC_TIMESTAMP.to_string(), DOC_SIGNATURE);
        assert_eq!(
            check(&doc, DOC_BODY, DOC_TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
        let keys = SignatureScheme::Slack.parse_keys(DOC_SECRET).unwrap();
        let signed = sign(keys.first().unwrap(), DOC_TIMESTAMP, DOC_BODY);
        assert_eq!(signed[1].1, DOC_SIGNATURE);
        assert_eq!(
            check(&doc, b"token=other", DOC_TIMESTAMP),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn slack_refuses_stale_future_and_malformed() {
        let doc = headers(&DOC_TIMESTAMP.to_string(), DOC_SIGNATURE);
        assert_eq!(
            check(&doc, DOC_BODY, DOC_TIMESTAMP + 301),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            check(&doc, DOC_BODY, DOC_TIMESTAMP - 301),
            Err(Rejection::StaleTimestamp)
        );
        let bad_signature = headers(&DOC_TIMESTAMP.to_string(), "v1=a2114d57");
        assert_eq!(
            check(&bad_signature, DOC_BODY, DOC_TIMESTAMP),
            Err(Rejection::Malformed(SIGNATURE))
        );
        let bad_time = headers("noon", DOC_SIGNATURE);
        assert_eq!(
            check(&bad_time, DOC_BODY, DOC_TIMESTAMP),
            Err(Rejection::Malformed(TIMESTAMP))
        );
        let mut missing = HeaderMap::new();
        missing.insert(SIGNATURE, DOC_SIGNATURE.parse().unwrap());
        assert_eq!(
            check(&missing, DOC_BODY, DOC_TIMESTAMP),
            Err(Rejection::MissingHeader(TIMESTAMP))
        );
    }

    #[test]
    fn url_verification_yields_its_challenge_and_nothing_else_does() {
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            url_verification_challenge(body).as_deref(),
            Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
        assert_eq!(
            url_verification_challenge(br#"{"type":"event_callback","challenge":"x"}"#),
            None
        );
        assert_eq!(url_verification_challenge(b"token=x&challenge=y"), None);
    }
}
