//! Standard Webhooks (<https://www.standardwebhooks.com/>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (space-separated `v1,<base64>` entries) over `{id}.{timestamp}.{body}`:
//! `v1` is HMAC-SHA256 with a `whsec_` secret, `v1a` Ed25519 checked with a `whpk_` public key.
//!
//! Svix-branded senders (Clerk, Resend and others) send the same scheme as `svix-id`,
//! `svix-timestamp` and `svix-signature`. Each of the three is taken as the Svix libraries take
//! it: the `svix-` header when present, else the `webhook-` one; the event id follows the same
//! rule, so it is always the id that was signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};

use super::asymmetric::ed25519_match;
use super::{
    decode_base64_tag, header_str, matched, parse_timestamp, signature_header, Field, KeyError,
    KnownHeader, Rejection, SigningKey, SigningKeys, Tag, Window,
};

pub const STANDARD_WEBHOOKS_SECRET_PREFIX: &str = "whsec_";
/// The prefix of a `v1a` public key (base64 of the 32-byte Ed25519 key follows).
pub const STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX: &str = "whpk_";
/// The most `v1a` (Ed25519) signatures a header may list.
pub const MAX_V1A_SIGNATURES: usize = 4;
const WEBHOOK_ID: &str = "webhook-id";
const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
const WEBHOOK_SIGNATURE: &str = "webhook-signature";
const SVIX_ID: &str = "svix-id";
const SVIX_TIMESTAMP: &str = "svix-timestamp";
const SVIX_SIGNATURE: &str = "svix-signature";
static ID_HEADER: KnownHeader = KnownHeader::new(WEBHOOK_ID);
static TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(WEBHOOK_TIMESTAMP);
static SIGNATURE_HEADER: KnownHeader = KnownHeader::new(WEBHOOK_SIGNATURE);
static SVIX_ID_HEADER: KnownHeader = KnownHeader::new(SVIX_ID);
static SVIX_TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(SVIX_TIMESTAMP);
static SVIX_SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SVIX_SIGNATURE);

/// The headers the signature covers: the id and the timestamp, under either name.
pub(super) const SIGNED_HEADERS: &[&str] =
    &[WEBHOOK_ID, WEBHOOK_TIMESTAMP, SVIX_ID, SVIX_TIMESTAMP];

/// `svix-id` first, as in [`verify`]: the id that was signed.
pub(super) const EVENT_ID: &[Field] = &[Field::Header(SVIX_ID), Field::Header(WEBHOOK_ID)];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Pointer("/type")];

/// The specification's shortest secret: 24 bytes (192 bits).
pub const MIN_SECRET_BYTES: usize = 24;

/// A secret's key bytes: base64 after the `whsec_` prefix, at least [`MIN_SECRET_BYTES`] of them.
/// Secret number `position` in the parameter (from 1), for the message.
pub(super) fn key_bytes(secret: &str, position: usize) -> Result<Vec<u8>, KeyError> {
    let encoded = secret
        .strip_prefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
        .ok_or(KeyError::NoPrefix { position })?;
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| KeyError::NotBase64 { position })?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(KeyError::TooShort {
            position,
            len: bytes.len(),
            min: MIN_SECRET_BYTES,
        });
    }
    Ok(bytes)
}

/// The `v1` signatures of a `webhook-signature` header; entries of other versions and undecodable
/// ones are ignored, as the specification asks.
pub fn parse_header(value: &str) -> Vec<Tag> {
    value
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(decode_base64_tag)
        .collect()
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    window: Window,
) -> Result<usize, Rejection> {
    let id = header_str(headers, &SVIX_ID_HEADER)
        .or_else(|| header_str(headers, &ID_HEADER))
        .ok_or(Rejection::MissingHeader(WEBHOOK_ID))?;
    let timestamp_text = header_str(headers, &SVIX_TIMESTAMP_HEADER)
        .or_else(|| header_str(headers, &TIMESTAMP_HEADER))
        .ok_or(Rejection::MissingHeader(WEBHOOK_TIMESTAMP))?;
    let signatures = if headers.contains_key(&SVIX_SIGNATURE_HEADER.header) {
        signature_header(headers, &SVIX_SIGNATURE_HEADER)?
    } else {
        signature_header(headers, &SIGNATURE_HEADER)?
    };
    let timestamp =
        parse_timestamp(timestamp_text).ok_or(Rejection::Malformed(WEBHOOK_TIMESTAMP))?;
    window.check(timestamp)?;
    let claimed = parse_header(signatures);
    let entries = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1a,"));
    // Each `v1a` entry costs an Ed25519 verification over the whole body per public key: past a
    // few (a sender lists one per active key) the header is refused before any is tried.
    if entries.clone().count() > MAX_V1A_SIGNATURES {
        return Err(Rejection::Malformed(WEBHOOK_SIGNATURE));
    }
    let asymmetric: Vec<[u8; 64]> = entries.filter_map(decode_ed25519_signature).collect();
    if claimed.is_empty() && asymmetric.is_empty() {
        return Err(Rejection::Malformed(WEBHOOK_SIGNATURE));
    }
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.text.as_bytes(), b".", body];
    let by_secret = matched(keys, &parts, &claimed);
    if by_secret.is_ok() || asymmetric.is_empty() || keys.1.is_empty() {
        return by_secret;
    }
    let message = parts.concat();
    asymmetric
        .iter()
        .find_map(|signature| ed25519_match(keys, &message, signature))
        .map(|position| keys.0.len() + position)
        .ok_or(Rejection::NoMatch)
}

