//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body; the delivery id and the
//! event name are headers. GitHub signs no timestamp: replays are caught by the outbox's dedupe on
//! `X-GitHub-Delivery` (a redelivery from GitHub's console keeps its delivery id).

use http::{HeaderMap, HeaderName};

use super::{
    decode_hex_tag, matched, signature_header, Field, KnownHeader, Rejection, SigningKey,
    SigningKeys, Tag,
};

const SIGNATURE: &str = "x-hub-signature-256";
static SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SIGNATURE);
const DELIVERY: &str = "x-github-delivery";

pub(super) const EVENT_ID: &[Field] = &[Field::Header(DELIVERY)];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Header("x-github-event")];

/// The signature of an `X-Hub-Signature-256` value: `sha256=` then 64 hex digits.
pub fn parse_header(value: &str) -> Option<Tag> {
    value.strip_prefix("sha256=").and_then(decode_hex_tag)
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
        format!("sha256={}", hex::encode(key.tag(&[body]))),
    )];
    if !event_id.is_empty() {
        headers.push((HeaderName::from_static(DELIVERY), event_id.to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    /// GitHub's published example ("Validating webhook deliveries"): secret
    /// `It's a Secret to Everybody`, payload `Hello, World!`.
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn doc_keys() -> SigningKeys {
        // The documented secret holds spaces, which the parameter format reads as separators.
        SigningKeys::new(vec![SigningKey::from_bytes(
            b"It's a Secret to Everybody".to_vec(),
        )])
    }

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, signature.parse().unwrap());
        headers
    }

    #[test]
    fn githubs_published_example_verifies_and_sign_reproduces_it() {
        let scheme = SignatureScheme::GitHub;
        assert_eq!(
            scheme.verify(
                &headers(DOC_SIGNATURE),
                b"Hello, World!",
                &doc_keys(),
                0,
                300
            ),
            Ok(Verified { key_index: 0 })
        );
        let signed = sign(doc_keys().first().unwrap(), "", b"Hello, World!");
        assert_eq!(
            signed,
            vec![(HeaderName::from_static(SIGNATURE), DOC_SIGNATURE.to_owned())]
        );
        assert_eq!(
            scheme.verify(
                &headers(DOC_SIGNATURE),
                b"Hello, World?",
                &doc_keys(),
                0,
                300
            ),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn github_refuses_other_algorithms_and_bad_hex() {
        let scheme = SignatureScheme::GitHub;
        for bad in [
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(
                scheme.verify(&headers(bad), b"Hello, World!", &doc_keys(), 0, 300),
                Err(Rejection::Malformed(SIGNATURE)),
                "{bad}"
            );
        }
        assert_eq!(
            scheme.verify(&HeaderMap::new(), b"Hello, World!", &doc_keys(), 0, 300),
            Err(Rejection::MissingHeader(SIGNATURE))
        );
    }
}
