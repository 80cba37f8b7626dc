//! Signature schemes: each one verifies a request over the exact raw body bytes, in constant time,
//! against every active secret (several are active while a secret is rotated).
//!
//! A scheme is a value chosen by `SIGNATURE_SCHEME`; a new provider's scheme is a new variant with its
//! own `verify` arm. Every failure is a [`Rejection`], which the ingress answers with an empty 404: the
//! reason only reaches the log.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const STANDARD_WEBHOOKS_SECRET_PREFIX: &str = "whsec_";
const WEBHOOK_ID: &str = "webhook-id";
const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
const WEBHOOK_SIGNATURE: &str = "webhook-signature";
const SHA256_LEN: usize = 32;
/// Longest signature header we look at; anything longer is malformed, not worth parsing.
const MAX_SIGNATURE_HEADER_BYTES: usize = 4096;

/// How the provider signs its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureScheme {
    /// <https://www.standardwebhooks.com/>: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// HMAC-SHA256 of the raw body in a configurable header.
    HmacSha256(GenericHmac),
}

/// Settings of the generic `hmac-sha256` scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericHmac {
    pub header: HeaderName,
    pub encoding: SignatureEncoding,
    /// Text before the signature in the header, such as `sha256=`; may be empty.
    pub prefix: String,
}

/// How a generic signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

/// Why a request was not accepted as authentic. Never shown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("signature header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed")]
    Malformed(&'static str),
    #[error("timestamp is outside the tolerance")]
    StaleTimestamp,
    #[error("no signature matches any active secret")]
    NoMatch,
}

/// A secret value could not be turned into a signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the secret parameter holds no secret")]
    Empty,
    #[error("secret number {position} is not valid base64 after the `whsec_` prefix")]
    NotBase64 { position: usize },
}

/// One HMAC key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// Every secret currently accepted (one normally, two or more while rotating).
#[derive(Debug, Clone)]
pub struct SigningKeys(Vec<SigningKey>);

impl SigningKeys {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self(keys)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&SigningKey> {
        self.0.first()
    }
}

impl SignatureScheme {
    /// The `SIGNATURE_SCHEME` value naming this scheme.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::HmacSha256(_) => "hmac-sha256",
        }
    }

    /// Turns the secret parameter's value into keys: one secret, or several separated by whitespace
    /// or commas. Standard Webhooks secrets are `whsec_` + base64 (the prefix is optional); generic
    /// secrets are used as their UTF-8 bytes.
    pub fn parse_keys(&self, raw: &str) -> Result<SigningKeys, KeyError> {
        let secrets = raw
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty());
        let mut keys = Vec::new();
        for (index, secret) in secrets.enumerate() {
            let bytes = match self {
                Self::StandardWebhooks => {
                    let encoded = secret
                        .strip_prefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
                        .unwrap_or(secret);
                    BASE64.decode(encoded).map_err(|_| KeyError::NotBase64 {
                        position: index + 1,
                    })?
                }
                Self::HmacSha256(_) => secret.as_bytes().to_vec(),
            };
            keys.push(SigningKey(bytes));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(SigningKeys(keys))
    }

    /// Checks the request's signature over `body`, the exact bytes received. `now_secs` is the
    /// current Unix time; timestamped schemes refuse requests more than `tolerance_secs` away from it.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &SigningKeys,
        now_secs: i64,
        tolerance_secs: u64,
    ) -> Result<(), Rejection> {
        match self {
            Self::StandardWebhooks => {
                verify_standard_webhooks(headers, body, keys, now_secs, tolerance_secs)
            }
            Self::HmacSha256(generic) => generic.verify(headers, body, keys),
        }
    }

    /// The event id the provider put in a header, when the scheme defines one.
    pub fn provider_event_id<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        match self {
            Self::StandardWebhooks => header_str(headers, WEBHOOK_ID),
            Self::HmacSha256(_) => None,
        }
    }

    /// Signs `body` as the provider would, returning the headers to send. Used by tests, benchmarks
    /// and the local test-webhook sender; `event_id` only matters for schemes that sign it.
    pub fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        body: &[u8],
    ) -> Vec<(HeaderName, String)> {
        match self {
            Self::StandardWebhooks => {
                let timestamp = timestamp_secs.to_string();
                let tag = key.tag(&[event_id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
                vec![
                    (HeaderName::from_static(WEBHOOK_ID), event_id.to_owned()),
                    (HeaderName::from_static(WEBHOOK_TIMESTAMP), timestamp),
                    (
                        HeaderName::from_static(WEBHOOK_SIGNATURE),
                        format!("v1,{}", BASE64.encode(tag)),
                    ),
                ]
            }
            Self::HmacSha256(generic) => {
                let tag = key.tag(&[body]);
                let encoded = match generic.encoding {
                    SignatureEncoding::Hex => hex::encode(tag),
                    SignatureEncoding::Base64 => BASE64.encode(tag),
                };
                vec![(
                    generic.header.clone(),
                    format!("{}{encoded}", generic.prefix),
                )]
            }
        }
    }
}

impl GenericHmac {
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &SigningKeys,
    ) -> Result<(), Rejection> {
        const HEADER: &str = "generic signature header";
        let value = headers
            .get(&self.header)
            .ok_or(Rejection::MissingHeader(HEADER))?
            .to_str()
            .map_err(|_| Rejection::Malformed(HEADER))?
            .trim();
        if value.len() > MAX_SIGNATURE_HEADER_BYTES {
            return Err(Rejection::Malformed(HEADER));
        }
        let encoded =
            strip_prefix_ignore_case(value, &self.prefix).ok_or(Rejection::Malformed(HEADER))?;
        let claimed = match self.encoding {
            SignatureEncoding::Hex => hex::decode(encoded).ok(),
            SignatureEncoding::Base64 => BASE64.decode(encoded).ok(),
        }
        .ok_or(Rejection::Malformed(HEADER))?;
        if any_key_matches(keys, &[body], std::slice::from_ref(&claimed)) {
            Ok(())
        } else {
            Err(Rejection::NoMatch)
        }
    }
}