/// A base64 Ed25519 signature (64 bytes); `None` for anything else.
fn decode_ed25519_signature(text: &str) -> Option<[u8; 64]> {
    let mut decoded = [0; 96];
    let len = BASE64.decode_slice(text, &mut decoded).ok()?;
    decoded[..len].try_into().ok()
}

/// Signs as a `v1a` sender does, for tests and benchmarks that hold the private key.
pub fn sign_v1a(
    key: &ed25519_dalek::SigningKey,
    event_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
    use ed25519_dalek::Signer as _;
    let timestamp = timestamp_secs.to_string();
    let message = [event_id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    vec![
        (HeaderName::from_static(WEBHOOK_ID), event_id.to_owned()),
        (HeaderName::from_static(WEBHOOK_TIMESTAMP), timestamp),
        (
            HeaderName::from_static(WEBHOOK_SIGNATURE),
            format!("v1a,{}", BASE64.encode(key.sign(&message).to_bytes())),
        ),
    ]
}

pub(super) fn sign(
    key: &SigningKey,
    event_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
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

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
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
    ) -> Result<Verified, Rejection> {
        SignatureScheme::StandardWebhooks.verify(headers, body, keys, now, 300)
    }

    const FIRST_KEY: Result<Verified, Rejection> = Ok(Verified { key_index: 0 });

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
            FIRST_KEY
        );
    }

    #[test]
    fn standard_webhooks_sign_reproduces_the_spec_signature() {
        let keys = spec_keys(SPEC_SECRET);
        let headers = sign(keys.first().unwrap(), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
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
        let keys = spec_keys(
            "whsec_b2xkLXNlY3JldC1vZi0yNC1ieXRlcy0wMDAx, whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
        assert_eq!(keys.len(), 2);
        let header = format!("v2,ignored v1,AAAA {SPEC_SIGNATURE}");
        assert_eq!(
            verify_spec(&spec_headers(&header), SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Ok(Verified { key_index: 1 })
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
            FIRST_KEY
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
    fn svix_header_names_verify_and_name_the_signed_id() {
        let keys = spec_keys(SPEC_SECRET);
        let mut headers = HeaderMap::new();
        headers.insert(SVIX_ID, SPEC_ID.parse().unwrap());
        headers.insert(SVIX_TIMESTAMP, SPEC_TIMESTAMP.to_string().parse().unwrap());
        headers.insert(SVIX_SIGNATURE, SPEC_SIGNATURE.parse().unwrap());
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            FIRST_KEY
        );
        // An unsigned `webhook-id` beside them changes neither what is verified nor the event id.
        headers.insert(WEBHOOK_ID, "msg_other".parse().unwrap());
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            FIRST_KEY
        );
        let id = crate::event::event_id(
            &SignatureScheme::StandardWebhooks,
            &crate::config::EventIdRule::default(),
            &headers,
            SPEC_BODY,
            &crate::event::LazyJson::default(),
        );
        assert_eq!(id.value, SPEC_ID);
        // A svix-id that is not the signed one does not verify.
        headers.insert(SVIX_ID, "msg_forged".parse().unwrap());
        assert_eq!(
            verify_spec(&headers, SPEC_BODY, &keys, SPEC_TIMESTAMP),
            Err(Rejection::NoMatch)
        );
    }

    #[test]
    fn secrets_that_are_not_base64_are_refused_with_their_position() {
        let err = SignatureScheme::StandardWebhooks
            .parse_keys("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_%%%")
            .unwrap_err();
        assert!(matches!(
            err,
            super::super::KeyError::NotBase64 { position: 2 }
        ));
        assert!(matches!(
            SignatureScheme::StandardWebhooks
                .parse_keys(" ,\n")
                .unwrap_err(),
            super::super::KeyError::Empty
        ));
    }

    #[test]
    fn secrets_without_the_prefix_or_shorter_than_the_spec_minimum_are_refused() {
        let parse = |raw: &str| SignatureScheme::StandardWebhooks.parse_keys(raw);
        // The spec's example secret is exactly the minimum, 24 bytes.
        assert!(parse(SPEC_SECRET).is_ok());
        let cases = [
            // The base64 alone, as a secret pasted without its prefix.
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "secret number 1 has neither the `whsec_` prefix of a Standard Webhooks secret nor the `whpk_` of its public key",
            ),
            (
                "whsec_",
                "secret number 1 is 0 bytes after `whsec_`: the Standard Webhooks specification asks for at least 24",
            ),
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_b2xkLXNlY3JldA==",
                "secret number 2 is 10 bytes after `whsec_`: the Standard Webhooks specification asks for at least 24",
            ),
            ("", "the secret parameter holds no secret"),
        ];
        for (raw, message) in cases {
            assert_eq!(parse(raw).unwrap_err().to_string(), message, "{raw:?}");
        }
    }
}

