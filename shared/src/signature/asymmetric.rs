//! Schemes signed with the provider's private key and checked with its public key: Discord
//! interactions (Ed25519), SendGrid's Event Webhook (ECDSA P-256 with SHA-256) and Standard
//! Webhooks `v1a` (Ed25519, in `standard_webhooks.rs`). The secret parameter holds public keys as
//! each dashboard shows them; they are parsed once, when the parameter is read. Nothing here is
//! secret, so comparisons need not be constant time.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use p256::pkcs8::DecodePublicKey as _;

use super::{header_str, parse_timestamp, Field, KnownHeader, Rejection, SigningKeys, Window};

/// A provider's public key.
#[derive(Clone)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ed25519(_) => "PublicKey(Ed25519)",
            Self::P256(_) => "PublicKey(P-256)",
        })
    }
}

/// An Ed25519 public key written as 64 hex digits (Discord's "application public key").
pub(super) fn ed25519_from_hex(text: &str) -> Option<PublicKey> {
    let mut bytes = [0_u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .ok()
        .map(PublicKey::Ed25519)
}

/// An Ed25519 public key as base64 of its 32 bytes (Standard Webhooks' `whpk_` keys).
pub(super) fn ed25519_from_base64(text: &str) -> Option<PublicKey> {
    let mut bytes = [0_u8; 48];
    let len = BASE64.decode_slice(text, &mut bytes).ok()?;
    let bytes: [u8; 32] = bytes[..len].try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .ok()
        .map(PublicKey::Ed25519)
}

/// A P-256 public key as base64 of its DER SubjectPublicKeyInfo (SendGrid's verification key).
pub(super) fn p256_from_base64_der(text: &str) -> Option<PublicKey> {
    let der = BASE64.decode(text).ok()?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der)
        .ok()
        .map(PublicKey::P256)
}

/// The position of the first active Ed25519 key under which `signature` signs `message`.
pub(super) fn ed25519_match(
    keys: &SigningKeys,
    message: &[u8],
    signature: &[u8; 64],
) -> Option<usize> {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    keys.1.iter().position(|key| match key {
        PublicKey::Ed25519(key) => key.verify_strict(message, &signature).is_ok(),
        PublicKey::P256(_) => false,
    })
}

const DISCORD_SIGNATURE: &str = "x-signature-ed25519";
const DISCORD_TIMESTAMP: &str = "x-signature-timestamp";
static DISCORD_SIGNATURE_HEADER: KnownHeader = KnownHeader::new(DISCORD_SIGNATURE);
static DISCORD_TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(DISCORD_TIMESTAMP);
pub(super) const DISCORD_SIGNED_HEADERS: &[&str] = &[DISCORD_TIMESTAMP];
pub(super) const DISCORD_EVENT_ID: &[Field] = &[Field::Pointer("/id")];
pub(super) const DISCORD_EVENT_TYPE: &[Field] = &[Field::Pointer("/type")];

/// The signed message of schemes that sign `{timestamp}{body}`.
fn timestamp_and_body(timestamp: &str, body: &[u8]) -> Vec<u8> {
    [timestamp.as_bytes(), body].concat()
}

/// Discord: `X-Signature-Ed25519` (hex) over `X-Signature-Timestamp` followed by the body.
pub(super) fn verify_discord(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    window: Window,
) -> Result<usize, Rejection> {
    let signature_text = header_str(headers, &DISCORD_SIGNATURE_HEADER)
        .ok_or(Rejection::MissingHeader(DISCORD_SIGNATURE))?;
    let timestamp_text = header_str(headers, &DISCORD_TIMESTAMP_HEADER)
        .ok_or(Rejection::MissingHeader(DISCORD_TIMESTAMP))?;
    let timestamp =
        parse_timestamp(timestamp_text).ok_or(Rejection::Malformed(DISCORD_TIMESTAMP))?;
    window.check(timestamp)?;
    let mut signature = [0_u8; 64];
    hex::decode_to_slice(signature_text, &mut signature)
        .map_err(|_| Rejection::Malformed(DISCORD_SIGNATURE))?;
    ed25519_match(keys, &timestamp_and_body(timestamp.text, body), &signature)
        .ok_or(Rejection::NoMatch)
}

/// A Discord PING (`"type": 1`), which must be answered with `{"type":1}`. Call only once the
/// request verified.
pub(super) fn discord_ping(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Interaction {
        #[serde(rename = "type")]
        kind: u8,
    }
    serde_json::from_slice::<Interaction>(body).is_ok_and(|interaction| interaction.kind == 1)
}