fn verify_standard_webhooks(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<(), Rejection> {
    let id = header_str(headers, WEBHOOK_ID).ok_or(Rejection::MissingHeader(WEBHOOK_ID))?;
    let timestamp_text = header_str(headers, WEBHOOK_TIMESTAMP)
        .ok_or(Rejection::MissingHeader(WEBHOOK_TIMESTAMP))?;
    let signatures = header_str(headers, WEBHOOK_SIGNATURE)
        .ok_or(Rejection::MissingHeader(WEBHOOK_SIGNATURE))?;
    if signatures.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(Rejection::Malformed(WEBHOOK_SIGNATURE));
    }
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| Rejection::Malformed(WEBHOOK_TIMESTAMP))?;
    if now_secs.abs_diff(timestamp) > tolerance_secs {
        return Err(Rejection::StaleTimestamp);
    }
    // Space-separated `version,base64` entries; entries of other versions are ignored.
    let claimed: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .filter(|decoded| decoded.len() == SHA256_LEN)
        .collect();
    if claimed.is_empty() {
        return Err(Rejection::Malformed(WEBHOOK_SIGNATURE));
    }
    let signed = [id.as_bytes(), b".", timestamp_text.as_bytes(), b".", body];
    if any_key_matches(keys, &signed, &claimed) {
        Ok(())
    } else {
        Err(Rejection::NoMatch)
    }
}

