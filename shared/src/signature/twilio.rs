//! Twilio: `X-Twilio-Signature: <base64>`, HMAC-SHA1 with the account's auth token of the URL
//! Twilio requested followed by every form parameter of the body, sorted by name (then value),
//! each as name and value concatenated. For a JSON body the URL carries `bodySHA256`, the hex
//! SHA-256 of the body, and the signature covers the URL alone. The id is Twilio's
//! `I-Twilio-Idempotency-Token` header.

use http::HeaderName;
use sha2::{Digest, Sha256};

use super::declarative::{match_claims, Algorithm, Encoding};
use super::{Field, Rejection, SignedRequest, SigningKey, SigningKeys, MAX_SIGNATURE_HEADER_BYTES};

const SIGNATURE: &str = "x-twilio-signature";
const BODY_HASH: &str = "bodySHA256";
pub(super) const EVENT_ID: &[Field] = &[Field::Header("i-twilio-idempotency-token")];

/// The `bodySHA256` query parameter of `url`, if any.
fn body_hash_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == BODY_HASH)
        .map(|(_, value)| value.into_owned())
}

/// What Twilio signs: the URL, then (for a form body) the sorted parameters.
fn signed_message(request: &SignedRequest<'_>) -> Result<Vec<u8>, Rejection> {
    let mut message = request.url.as_bytes().to_vec();
    match body_hash_param(request.url) {
        Some(claimed) => {
            // The hash is public, so an ordinary comparison reveals nothing.
            if !claimed.eq_ignore_ascii_case(&hex::encode(Sha256::digest(request.body))) {
                return Err(Rejection::NoMatch);
            }
        }
        None => {
            let mut params: Vec<(String, String)> = form_urlencoded::parse(request.body)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            params.sort();
            params.dedup();
            for (name, value) in params {
                message.extend_from_slice(name.as_bytes());
                message.extend_from_slice(value.as_bytes());
            }
        }
    }
    Ok(message)
}

pub(super) fn verify(request: &SignedRequest<'_>, keys: &SigningKeys) -> Result<usize, Rejection> {
    let value = request
        .headers
        .get(SIGNATURE)
        .ok_or(Rejection::MissingHeader(SIGNATURE))?
        .to_str()
        .map_err(|_| Rejection::Malformed(SIGNATURE))?
        .trim();
    if value.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(Rejection::Malformed(SIGNATURE));
    }
    let message = signed_message(request)?;
    match_claims(Algorithm::Sha1, keys, &[&message], |compare| {
        if let Some(claimed) = Encoding::Base64.decode(value) {
            compare(&claimed);
        }
    })
    .map_err(|rejection| match rejection {
        Rejection::Malformed(_) => Rejection::Malformed(SIGNATURE),
        other => other,
    })
}

pub(super) fn sign(
    key: &SigningKey,
    event_id: &str,
    request: &SignedRequest<'_>,
) -> Vec<(HeaderName, String)> {
    let message = signed_message(request).unwrap_or_default();
    let tag = Algorithm::Sha1.tag(key, &[&message]);
    vec![
        (
            HeaderName::from_static("i-twilio-idempotency-token"),
            event_id.to_owned(),
        ),
        (
            HeaderName::from_static(SIGNATURE),
            Encoding::Base64.encode(&tag),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::{Rejection, SignatureScheme, Verified};
    use super::*;

    // The example in Twilio's security documentation ("Validating signatures from Twilio"):
    // auth token 12345, this URL and these form parameters, signature
    // 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    const SIGNED: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    fn check(url: &str, body: &[u8], signature: &str) -> Result<Verified, Rejection> {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, signature.parse().unwrap());
        let keys = SignatureScheme::Twilio.parse_keys(TOKEN).unwrap();
        let request = SignedRequest {
            method: "POST",
            url,
            headers: &headers,
            body,
        };
        SignatureScheme::Twilio.verify_request(&request, &keys, 0, 300)
    }

    #[test]
    fn twilios_published_form_example_verifies_in_any_parameter_order() {
        assert_eq!(check(URL, FORM, SIGNED), Ok(Verified { key_index: 0 }));
        let reordered = b"To=%2B18005551212&From=%2B12349013030&Digits=1234&Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
        assert_eq!(check(URL, reordered, SIGNED), Ok(Verified { key_index: 0 }));
        assert_eq!(
            check(URL, b"CallSid=CA1234567890ABCDE&Digits=1235", SIGNED),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            check("https://mycompany.com/other.php?foo=1&bar=2", FORM, SIGNED),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn a_json_body_is_covered_by_the_signed_body_hash_in_the_url() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!(
            "https://example.com/myapp?{BODY_HASH}={}",
            hex::encode(Sha256::digest(body))
        );
        let keys = SignatureScheme::Twilio.parse_keys(TOKEN).unwrap();
        let empty = HeaderMap::new();
        let request = SignedRequest {
            method: "POST",
            url: &url,
            headers: &empty,
            body,
        };
        let signed = sign(keys.first().unwrap(), "id", &request);
        assert_eq!(
            check(&url, body, &signed[1].1),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(
            check(&url, br#"{"property": "other"}"#, &signed[1].1),
            Err(Rejection::NoMatch)
        );
    }
}
