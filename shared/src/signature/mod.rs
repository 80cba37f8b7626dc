//! Signature schemes: each one verifies a request over the exact raw body bytes, in constant time,
//! against every active secret (several are active while a secret is rotated).
//!
//! A scheme is a value chosen by `SIGNATURE_SCHEME`. A provider whose signature is an HMAC over
//! header-addressed parts of the request (the body, a timestamp, an id, the method, the URL) is one
//! declared entry in `catalog.rs`, run by the engine in `declarative.rs`; only schemes that are
//! something else have a file of their own. [`SignatureScheme::named`] is the registry of names.
//! Every failure is a [`Rejection`], which the ingress answers with an empty 404: the reason only
//! reaches the log.

mod asymmetric;
mod catalog;
mod declarative;
mod generic;
mod github;
mod mailgun;
mod shared_secret;
mod shopify;
mod slack;
mod standard_webhooks;
mod stripe;
mod twilio;

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

pub use asymmetric::{sign_discord, sign_sendgrid, PublicKey};
pub use catalog::DECLARED;
pub use declarative::{
    Algorithm, Encoding, HmacScheme, Part, SignatureFormat, TimeUnit, Timestamp, TimestampSource,
};
pub use generic::{GenericHmac, SignatureEncoding};
pub use mailgun::{signed_body as mailgun_signed_body, signed_token as mailgun_signed_token};
pub use shared_secret::TokenHeader;
pub use slack::url_verification_challenge;
pub use standard_webhooks::{
    sign_v1a as sign_standard_webhooks_v1a, MAX_V1A_SIGNATURES, MIN_SECRET_BYTES,
    STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX, STANDARD_WEBHOOKS_SECRET_PREFIX,
};

/// Parsers of each provider's signature header, exposed for the property tests and the fuzz target.
pub mod parsers {
    pub use super::github::parse_header as github;
    pub use super::shopify::parse_header as shopify;
    pub use super::slack::parse_header as slack;
    pub use super::standard_webhooks::parse_header as standard_webhooks;
    pub use super::stripe::{parse_header as stripe, StripeHeader};
    pub use super::{parse_timestamp as timestamp, ParsedTimestamp};
}

const SHA256_LEN: usize = 32;

/// An HMAC-SHA256 tag: what every scheme computes and every signature header claims. Claimed tags
/// are decoded into these fixed arrays, so checking a request allocates nothing per signature.
pub type Tag = [u8; SHA256_LEN];
/// Longest signature header we look at; anything longer is malformed, not worth parsing. It also
/// bounds the work a request can cause: at most ~60 hex signatures, each compared with every key.
const MAX_SIGNATURE_HEADER_BYTES: usize = 4096;

/// How the provider signs its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureScheme {
    /// <https://www.standardwebhooks.com/>: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// HMAC-SHA256 of the raw body in a configurable header.
    HmacSha256(GenericHmac),
    /// Stripe: `Stripe-Signature: t=...,v1=...` over `{t}.{body}`.
    Stripe,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
    GitHub,
    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body.
    Shopify,
    /// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`.
    Slack,
    /// A provider declared in the catalog (Paddle, HubSpot, Twitch, Square, ...).
    Hmac(&'static HmacScheme),
    /// GitLab: the secret token itself in `X-Gitlab-Token`.
    GitLab,
    /// The secret token itself in a configured header, after an optional prefix.
    Token(TokenHeader),
    /// HTTP Basic: `Authorization: Basic` with `user:password`.
    Basic,
    /// Mailgun: the signature inside the JSON body.
    Mailgun,
    /// Twilio: HMAC-SHA1 over the URL and the sorted form parameters (or the URL's body hash).
    Twilio,
    /// SendGrid's Event Webhook: ECDSA P-256 over the timestamp header and the body.
    SendGrid,
    /// Discord interactions: Ed25519 over the timestamp header and the body.
    Discord,
}