/// Signs as Discord does, for tests and benchmarks that hold the private key.
pub fn sign_discord(
    key: &ed25519_dalek::SigningKey,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
    use ed25519_dalek::Signer as _;
    let timestamp = timestamp_secs.to_string();
    let signature = key.sign(&timestamp_and_body(&timestamp, body));
    vec![
        (HeaderName::from_static(DISCORD_TIMESTAMP), timestamp),
        (
            HeaderName::from_static(DISCORD_SIGNATURE),
            hex::encode(signature.to_bytes()),
        ),
    ]
}

const SENDGRID_SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const SENDGRID_TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";
static SENDGRID_SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SENDGRID_SIGNATURE);
static SENDGRID_TIMESTAMP_HEADER: KnownHeader = KnownHeader::new(SENDGRID_TIMESTAMP);
pub(super) const SENDGRID_SIGNED_HEADERS: &[&str] = &[SENDGRID_TIMESTAMP];
/// SendGrid posts an array of events; the first one names the batch.
pub(super) const SENDGRID_EVENT_ID: &[Field] = &[Field::Pointer("/0/sg_event_id")];
pub(super) const SENDGRID_EVENT_TYPE: &[Field] = &[Field::Pointer("/0/event")];

/// SendGrid: `X-Twilio-Email-Event-Webhook-Signature` (base64 DER ECDSA signature) over
/// `X-Twilio-Email-Event-Webhook-Timestamp` followed by the body, SHA-256, P-256.
pub(super) fn verify_sendgrid(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    window: Window,
) -> Result<usize, Rejection> {
    use p256::ecdsa::signature::Verifier as _;
    let signature_text = header_str(headers, &SENDGRID_SIGNATURE_HEADER)
        .ok_or(Rejection::MissingHeader(SENDGRID_SIGNATURE))?;
    let timestamp_text = header_str(headers, &SENDGRID_TIMESTAMP_HEADER)
        .ok_or(Rejection::MissingHeader(SENDGRID_TIMESTAMP))?;
    let timestamp =
        parse_timestamp(timestamp_text).ok_or(Rejection::Malformed(SENDGRID_TIMESTAMP))?;
    window.check(timestamp)?;
    // A DER ECDSA P-256 signature is at most 72 bytes; decode on the stack.
    let mut der = [0_u8; 80];
    let len = BASE64
        .decode_slice(signature_text, &mut der)
        .map_err(|_| Rejection::Malformed(SENDGRID_SIGNATURE))?;
    let signature = p256::ecdsa::Signature::from_der(&der[..len])
        .map_err(|_| Rejection::Malformed(SENDGRID_SIGNATURE))?;
    // Signers may send the high-S form; it verifies the same once normalised.
    let signature = signature.normalize_s().unwrap_or(signature);
    let message = timestamp_and_body(timestamp.text, body);
    keys.1
        .iter()
        .position(|key| match key {
            PublicKey::P256(key) => key.verify(&message, &signature).is_ok(),
            PublicKey::Ed25519(_) => false,
        })
        .ok_or(Rejection::NoMatch)
}