#[cfg(test)]
mod v1a_tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    // Made by scripts/signers/sign.py with PyNaCl, private key 01..01 (hex), per the Standard
    // Webhooks specification's `v1a` rule (Ed25519 over `{id}.{timestamp}.{body}`).
    const PUBLIC_KEY: &str = "whpk_iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";
    const SIGNATURE: &str = "v1a,jn/33YPStkpIRrhwhrgBRwpAZApkPGSM8HTbOZQSxhgceM0X/CicNOn7Ph5JfPaJiEpIJ6m7j7oqVP6zvRoEAg==";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID, "msg_1".parse().unwrap());
        headers.insert(WEBHOOK_TIMESTAMP, "1700000000".parse().unwrap());
        headers.insert(WEBHOOK_SIGNATURE, signature.parse().unwrap());
        headers
    }

    #[test]
    fn v1a_verifies_with_a_whpk_key_beside_a_whsec_secret() {
        let scheme = SignatureScheme::StandardWebhooks;
        let keys = scheme
            .parse_keys(&format!(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw {PUBLIC_KEY}"
            ))
            .unwrap();
        assert_eq!(keys.len(), 2);
        let check = |headers: &HeaderMap, body: &[u8], now: i64| {
            scheme.verify(headers, body, &keys, now, 300)
        };
        assert_eq!(
            check(&headers(SIGNATURE), BODY, 1_700_000_000),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            check(
                &headers(&format!("v1,AAAA {SIGNATURE}")),
                BODY,
                1_700_000_000
            ),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            check(&headers(SIGNATURE), b"{}", 1_700_000_000),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            check(&headers(SIGNATURE), BODY, 1_700_000_301),
            Err(Rejection::StaleTimestamp)
        );
        let ed = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let ours = sign_v1a(&ed, "msg_1", 1_700_000_000, BODY);
        assert_eq!(ours[2].1, SIGNATURE);
        assert!(matches!(
            scheme.parse_keys("whpk_short"),
            Err(super::super::KeyError::NotPublicKey { position: 1, .. })
        ));
    }

    #[test]
    fn at_most_a_few_v1a_signatures_are_tried() {
        let scheme = SignatureScheme::StandardWebhooks;
        let keys = scheme.parse_keys(PUBLIC_KEY).unwrap();
        let forged = format!("v1a,{}", BASE64.encode([7_u8; 64]));
        let listed = |forged_before: usize| {
            let mut entries = vec![forged.as_str(); forged_before];
            entries.push(SIGNATURE);
            headers(&entries.join(" "))
        };
        // The genuine signature after a few forged ones still verifies...
        assert_eq!(
            scheme.verify(
                &listed(MAX_V1A_SIGNATURES - 1),
                BODY,
                &keys,
                1_700_000_000,
                300
            ),
            Ok(Verified { key_index: 0 })
        );
        // ... but 50 entries are refused before any Ed25519 verification.
        assert_eq!(
            scheme.verify(&listed(49), BODY, &keys, 1_700_000_000, 300),
            Err(Rejection::Malformed(WEBHOOK_SIGNATURE))
        );
        assert_eq!(
            scheme.verify(&listed(MAX_V1A_SIGNATURES), BODY, &keys, 1_700_000_000, 300),
            Err(Rejection::Malformed(WEBHOOK_SIGNATURE))
        );
    }
}