/// Every `SIGNATURE_SCHEME` value, in the order error messages list them.
pub const SCHEME_NAMES: &[&str] = &[
    "standard-webhooks",
    "hmac-sha256",
    "stripe",
    "github",
    "shopify",
    "slack",
    "paddle",
    "hubspot",
    "zendesk",
    "calendly",
    "twitch",
    "linear",
    "intercom",
    "pagerduty",
    "typeform",
    "bitbucket",
    "woocommerce",
    "razorpay",
    "square",
    "mailgun",
    "twilio",
    "sendgrid",
    "discord",
    "gitlab",
    "token",
    "basic",
];

/// What a scheme may check about a request besides its headers and body: the method and the URL
/// the provider was given: exactly `PUBLIC_URL` (empty for schemes that do not sign the URL),
/// never anything the request itself says about where it was sent.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'r> {
    pub method: &'r str,
    pub url: &'r str,
    pub headers: &'r HeaderMap,
    pub body: &'r [u8],
}

/// What a verified handshake request (not an event) is answered with; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub body: String,
    pub content_type: &'static str,
}

/// Where a scheme finds a value (event id or type) in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A header, by its lower-case name.
    Header(&'static str),
    /// A JSON pointer into the body (a string or a number there).
    Pointer(&'static str),
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
    #[error("the signed token was spent already by a request with another body")]
    TokenReused,
}

/// A secret value could not be turned into a signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the secret parameter holds no secret")]
    Empty,
    #[error("secret number {position} is not valid base64 after the `whsec_` prefix")]
    NotBase64 { position: usize },
    #[error("secret number {position} has neither the `whsec_` prefix of a Standard Webhooks secret nor the `whpk_` of its public key")]
    NoPrefix { position: usize },
    #[error("secret number {position} is {len} bytes after `whsec_`: the Standard Webhooks specification asks for at least {min}")]
    TooShort {
        position: usize,
        len: usize,
        min: usize,
    },
    #[error("secret number {position} is not {expected}")]
    NotPublicKey {
        position: usize,
        expected: &'static str,
    },
}

