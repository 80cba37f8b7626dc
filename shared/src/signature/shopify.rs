//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body with the app's client
//! secret; the webhook id and topic are headers. No timestamp is signed: the outbox's dedupe on
//! `X-Shopify-Webhook-Id` is the replay defence.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};

use super::{
    decode_base64_tag, matched, signature_header, Field, KnownHeader, Rejection, SigningKey,
    SigningKeys, Tag,
};

const SIGNATURE: &str = "x-shopify-hmac-sha256";
static SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SIGNATURE);
const WEBHOOK_ID: &str = "x-shopify-webhook-id";

pub(super) const EVENT_ID: &[Field] = &[Field::Header(WEBHOOK_ID)];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Header("x-shopify-topic")];

/// The signature of an `X-Shopify-Hmac-Sha256` value: the base64 of 32 bytes.
pub fn parse_header(value: &str) -> Option<Tag> {
    decode_base64_tag(value)
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
) -> Result<usize, Rejection> {
    let value = signature_header(headers, &SIGNATURE_HEADER)?;
    let claimed = parse_header(value).ok_or(Rejection::Malformed(SIGNATURE))?;
    matched(keys, &[body], &[claimed])
}

pub(super) fn sign(key: &SigningKey, event_id: &str, body: &[u8]) -> Vec<(HeaderName, String)> {
    let mut headers = vec![(
        HeaderName::from_static(SIGNATURE),
        BASE64.encode(key.tag(&[body])),
    )];
    if !event_id.is_empty() {
        headers.push((HeaderName::from_static(WEBHOOK_ID), event_id.to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    // Shopify publishes the formula (base64 of HMAC-SHA256 of the raw body with the client
    // secret), not a vector; this one was computed with Python's hmac module, independently.
    const SECRET: &str = "shpss_example_secret";
    const BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    const SIGNATURE_VALUE: &str = "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g=";

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, signature.parse().unwrap());
        headers
    }

    #[test]
    fn shopify_formula_vector_verifies() {
        let keys = SignatureScheme::Shopify.parse_keys(SECRET).unwrap();
        assert_eq!(
            SignatureScheme::Shopify.verify(&headers(SIGNATURE_VALUE), BODY, &keys, 0, 300),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(sign(keys.first().unwrap(), "", BODY)[0].1, SIGNATURE_VALUE);
    }

    #[test]
    fn shopify_refuses_hex_truncated_and_unpadded_base64() {
        let keys = SignatureScheme::Shopify.parse_keys(SECRET).unwrap();
        for bad in [
            "dfd0c6482b181a1b2c0978a4335ac5bd1b6f2eb1e3677",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYD",
            "35DGSCsYGhssCXikM1rFvRtvLrHjZ3LG9BTZ5lYDs7g=!",
        ] {
            assert_eq!(
                SignatureScheme::Shopify.verify(&headers(bad), BODY, &keys, 0, 300),
                Err(Rejection::Malformed(SIGNATURE)),
                "{bad}"
            );
        }
    }
}