/// Signs as SendGrid does, for tests and benchmarks that hold the private key.
pub fn sign_sendgrid(
    key: &p256::ecdsa::SigningKey,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
    use p256::ecdsa::signature::Signer as _;
    let timestamp = timestamp_secs.to_string();
    let signature: p256::ecdsa::Signature = key.sign(&timestamp_and_body(&timestamp, body));
    vec![
        (HeaderName::from_static(SENDGRID_TIMESTAMP), timestamp),
        (
            HeaderName::from_static(SENDGRID_SIGNATURE),
            BASE64.encode(signature.to_der().as_bytes()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{KeyError, SignatureScheme, Verified};
    use super::*;

    // Made by scripts/signers/sign.py with private key 01..01 (hex): PyNaCl for Ed25519, the
    // `cryptography` package for P-256 (SendGrid's `sendgrid` SDK accepted it);
    // `sign.py SCHEME 0101...01 --public-key` prints the public keys.
    const DISCORD_KEY: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
    const OTHER_DISCORD_KEY: &str =
        "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394";
    const DISCORD_SIGNED: &str = "9ef52e0980512fc86504213828935ead2d8ad69632af84e31aae7c0a1593a04f81779d871c1d68240dce56038c60788e51e59a6c3f14c72a4183c785b1e8b70e";
    const SENDGRID_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb/A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY8T3U6Vb8B3FP2wLDH7ueLQMb/fSWpbiKCuYnO9xwUSg==";
    const OTHER_SENDGRID_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVQ9HEAPz35fD31Bqx5f2ch+xoft7j2+D0iRJimXIjiQTYJPXAS5QmnNxXL0LAKPMD/S1wBs/+hlqsfsycDa45g==";
    const SENDGRID_SIGNED: &str = "MEQCIB07vArlEVxSHDDw+954z3LyMR07b7Vzcq8XpV8lNS7IAiBXGjmuxpA159i23R5PeD85A4fQwIo4SezuKXh+PXs6hA==";
    const NOW: i64 = 1_700_000_000;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn discord_verifies_pynacls_signature_under_either_active_key_and_answers_its_ping() {
        let scheme = SignatureScheme::Discord;
        let keys = scheme
            .parse_keys(&format!("{OTHER_DISCORD_KEY} {DISCORD_KEY}"))
            .unwrap();
        let signed = headers(&[
            (DISCORD_SIGNATURE, DISCORD_SIGNED),
            (DISCORD_TIMESTAMP, "1700000000"),
        ]);
        let body = br#"{"type":1}"#;
        assert_eq!(
            scheme.verify(&signed, body, &keys, NOW, 300),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            scheme.verify(&signed, br#"{"type":2}"#, &keys, NOW, 300),
            Err(Rejection::NoMatch)
        );
        for now in [NOW + 301, NOW - 301] {
            assert_eq!(
                scheme.verify(&signed, body, &keys, now, 300),
                Err(Rejection::StaleTimestamp)
            );
        }
        let answer = scheme.handshake(&signed, body).unwrap();
        assert_eq!(
            (answer.body.as_str(), answer.content_type),
            (r#"{"type":1}"#, "application/json")
        );
        assert_eq!(scheme.handshake(&signed, br#"{"type":2,"id":"1"}"#), None);
    }

    #[test]
    fn sendgrid_verifies_the_signature_its_sdk_accepts() {
        let scheme = SignatureScheme::SendGrid;
        let keys = scheme
            .parse_keys(&format!("{SENDGRID_KEY},{OTHER_SENDGRID_KEY}"))
            .unwrap();
        let signed = headers(&[
            (SENDGRID_SIGNATURE, SENDGRID_SIGNED),
            (SENDGRID_TIMESTAMP, "1700000000"),
        ]);
        let body = br#"[{"sg_event_id":"e1","event":"delivered"}]"#;
        assert_eq!(
            scheme.verify(&signed, body, &keys, NOW, 300),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(
            scheme.verify(&signed, br#"[{"sg_event_id":"e2"}]"#, &keys, NOW, 300),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            scheme.verify(&signed, body, &keys, NOW + 301, 300),
            Err(Rejection::StaleTimestamp)
        );
        let garbled = headers(&[
            (SENDGRID_SIGNATURE, "AAAA"),
            (SENDGRID_TIMESTAMP, "1700000000"),
        ]);
        assert_eq!(
            scheme.verify(&garbled, body, &keys, NOW, 300),
            Err(Rejection::Malformed(SENDGRID_SIGNATURE))
        );
    }

    #[test]
    fn our_signers_verify_and_public_keys_are_checked_when_read() {
        let ed = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let keys = SignatureScheme::Discord.parse_keys(DISCORD_KEY).unwrap();
        let signed: HeaderMap = sign_discord(&ed, NOW, b"{}")
            .into_iter()
            .map(|(n, v)| (n, v.parse().unwrap()))
            .collect();
        assert!(SignatureScheme::Discord
            .verify(&signed, b"{}", &keys, NOW, 300)
            .is_ok());
        let ec = p256::ecdsa::SigningKey::from_slice(&[1; 32]).unwrap();
        let keys = SignatureScheme::SendGrid.parse_keys(SENDGRID_KEY).unwrap();
        let signed: HeaderMap = sign_sendgrid(&ec, NOW, b"[]")
            .into_iter()
            .map(|(n, v)| (n, v.parse().unwrap()))
            .collect();
        assert!(SignatureScheme::SendGrid
            .verify(&signed, b"[]", &keys, NOW, 300)
            .is_ok());
        assert!(matches!(
            SignatureScheme::Discord.parse_keys("not-hex"),
            Err(KeyError::NotPublicKey { position: 1, .. })
        ));
        assert!(matches!(
            SignatureScheme::SendGrid.parse_keys(&format!("{SENDGRID_KEY} AAAA")),
            Err(KeyError::NotPublicKey { position: 2, .. })
        ));
    }
}