/// A request that verified: which of the active secrets signed it (its position in the parameter,
/// from 0), so the log can tell when the old secret of a rotation stops being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub key_index: usize,
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

    /// The tag of `parts` fed one after the other, as if concatenated (without copying them).
    fn tag(&self, parts: &[&[u8]]) -> Tag {
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

/// Every secret currently accepted (one normally, two or more while rotating): HMAC keys and
/// shared secrets first, the providers' public keys second.
#[derive(Debug, Clone)]
pub struct SigningKeys(Vec<SigningKey>, Vec<PublicKey>);

impl SigningKeys {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self(keys, Vec::new())
    }

    pub fn len(&self) -> usize {
        self.0.len() + self.1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.is_empty()
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
            Self::Stripe => "stripe",
            Self::GitHub => "github",
            Self::Shopify => "shopify",
            Self::Slack => "slack",
            Self::Hmac(declared) => declared.name,
            Self::GitLab => "gitlab",
            Self::Token(_) => "token",
            Self::Basic => "basic",
            Self::Mailgun => "mailgun",
            Self::Twilio => "twilio",
            Self::SendGrid => "sendgrid",
            Self::Discord => "discord",
        }
    }

    /// Whether the provider signs the URL it was given (`PUBLIC_URL`, then required).
    pub fn signs_url(&self) -> bool {
        match self {
            Self::Twilio => true,
            Self::Hmac(declared) => declared.message.contains(&Part::Url),
            _ => false,
        }
    }

    /// The scheme a `SIGNATURE_SCHEME` value names, for every scheme that needs no settings of its
    /// own (all but `hmac-sha256` and `token`).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "standard-webhooks" => Self::StandardWebhooks,
            "stripe" => Self::Stripe,
            "github" => Self::GitHub,
            "shopify" => Self::Shopify,
            "slack" => Self::Slack,
            "gitlab" => Self::GitLab,
            "basic" => Self::Basic,
            "mailgun" => Self::Mailgun,
            "twilio" => Self::Twilio,
            "sendgrid" => Self::SendGrid,
            "discord" => Self::Discord,
            other => Self::Hmac(DECLARED.iter().find(|d| d.name == other)?),
        })
    }

    /// Turns the secret parameter's value into keys: one secret, or several separated by whitespace
    /// or commas. Standard Webhooks secrets are `whsec_` and the base64 of at least 24 bytes, or
    /// `whpk_` and a public key (anything else is refused); every other provider's secret
    /// (Stripe's `whsec_...` included) is used as its UTF-8 bytes.
    pub fn parse_keys(&self, raw: &str) -> Result<SigningKeys, KeyError> {
        let secrets = raw
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty());
        let mut keys = Vec::new();
        let mut public = Vec::new();
        for (index, secret) in secrets.enumerate() {
            let position = index + 1;
            let parsed = match self {
                Self::Discord => Some(asymmetric::ed25519_from_hex(secret).ok_or(
                    KeyError::NotPublicKey {
                        position,
                        expected: "an Ed25519 public key in hex (64 digits)",
                    },
                )?),
                Self::SendGrid => Some(asymmetric::p256_from_base64_der(secret).ok_or(
                    KeyError::NotPublicKey {
                        position,
                        expected: "a base64 DER P-256 public key",
                    },
                )?),
                Self::StandardWebhooks => {
                    match secret.strip_prefix(STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX) {
                        Some(encoded) => Some(asymmetric::ed25519_from_base64(encoded).ok_or(
                            KeyError::NotPublicKey {
                                position,
                                expected: "an Ed25519 public key in base64 after `whpk_`",
                            },
                        )?),
                        None => None,
                    }
                }
                _ => None,
            };
            if let Some(key) = parsed {
                public.push(key);
                continue;
            }
            let bytes = match self {
                Self::StandardWebhooks => standard_webhooks::key_bytes(secret, position)?,
                _ => secret.as_bytes().to_vec(),
            };
            keys.push(SigningKey(bytes));
        }
        if keys.is_empty() && public.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(SigningKeys(keys, public))
    }

    /// Checks the request's signature over `body`, the exact bytes received. `now_secs` is the
    /// current Unix time; timestamped schemes refuse requests more than `tolerance_secs` away from
    /// it, in the past or the future.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &SigningKeys,
        now_secs: i64,
        tolerance_secs: u64,
    ) -> Result<Verified, Rejection> {
        let request = SignedRequest {
            method: "POST",
            url: "",
            headers,
            body,
        };
        self.verify_request(&request, keys, now_secs, tolerance_secs)
    }

    /// [`SignatureScheme::verify`] with the request's method and URL, which some providers sign.
    pub fn verify_request(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        now_secs: i64,
        tolerance_secs: u64,
    ) -> Result<Verified, Rejection> {
        let window = Window {
            now_secs,
            tolerance_secs,
        };
        let (headers, body) = (request.headers, request.body);
        let key_index = match self {
            Self::StandardWebhooks => standard_webhooks::verify(headers, body, keys, window),
            Self::HmacSha256(generic) => generic.verify(headers, body, keys),
            Self::Stripe => stripe::verify(headers, body, keys, window),
            Self::GitHub => github::verify(headers, body, keys),
            Self::Shopify => shopify::verify(headers, body, keys),
            Self::Slack => slack::verify(headers, body, keys, window),
            Self::Hmac(declared) => declared.verify(request, keys, window),
            Self::GitLab => shared_secret::verify_gitlab(headers, keys),
            Self::Token(token) => token.verify(headers, keys),
            Self::Basic => shared_secret::verify_basic(headers, keys),
            Self::Mailgun => mailgun::verify(body, keys, window),
            Self::Twilio => twilio::verify(request, keys),
            Self::SendGrid => asymmetric::verify_sendgrid(headers, body, keys, window),
            Self::Discord => asymmetric::verify_discord(headers, body, keys, window),
        }?;
        Ok(Verified { key_index })
    }

    /// The answer to a verified request that is a provider's handshake rather than an event
    /// (Slack's `url_verification`, Twitch's `webhook_callback_verification`).
    pub fn handshake(&self, headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        let text = |body: String| Handshake {
            body,
            content_type: "text/plain",
        };
        match self {
            Self::Slack => url_verification_challenge(body).map(text),
            Self::Discord => asymmetric::discord_ping(body).then(|| Handshake {
                body: r#"{"type":1}"#.to_owned(),
                content_type: "application/json",
            }),
            Self::Hmac(declared) if declared.name == catalog::TWITCH.name => {
                let kind = headers.get(catalog::TWITCH_MESSAGE_TYPE)?.to_str().ok()?;
                if kind.trim() != "webhook_callback_verification" {
                    return None;
                }
                #[derive(serde::Deserialize)]
                struct Verification {
                    challenge: String,
                }
                let request: Verification = serde_json::from_slice(body).ok()?;
                Some(text(request.challenge))
            }
            _ => None,
        }
    }

    /// The headers (lower-case) whose values the signature covers besides the body: a replay of a
    /// captured request cannot change them. Every other header (the GitHub and Shopify event id
    /// and topic headers among them) can be changed by whoever holds a signed body.
    pub fn signed_headers(&self) -> &'static [&'static str] {
        match self {
            Self::StandardWebhooks => standard_webhooks::SIGNED_HEADERS,
            Self::Slack => slack::SIGNED_HEADERS,
            Self::Hmac(declared) => declared.signed_headers,
            Self::Discord => asymmetric::DISCORD_SIGNED_HEADERS,
            Self::SendGrid => asymmetric::SENDGRID_SIGNED_HEADERS,
            Self::HmacSha256(_)
            | Self::Stripe
            | Self::GitHub
            | Self::Shopify
            | Self::GitLab
            | Self::Token(_)
            | Self::Basic
            | Self::Mailgun
            | Self::Twilio => &[],
        }
    }

    /// Where the provider puts its event id, tried in order before `EVENT_ID_HEADER` and
    /// `EVENT_ID_POINTER`.
    pub fn event_id_fields(&self) -> &'static [Field] {
        match self {
            Self::StandardWebhooks => standard_webhooks::EVENT_ID,
            Self::HmacSha256(_) => &[],
            Self::Stripe => stripe::EVENT_ID,
            Self::GitHub => github::EVENT_ID,
            Self::Shopify => shopify::EVENT_ID,
            Self::Slack => slack::EVENT_ID,
            Self::Hmac(declared) => declared.event_id,
            Self::GitLab => shared_secret::GITLAB_EVENT_ID,
            Self::Mailgun => mailgun::EVENT_ID,
            Self::Twilio => twilio::EVENT_ID,
            Self::Discord => asymmetric::DISCORD_EVENT_ID,
            Self::SendGrid => asymmetric::SENDGRID_EVENT_ID,
            Self::Token(_) | Self::Basic => &[],
        }
    }

    /// Where the provider puts the event type, tried in order, unless `EVENT_TYPE_POINTER` is set.
    pub fn event_type_fields(&self) -> &'static [Field] {
        match self {
            Self::StandardWebhooks => standard_webhooks::EVENT_TYPE,
            Self::HmacSha256(_) => &[],
            Self::Stripe => stripe::EVENT_TYPE,
            Self::GitHub => github::EVENT_TYPE,
            Self::Shopify => shopify::EVENT_TYPE,
            Self::Slack => slack::EVENT_TYPE,
            Self::Hmac(declared) => declared.event_type,
            Self::GitLab => shared_secret::GITLAB_EVENT_TYPE,
            Self::Mailgun => mailgun::EVENT_TYPE,
            Self::Discord => asymmetric::DISCORD_EVENT_TYPE,
            Self::SendGrid => asymmetric::SENDGRID_EVENT_TYPE,
            Self::Token(_) | Self::Basic | Self::Twilio => &[],
        }
    }

    /// Signs `body` as the provider would, returning the headers to send. Used by tests, benchmarks
    /// and the local test-webhook sender. `event_id` goes in the provider's id header when it has
    /// one (Stripe and Slack carry it in the body); `timestamp_secs` only matters where it is signed.
    pub fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        body: &[u8],
    ) -> Vec<(HeaderName, String)> {
        let headers = HeaderMap::new();
        let request = SignedRequest {
            method: "POST",
            url: "",
            headers: &headers,
            body,
        };
        self.sign_request(key, event_id, timestamp_secs, &request)
    }

    /// [`SignatureScheme::sign`] for a request sent with `request`'s method to its URL.
    pub fn sign_request(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        let body = request.body;
        match self {
            Self::StandardWebhooks => standard_webhooks::sign(key, event_id, timestamp_secs, body),
            Self::HmacSha256(generic) => generic.sign(key, body),
            Self::Stripe => stripe::sign(key, timestamp_secs, body),
            Self::GitHub => github::sign(key, event_id, body),
            Self::Shopify => shopify::sign(key, event_id, body),
            Self::Slack => slack::sign(key, timestamp_secs, body),
            Self::Hmac(declared) => declared.sign(key, event_id, timestamp_secs, request),
            Self::GitLab => shared_secret::sign_gitlab(key, event_id),
            Self::Token(token) => token.sign(key),
            Self::Basic => shared_secret::sign_basic(key),
            Self::Mailgun => mailgun::sign(),
            Self::Twilio => twilio::sign(key, event_id, request),
            // Signed with the provider's private key, which the secret parameter never holds:
            // see `sign_discord` and `sign_sendgrid`.
            Self::SendGrid | Self::Discord => Vec::new(),
        }
    }
}

