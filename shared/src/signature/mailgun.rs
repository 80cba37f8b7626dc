//! Mailgun: the signature is inside the JSON body, `{"signature": {"timestamp", "token",
//! "signature"}, "event-data": {...}}`: hex HMAC-SHA256 of `{timestamp}{token}` with the account's
//! webhook signing key. The timestamp is checked against the window; the token changes with every
//! request, so the id is `event-data.id`.
//!
//! The signature does not cover `event-data`: a signed `timestamp` + `token` pair could carry any
//! event. So the ingress spends each token once ([`signed_token`] gives it the token): a second
//! request with the same token is a duplicate only when its body is byte-identical.

use http::HeaderName;
use serde::Deserialize;

use super::{
    decode_hex_tag, matched, parse_timestamp, Field, Rejection, SigningKey, SigningKeys, Window,
};

pub(super) const EVENT_ID: &[Field] = &[Field::Pointer("/event-data/id")];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Pointer("/event-data/event")];
const SIGNATURE: &str = "body signature";
/// The longest token taken: Mailgun's are 50 characters.
const MAX_TOKEN_LEN: usize = 128;

#[derive(Deserialize)]
struct Envelope {
    signature: Signature,
}

#[derive(Deserialize)]
struct Signature {
    timestamp: String,
    token: String,
    signature: String,
}

/// The signature of a body; its token letters and digits only (Mailgun's are hex), so it can
/// name the item that records it spent.
fn signature_of(body: &[u8]) -> Result<Signature, Rejection> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|_| Rejection::MissingHeader(SIGNATURE))?;
    let token = &envelope.signature.token;
    if token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Rejection::Malformed(SIGNATURE));
    }
    Ok(envelope.signature)
}

/// A verified body's token and signed time (Unix seconds), which the ingress spends once.
pub fn signed_token(body: &[u8]) -> Option<(String, i64)> {
    let signature = signature_of(body).ok()?;
    let secs = parse_timestamp(&signature.timestamp)?.secs;
    Some((signature.token, secs))
}

pub(super) fn verify(body: &[u8], keys: &SigningKeys, window: Window) -> Result<usize, Rejection> {
    let signature = signature_of(body)?;
    let timestamp = parse_timestamp(&signature.timestamp).ok_or(Rejection::Malformed(SIGNATURE))?;
    window.check(timestamp)?;
    let claimed = decode_hex_tag(&signature.signature).ok_or(Rejection::Malformed(SIGNATURE))?;
    matched(
        keys,
        &[timestamp.text.as_bytes(), signature.token.as_bytes()],
        &[claimed],
    )
}

/// Mailgun signs inside the body, so there are no headers to send: [`signed_body`] builds the body.
pub(super) fn sign() -> Vec<(HeaderName, String)> {
    Vec::new()
}

/// A Mailgun body carrying `event_data` (a JSON object), signed with `key` at `timestamp_secs`
/// with `token`.
pub fn signed_body(key: &SigningKey, timestamp_secs: i64, token: &str, event_data: &str) -> String {
    let timestamp = timestamp_secs.to_string();
    let tag = key.tag(&[timestamp.as_bytes(), token.as_bytes()]);
    format!(
        r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{}"}},"event-data":{event_data}}}"#,
        hex::encode(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    // Signed by Mailgun's documented rule with Python's hmac (scripts/signers/sign.py does the same):
    // hex(HMAC-SHA256(key, timestamp + token)).
    const KEY: &str = "key-mailgun-doc-0001";
    const BODY: &[u8] = br#"{"signature":{"timestamp":"1700000000","token":"a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0","signature":"9d73753bc26ababacc69d9a7804468a298d3235d89ffdd8218934fc3016bd581"},"event-data":{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered"}}"#;

    fn check(body: &[u8], now: i64) -> Result<Verified, Rejection> {
        let keys = SignatureScheme::Mailgun.parse_keys(KEY).unwrap();
        SignatureScheme::Mailgun.verify(&http::HeaderMap::new(), body, &keys, now, 300)
    }

    fn body() -> Vec<u8> {
        BODY.to_vec()
    }

    #[test]
    fn the_documented_signature_verifies_and_a_changed_token_does_not() {
        assert_eq!(check(&body(), 1_700_000_000), Ok(Verified { key_index: 0 }));
        let changed = String::from_utf8(body()).unwrap().replace("a8ce0", "a8ce1");
        assert_eq!(
            check(changed.as_bytes(), 1_700_000_000),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn stale_future_and_unsigned_bodies_are_refused() {
        assert_eq!(
            check(&body(), 1_700_000_301),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            check(&body(), 1_699_999_699),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            check(br#"{"event-data":{}}"#, 1_700_000_000),
            Err(Rejection::MissingHeader(SIGNATURE))
        );
        assert_eq!(
            check(b"not json", 1_700_000_000),
            Err(Rejection::MissingHeader(SIGNATURE))
        );
    }

    #[test]
    fn a_token_that_could_not_name_a_record_is_refused() {
        let keys = SignatureScheme::Mailgun.parse_keys(KEY).unwrap();
        for token in ["", "a#b", "a:b", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            let body = signed_body(keys.first().unwrap(), 1_700_000_000, token, "{}");
            assert_eq!(
                check(body.as_bytes(), 1_700_000_000),
                Err(Rejection::Malformed(SIGNATURE)),
                "{token:?}"
            );
        }
        assert_eq!(
            signed_token(&body()),
            Some((
                "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0".to_owned(),
                1_700_000_000
            ))
        );
    }

    #[test]
    fn signed_body_verifies() {
        let keys = SignatureScheme::Mailgun.parse_keys(KEY).unwrap();
        let body = signed_body(
            keys.first().unwrap(),
            1_700_000_000,
            "tok",
            r#"{"id":"e1"}"#,
        );
        assert_eq!(
            check(body.as_bytes(), 1_700_000_000),
            Ok(Verified { key_index: 0 })
        );
    }
}
