//! Twilio: `X-Twilio-Signature: <base64>`, HMAC-SHA1 with the account's auth token of the URL
//! Twilio requested followed by every form parameter of the body, sorted by name (then value),
//! each as name and value concatenated. For a JSON body Twilio adds `bodySHA256`, the hex SHA-256
//! of the body, to the URL's query, and the signature covers that URL alone. The id is Twilio's
//! `I-Twilio-Idempotency-Token` header.
//!
//! The URL is `PUBLIC_URL`, exactly as configured at Twilio: never the request's own host, path or
//! query, which whoever sends the request chooses (a URL taken from the request would let a
//! captured form request, whose parameters hold text the sender chose, be re-sent as a JSON body
//! "signed" by a `bodySHA256` spliced into the request's query). Whether the body is a form or JSON
//! is decided by `Content-Type` alone.

use std::borrow::Cow;

use http::HeaderName;
use sha2::{Digest, Sha256};

use super::declarative::{match_claims, Algorithm, Encoding};
use super::{Field, Rejection, SignedRequest, SigningKey, SigningKeys, MAX_SIGNATURE_HEADER_BYTES};

const SIGNATURE: &str = "x-twilio-signature";
const CONTENT_TYPE: &str = "content-type";
const BODY_HASH: &str = "bodySHA256";
pub(super) const EVENT_ID: &[Field] = &[Field::Header("i-twilio-idempotency-token")];
/// The most form parameters a request may carry: Twilio's webhooks send a few dozen. Past it the
/// request is refused before any HMAC is computed.
pub const MAX_FORM_PARAMS: usize = 512;

/// How the body is signed, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/x-www-form-urlencoded`: the sorted parameters follow the URL.
    Form,
    /// `application/json`: the URL with `bodySHA256` added is signed, the body hashes to it.
    Json,
}

/// The body's kind from the `Content-Type` header's media type (parameters such as `charset`
/// ignored); anything else is refused.
fn body_kind(request: &SignedRequest<'_>) -> Result<BodyKind, Rejection> {
    let value = request
        .headers
        .get(CONTENT_TYPE)
        .ok_or(Rejection::MissingHeader(CONTENT_TYPE))?
        .to_str()
        .map_err(|_| Rejection::Malformed(CONTENT_TYPE))?;
    let media = value.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else if media.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else {
        Err(Rejection::Malformed(CONTENT_TYPE))
    }
}

/// A form parameter's name and value, borrowed from the body unless decoding changed them.
type Param<'b> = (Cow<'b, str>, Cow<'b, str>);

/// The form parameters, sorted and without repeated pairs, as Twilio's own validators take them;
/// borrowed from the body where no decoding was needed. More than [`MAX_FORM_PARAMS`] is refused.
fn sorted_params(body: &[u8]) -> Result<Vec<Param<'_>>, Rejection> {
    let mut params = Vec::new();
    for pair in form_urlencoded::parse(body) {
        if params.len() == MAX_FORM_PARAMS {
            return Err(Rejection::Malformed("form body"));
        }
        params.push(pair);
    }
    params.sort_unstable();
    params.dedup();
    Ok(params)
}

/// Calls `with` with the parts Twilio signs, in order, as if concatenated: `PUBLIC_URL`, then the
/// sorted form parameters, or `bodySHA256` added to the URL's query for a JSON body.
fn with_signed_parts<T>(
    request: &SignedRequest<'_>,
    with: impl FnOnce(&[&[u8]]) -> T,
) -> Result<T, Rejection> {
    let url = request.url.as_bytes();
    match body_kind(request)? {
        BodyKind::Json => {
            let separator: &[u8] = if request.url.contains('?') {
                b"&"
            } else {
                b"?"
            };
            let hash = hex::encode(Sha256::digest(request.body));
            Ok(with(&[
                url,
                separator,
                BODY_HASH.as_bytes(),
                b"=",
                hash.as_bytes(),
            ]))
        }
        BodyKind::Form => {
            let params = sorted_params(request.body)?;
            let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 2 * params.len());
            parts.push(url);
            for (name, value) in &params {
                parts.push(name.as_bytes());
                parts.push(value.as_bytes());
            }
            Ok(with(&parts))
        }
    }
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
    if request.url.is_empty() {
        // Unreachable through the configuration, which requires PUBLIC_URL for this scheme.
        return Err(Rejection::NoMatch);
    }
    with_signed_parts(request, |parts| {
        match_claims(Algorithm::Sha1, keys, parts, |compare| {
            if let Some(claimed) = Encoding::Base64.decode(value) {
                compare(&claimed);
            }
        })
    })?
    .map_err(|rejection| match rejection {
        Rejection::Malformed(_) => Rejection::Malformed(SIGNATURE),
        other => other,
    })
}