/// The accepted time window of timestamped schemes.
#[derive(Debug, Clone, Copy)]
struct Window {
    now_secs: i64,
    tolerance_secs: u64,
}

/// A timestamp header: its exact text (it is part of what is signed) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTimestamp<'t> {
    pub text: &'t str,
    pub secs: i64,
}

/// A Unix timestamp in decimal seconds, as every timestamped provider sends it.
pub fn parse_timestamp(text: &str) -> Option<ParsedTimestamp<'_>> {
    // Digits only: `i64::from_str` would also take `+5`, which no provider sends.
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = text.parse().ok()?;
    Some(ParsedTimestamp { text, secs })
}

impl Window {
    /// Refuses timestamps further than the tolerance from now, both ways: a stale one may be a
    /// replay, a future one would stay replayable for longer than the window.
    fn check(self, timestamp: ParsedTimestamp<'_>) -> Result<(), Rejection> {
        if self.now_secs.abs_diff(timestamp.secs) > self.tolerance_secs {
            Err(Rejection::StaleTimestamp)
        } else {
            Ok(())
        }
    }
}

/// Compares every key's tag with every claimed signature in constant time, without stopping at the
/// first match, so timing does not reveal which key or which position matched. Returns the index of
/// the first key that matched.
fn matching_key(keys: &SigningKeys, signed: &[&[u8]], claimed: &[Tag]) -> Option<usize> {
    let mut found = Choice::from(0);
    let mut index = 0_u64;
    for (position, key) in keys.0.iter().enumerate() {
        let tag = key.tag(signed);
        let mut hit = Choice::from(0);
        for candidate in claimed {
            hit |= tags_equal(&tag, candidate);
        }
        let first_hit = hit & !found;
        index = u64::conditional_select(&index, &(position as u64), first_hit);
        found |= hit;
    }
    bool::from(found).then(|| usize::try_from(index).unwrap_or(usize::MAX))
}