/// Compares every key's tag with every claimed signature in constant time, without stopping at the
/// first match, so timing does not reveal which key or which position matched.
fn any_key_matches(keys: &SigningKeys, signed: &[&[u8]], claimed: &[Vec<u8>]) -> bool {
    let mut matched = subtle::Choice::from(0);
    for key in &keys.0 {
        let tag = key.tag(signed);
        for candidate in claimed {
            matched |= tag.as_slice().ct_eq(candidate.as_slice());
        }
    }
    matched.into()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn strip_prefix_ignore_case<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example published in the Standard Webhooks specification (and its reference libraries).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID, SPEC_ID.parse().unwrap());
        headers.insert(
            WEBHOOK_TIMESTAMP,
            SPEC_TIMESTAMP.to_string().parse().unwrap(),
        );
        headers.insert(WEBHOOK_SIGNATURE, signature.parse().unwrap());
        headers
    }

    fn spec_keys(raw: &str) -> SigningKeys {
        SignatureScheme::StandardWebhooks.parse_keys(raw).unwrap()
    }

    fn verify_spec(
        headers: &HeaderMap,
        body: &[u8],
        keys: &SigningKeys,
        now: i64,
    ) -> Result<(), Rejection> {
        SignatureScheme::StandardWebhooks.verify(headers, body, keys, now, 300)
    }

    #[test]
    fn standard_webhooks_spec_example_verifies() {
        let keys = spec_keys(SPEC_SECRET);
        assert_eq!(
            verify_spec(
                &spec_headers(SPEC_SIGNATURE),
                SPEC_BODY,
                &keys,
                SPEC_TIMESTAMP
            ),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_sign_reproduces_the_spec_signature() {
        let keys = spec_keys(SPEC_SECRET);
        let headers = SignatureScheme::StandardWebhooks.sign(
            keys.first().unwrap(),
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
        );
        let signature = headers
            .iter()
            .find(|(name, _)| name == WEBHOOK_SIGNATURE)
            .unwrap();
        assert_eq!(signature.1, SPEC_SIGNATURE);
    }

    #[test]
    fn standard_webhooks_rejects_a_changed_body_byte() {
        let keys = spec_keys(SPEC_SECRET);
        let body = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify_spec(&spec_headers(SPEC_SIGNATURE), body, &keys, SPEC_TIMESTAMP),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn standard_webhooks_accepts_any_of_several_signatures_and_secrets() {
        let keys =
            spec_keys("whsec_b3RoZXItc2VjcmV0LW9uZQ==, whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(keys.len(), 2);
        let header = format!("v2,ignored v1,AAAA {SPEC_SIGNATURE}");
        assert_eq!(
            verify_spec(&spec_headers(&header), SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_refuses_timestamps_outside_the_tolerance_both_ways() {
        let keys = spec_keys(SPEC_SECRET);
        let headers = spec_headers(SPEC_SIGNATURE);
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP + 301),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP - 301),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP + 300),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_reports_missing_and_malformed_headers() {
        let keys = spec_keys(SPEC_SECRET);
        let mut headers = spec_headers(SPEC_SIGNATURE);
        headers.remove(WEBHOOK_SIGNATURE);
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Err(Rejection::MissingHeader(WEBHOOK_SIGNATURE))
        );
        let headers = spec_headers("v1,!!!notbase64");
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Err(Rejection::Malformed(WEBHOOK_SIGNATURE))
        );
        let mut headers = spec_headers(SPEC_SIGNATURE);
        headers.insert(WEBHOOK_TIMESTAMP, "yesterday".parse().unwrap());
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Err(Rejection::Malformed(WEBHOOK_TIMESTAMP))
        );
    }

    #[test]
    fn secrets_that_are_not_base64_are_refused_with_their_position() {
        let err = SignatureScheme::StandardWebhooks
            .parse_keys("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_%%%")
            .unwrap_err();
        assert!(matches!(err, KeyError::NotBase64 { position: 2 }));
        assert!(matches!(
            SignatureScheme::StandardWebhooks
                .parse_keys(" ,\n")
                .unwrap_err(),
            KeyError::Empty
        ));
    }

    fn github_style() -> SignatureScheme {
        SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-hub-signature-256"),
            encoding: SignatureEncoding::Hex,
            prefix: "sha256=".to_owned(),
        })
    }

    #[test]
    fn generic_hmac_matches_githubs_published_example() {
        // From GitHub's "Validating webhook deliveries" documentation. The secret holds spaces, which
        // the parameter format reads as separators, so the key is built directly.
        let scheme = github_style();
        let keys = SigningKeys::new(vec![SigningKey::from_bytes(
            b"It's a Secret to Everybody".to_vec(),
        )]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            scheme.verify(&headers, b"Hello, World!", &keys, 0, 300),
            Ok(())
        );
        assert_eq!(
            scheme.verify(&headers, b"Hello, World?", &keys, 0, 300),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn generic_hmac_base64_round_trips_and_requires_its_prefix() {
        let scheme = SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-signature"),
            encoding: SignatureEncoding::Base64,
            prefix: String::new(),
        });
        let keys = scheme.parse_keys("app-secret").unwrap();
        let body = b"\x00\xffbinary";
        let signed: HeaderMap = scheme
            .sign(keys.first().unwrap(), "", 0, body)
            .into_iter()
            .map(|(n, v)| (n, v.parse().unwrap()))
            .collect();
        assert_eq!(scheme.verify(&signed, body, &keys, 0, 300), Ok(()));

        let github = github_style();
        let mut unprefixed = HeaderMap::new();
        unprefixed.insert(
            "x-hub-signature-256",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        let keys = SigningKeys::new(vec![SigningKey::from_bytes(
            b"It's a Secret to Everybody".to_vec(),
        )]);
        assert_eq!(
            github.verify(&unprefixed, b"Hello, World!", &keys, 0, 300),
            Err(Rejection::Malformed("generic signature header"))
        );
    }

    #[test]
    fn signing_key_debug_is_redacted() {
        let keys = spec_keys(SPEC_SECRET);
        assert!(!format!("{keys:?}").contains("MfKQ"));
        assert!(format!("{keys:?}").contains("redacted"));
    }
}