/// Signs as Twilio does; the request's `Content-Type` says whether the body is JSON (a form when
/// it has none).
pub(super) fn sign(
    key: &SigningKey,
    event_id: &str,
    request: &SignedRequest<'_>,
) -> Vec<(HeaderName, String)> {
    let mut headers = request.headers.clone();
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
    let with_type = SignedRequest {
        headers: &headers,
        ..*request
    };
    let tag = with_signed_parts(&with_type, |parts| Algorithm::Sha1.tag(key, parts))
        .unwrap_or_else(|_| Algorithm::Sha1.tag(key, &[]));
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
    const FORM_TYPE: &str = "application/x-www-form-urlencoded";
    const JSON_TYPE: &str = "application/json";

    fn headers(content_type: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, signature.parse().unwrap());
        if !content_type.is_empty() {
            headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        }
        headers
    }

    fn check_typed(
        url: &str,
        content_type: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<Verified, Rejection> {
        let headers = headers(content_type, signature);
        let keys = SignatureScheme::Twilio.parse_keys(TOKEN).unwrap();
        let request = SignedRequest {
            method: "POST",
            url,
            headers: &headers,
            body,
        };
        SignatureScheme::Twilio.verify_request(&request, &keys, 0, 300)
    }

    fn check(url: &str, body: &[u8], signature: &str) -> Result<Verified, Rejection> {
        check_typed(url, FORM_TYPE, body, signature)
    }

    fn signed(url: &str, content_type: &str, body: &[u8]) -> String {
        let keys = SignatureScheme::Twilio.parse_keys(TOKEN).unwrap();
        let headers = headers(content_type, "x");
        let request = SignedRequest {
            method: "POST",
            url,
            headers: &headers,
            body,
        };
        sign(keys.first().unwrap(), "id", &request)[1].1.clone()
    }

    #[test]
    fn twilios_published_form_example_verifies_in_any_parameter_order() {
        assert_eq!(check(URL, FORM, SIGNED), Ok(Verified { key_index: 0 }));
        let reordered = b"To=%2B18005551212&From=%2B12349013030&Digits=1234&Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
        assert_eq!(check(URL, reordered, SIGNED), Ok(Verified { key_index: 0 }));
        assert_eq!(
            check_typed(
                URL,
                "Application/X-WWW-Form-Urlencoded; charset=utf-8",
                FORM,
                SIGNED
            ),
            Ok(Verified { key_index: 0 })
        );
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
    fn a_json_body_is_covered_by_the_body_hash_added_to_the_public_url() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = "https://example.com/myapp";
        let signature = signed(url, JSON_TYPE, body);
        // What Twilio signs: the URL with `bodySHA256` added to its query.
        let keys = SignatureScheme::Twilio.parse_keys(TOKEN).unwrap();
        let with_hash = format!("{url}?{BODY_HASH}={}", hex::encode(Sha256::digest(body)));
        let expected = Algorithm::Sha1.tag(keys.first().unwrap(), &[with_hash.as_bytes()]);
        assert_eq!(signature, Encoding::Base64.encode(&expected));
        assert_eq!(
            check_typed(url, JSON_TYPE, body, &signature),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(
            check_typed(url, JSON_TYPE, br#"{"property": "other"}"#, &signature),
            Err(Rejection::NoMatch)
        );
        // A URL with a query of its own gets `&bodySHA256=...`.
        let signature = signed(URL, JSON_TYPE, body);
        let with_hash = format!("{URL}&{BODY_HASH}={}", hex::encode(Sha256::digest(body)));
        let expected = Algorithm::Sha1.tag(keys.first().unwrap(), &[with_hash.as_bytes()]);
        assert_eq!(signature, Encoding::Base64.encode(&expected));
    }

    #[test]
    fn the_body_kind_is_the_content_types_and_nothing_else() {
        let body = br#"{"a":1}"#;
        let as_json = signed(URL, JSON_TYPE, body);
        // The same bytes as a form are not what was signed, nor a form body's signature as JSON.
        assert_eq!(
            check_typed(URL, FORM_TYPE, body, &as_json),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            check_typed(URL, JSON_TYPE, FORM, SIGNED),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            check_typed(URL, "", FORM, SIGNED),
            Err(Rejection::MissingHeader(CONTENT_TYPE))
        );
        assert_eq!(
            check_typed(URL, "text/plain", FORM, SIGNED),
            Err(Rejection::Malformed(CONTENT_TYPE))
        );
    }

    /// The splice: a captured form request whose one parameter holds text the sender chose (an SMS
    /// body), re-sent as a JSON body whose hash that text names. Verified against the request's
    /// own URL, it passed; against `PUBLIC_URL` it cannot.
    #[test]
    fn a_captured_form_request_cannot_be_spliced_into_a_json_body() {
        let public_url = "https://hooks.example.com/twilio";
        let forged = br#"{"EventType":"forged"}"#;
        let hash = hex::encode(Sha256::digest(forged));
        let sms = format!("hi?{BODY_HASH}={hash}&y=");
        let form = format!(
            "Body={}&From=%2B15005550006",
            form_urlencoded::byte_serialize(sms.as_bytes()).collect::<String>()
        );
        let captured = signed(public_url, FORM_TYPE, form.as_bytes());
        assert_eq!(
            check(public_url, form.as_bytes(), &captured),
            Ok(Verified { key_index: 0 })
        );
        // The signed string is `{PUBLIC_URL}Body{sms}From+15005550006`: the forger moved its
        // start into the request's URL, which the ingress no longer reads.
        assert_eq!(
            check_typed(public_url, JSON_TYPE, forged, &captured),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn too_many_form_parameters_are_refused_before_any_hmac() {
        let form = "a=1&".repeat(MAX_FORM_PARAMS + 1);
        assert_eq!(
            check(URL, form.as_bytes(), SIGNED),
            Err(Rejection::Malformed("form body"))
        );
        let form = "a=1&".repeat(MAX_FORM_PARAMS);
        assert_eq!(check(URL, form.as_bytes(), SIGNED), Err(Rejection::NoMatch));
    }
}