/// Whether two tags are equal, in constant time: the difference of every 8-byte word is OR-ed
/// together without a branch, and only that one word goes through `subtle`'s optimisation barrier
/// (its byte-slice comparison pays the barrier, an out-of-line call, for each of the 32 bytes).
fn tags_equal(ours: &Tag, claimed: &Tag) -> Choice {
    let mut difference = 0_u64;
    for (a, b) in ours.chunks_exact(8).zip(claimed.chunks_exact(8)) {
        let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
        difference |= word(a) ^ word(b);
    }
    difference.ct_eq(&0)
}

/// The verification result once the claimed signatures are known.
fn matched(keys: &SigningKeys, signed: &[&[u8]], claimed: &[Tag]) -> Result<usize, Rejection> {
    matching_key(keys, signed, claimed).ok_or(Rejection::NoMatch)
}

/// A header every request of a scheme carries: its lower-case name for messages, and the same name
/// as a `HeaderName` made at compile time, so a lookup only hashes it instead of parsing it first.
struct KnownHeader {
    name: &'static str,
    header: HeaderName,
}

impl KnownHeader {
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            header: HeaderName::from_static(name),
        }
    }
}

/// A header's value as trimmed text; `None` when absent or not visible ASCII / UTF-8.
fn header_str<'h>(headers: &'h HeaderMap, known: &KnownHeader) -> Option<&'h str> {
    headers.get(&known.header)?.to_str().ok().map(str::trim)
}

/// The signature header's text, refused when missing, not text, or longer than we parse.
fn signature_header<'h>(headers: &'h HeaderMap, known: &KnownHeader) -> Result<&'h str, Rejection> {
    let name = known.name;
    let value = headers
        .get(&known.header)
        .ok_or(Rejection::MissingHeader(name))?;
    let text = value
        .to_str()
        .map_err(|_| Rejection::Malformed(name))?
        .trim();
    if text.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(Rejection::Malformed(name));
    }
    Ok(text)
}

/// A hex SHA-256 tag (either case); `None` for anything else.
fn decode_hex_tag(text: &str) -> Option<Tag> {
    let mut tag = [0; SHA256_LEN];
    hex::decode_to_slice(text, &mut tag).ok()?;
    Some(tag)
}

/// A base64 SHA-256 tag (standard alphabet, padded); `None` for anything else.
fn decode_base64_tag(text: &str) -> Option<Tag> {
    // Room for more than a tag, so a longer value decodes into it and is then refused by length
    // rather than by the decoder's own estimate of the space it needs.
    let mut decoded = [0; 2 * SHA256_LEN];
    let len = BASE64.decode_slice(text, &mut decoded).ok()?;
    decoded[..len].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&[u8]]) -> SigningKeys {
        SigningKeys::new(
            secrets
                .iter()
                .map(|s| SigningKey::from_bytes(s.to_vec()))
                .collect(),
        )
    }

    #[test]
    fn matching_key_reports_the_first_key_that_matches() {
        let keys = keys(&[b"old", b"new", b"new"]);
        let tag_new = keys.0[1].tag(&[b"body"]);
        let tag_old = keys.0[0].tag(&[b"body"]);
        assert_eq!(
            matching_key(&keys, &[b"body"], std::slice::from_ref(&tag_new)),
            Some(1)
        );
        assert_eq!(
            matching_key(&keys, &[b"body"], &[[0; 32], tag_new, tag_old]),
            Some(0)
        );
        assert_eq!(matching_key(&keys, &[b"body"], &[[0; 32]]), None);
        assert_eq!(matching_key(&keys, &[b"body"], &[]), None);
    }

    #[test]
    fn tags_are_equal_only_when_every_byte_is() {
        let tag: Tag = std::array::from_fn(|i| i as u8);
        assert!(bool::from(tags_equal(&tag, &tag)));
        for position in 0..SHA256_LEN {
            for bit in 0..8 {
                let mut other = tag;
                other[position] ^= 1 << bit;
                assert!(!bool::from(tags_equal(&tag, &other)), "{position}:{bit}");
            }
        }
    }

    #[test]
    fn tags_decode_only_from_exactly_32_bytes() {
        let tag: Tag = std::array::from_fn(|i| 255 - i as u8);
        assert_eq!(decode_hex_tag(&hex::encode(tag)), Some(tag));
        assert_eq!(decode_hex_tag(&hex::encode_upper(tag)), Some(tag));
        assert_eq!(decode_hex_tag(&hex::encode(&tag[..31])), None);
        assert_eq!(decode_hex_tag(&hex::encode([tag, tag].concat())), None);
        assert_eq!(decode_hex_tag(&format!("{}0", hex::encode(tag))), None);
        assert_eq!(decode_base64_tag(&BASE64.encode(tag)), Some(tag));
        assert_eq!(decode_base64_tag(&BASE64.encode(&tag[..31])), None);
        assert_eq!(decode_base64_tag(&BASE64.encode([0_u8; 33])), None);
        assert_eq!(decode_base64_tag(&BASE64.encode([0_u8; 64])), None);
        assert_eq!(decode_base64_tag(&BASE64.encode([0_u8; 65])), None);
        assert_eq!(decode_base64_tag(""), None);
    }

    #[test]
    fn timestamps_are_decimal_seconds_only() {
        assert_eq!(
            parse_timestamp("1614265330").map(|t| t.secs),
            Some(1_614_265_330)
        );
        for bad in ["", "+5", "-5", " 5", "1e9", "0x10", "9999999999999999999"] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_window_refuses_both_ways_and_includes_its_edges() {
        let window = Window {
            now_secs: 1000,
            tolerance_secs: 300,
        };
        let at = |secs| ParsedTimestamp { text: "", secs };
        assert_eq!(window.check(at(700)), Ok(()));
        assert_eq!(window.check(at(1300)), Ok(()));
        assert_eq!(window.check(at(699)), Err(Rejection::StaleTimestamp));
        assert_eq!(window.check(at(1301)), Err(Rejection::StaleTimestamp));
    }

    #[test]
    fn every_scheme_verifies_its_own_signature_and_names_its_key() {
        let generic = SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-signature"),
            encoding: SignatureEncoding::Hex,
            prefix: String::new(),
        });
        let schemes = [
            SignatureScheme::StandardWebhooks,
            generic,
            SignatureScheme::Stripe,
            SignatureScheme::GitHub,
            SignatureScheme::Shopify,
            SignatureScheme::Slack,
        ];
        for scheme in schemes {
            let keys = scheme
                .parse_keys(
                    "whsec_b2xkLXNlY3JldC1vZi0yNC1ieXRlcy0wMDAx whsec_bmV3LXNlY3JldC1vZi0yNC1ieXRlcy0wMDAy",
                )
                .unwrap();
            let body = br#"{"type":"t","id":"evt_1"}"#;
            let headers: HeaderMap = scheme
                .sign(&keys.0[1], "evt_1", 1_700_000_000, body)
                .into_iter()
                .map(|(n, v)| (n, v.parse().unwrap()))
                .collect();
            assert_eq!(
                scheme.verify(&headers, body, &keys, 1_700_000_000, 300),
                Ok(Verified { key_index: 1 }),
                "{}",
                scheme.name()
            );
            assert_eq!(
                scheme.verify(&headers, b"{}", &keys, 1_700_000_000, 300),
                Err(Rejection::NoMatch),
                "{}",
                scheme.name()
            );
            assert!(SCHEME_NAMES.contains(&scheme.name()));
        }
    }

    #[test]
    fn signing_key_debug_is_redacted() {
        let keys = SignatureScheme::Stripe
            .parse_keys("whsec_topsecret")
            .unwrap();
        assert!(!format!("{keys:?}").contains("topsecret"));
        assert!(format!("{keys:?}").contains("redacted"));
    }
}
