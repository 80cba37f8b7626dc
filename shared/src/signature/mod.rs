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
mod coded;
mod declarative;
mod generic;
mod mailgun;
mod registry;
mod shared_secret;
mod spec;
mod standard_webhooks;
mod twilio;

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

pub use asymmetric::{sign_discord, sign_sendgrid, PublicKey};
pub use declarative::{
    Algorithm, Challenge, Encoding, HmacScheme, ParsedSignatures, Part, SignatureFormat, TimeUnit,
    Timestamp, TimestampSource,
};
pub use generic::{GenericHmac, SignatureEncoding};
pub use mailgun::{signed_body as mailgun_signed_body, signed_token as mailgun_signed_token};
pub use registry::{declared_schemes, Entry, EntryKind, REGISTRY, SCHEME_NAMES};
pub use shared_secret::TokenHeader;
pub use spec::{
    check as check_spec, parse as parse_spec, SpecError, CUSTOM_SCHEME, MAX_SPEC_BYTES,
};
pub use standard_webhooks::{
    sign_v1a as sign_standard_webhooks_v1a, MAX_V1A_SIGNATURES, MIN_SECRET_BYTES,
    STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX, STANDARD_WEBHOOKS_SECRET_PREFIX,
};

/// Parsers of each provider's signature header, exposed for the property tests and the fuzz target.
pub mod parsers {
    use super::catalog::{GITHUB, SHOPIFY, SLACK, STRIPE};
    pub use super::standard_webhooks::parse_header as standard_webhooks;
    pub use super::{parse_timestamp as timestamp, ParsedTimestamp};
    use super::{HmacScheme, Rejection, Tag};

    /// A parsed `Stripe-Signature` header.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StripeHeader<'h> {
        pub timestamp: ParsedTimestamp<'h>,
        /// Every well-formed `v1` signature; other schemes (`v0`) and undecodable entries are
        /// ignored.
        pub signatures: Vec<Tag>,
    }

    fn tags(scheme: &HmacScheme, value: &str) -> Option<Vec<Tag>> {
        let parsed = scheme.parse_header(value).ok()?;
        parsed
            .signatures
            .iter()
            .map(|signature| signature.as_slice().try_into().ok())
            .collect()
    }

    /// `t=...,v1=...`: exactly one valid `t`, at least one valid `v1`, as the `stripe` entry reads it.
    pub fn stripe(value: &str) -> Result<StripeHeader<'_>, Rejection> {
        let malformed = Rejection::Malformed(STRIPE.header.name);
        let parsed = STRIPE.parse_header(value)?;
        let timestamp = parsed.timestamp.and_then(timestamp).ok_or(malformed)?;
        let signatures = tags(&STRIPE, value).ok_or(malformed)?;
        Ok(StripeHeader {
            timestamp,
            signatures,
        })
    }

    /// The signature of an `X-Hub-Signature-256` value: `sha256=` then 64 hex digits.
    pub fn github(value: &str) -> Option<Tag> {
        tags(&GITHUB, value)?.first().copied()
    }

    /// The signature of an `X-Shopify-Hmac-Sha256` value: the base64 of 32 bytes.
    pub fn shopify(value: &str) -> Option<Tag> {
        tags(&SHOPIFY, value)?.first().copied()
    }

    /// The signature of an `X-Slack-Signature` value: `v0=` then 64 hex digits.
    pub fn slack(value: &str) -> Option<Tag> {
        tags(&SLACK, value)?.first().copied()
    }
}

const SHA256_LEN: usize = 32;

/// An HMAC-SHA256 tag: what every scheme computes and every signature header claims. Claimed tags
/// are decoded into these fixed arrays, so checking a request allocates nothing per signature.
pub type Tag = [u8; SHA256_LEN];
/// Longest signature header we look at; anything longer is malformed, not worth parsing. It also
/// bounds the work a request can cause: at most ~60 hex signatures, each compared with every key.
const MAX_SIGNATURE_HEADER_BYTES: usize = 4096;

/// How the provider signs its requests: one of the registry's schemes (`registry.rs`), or a
/// scheme made from settings (`hmac-sha256`, `token`, and `custom`'s `SIGNATURE_SPEC`).
#[derive(Debug, Clone)]
pub enum SignatureScheme {
    /// A declared HMAC scheme: a catalog entry (Stripe, GitHub, Slack, Twitch, ...) or the one a
    /// `SIGNATURE_SPEC` describes.
    Hmac(&'static HmacScheme),
    /// A scheme with code of its own (Standard Webhooks, Mailgun, Twilio, Discord, ...).
    Coded(&'static dyn Scheme),
    /// HMAC-SHA256 of the raw body in a configurable header.
    HmacSha256(GenericHmac),
    /// The secret token itself in a configured header, after an optional prefix.
    Token(TokenHeader),
}

/// The schemes code and tests name most, under the names they had as variants of their own.
#[allow(non_upper_case_globals)]
impl SignatureScheme {
    pub const StandardWebhooks: Self = Self::Coded(&coded::StandardWebhooks);
    pub const Stripe: Self = Self::Hmac(&catalog::STRIPE);
    pub const GitHub: Self = Self::Hmac(&catalog::GITHUB);
    pub const Shopify: Self = Self::Hmac(&catalog::SHOPIFY);
    pub const Slack: Self = Self::Hmac(&catalog::SLACK);
    pub const GitLab: Self = Self::Coded(&coded::GitLab);
    pub const Basic: Self = Self::Coded(&coded::Basic);
    pub const Mailgun: Self = Self::Coded(&coded::Mailgun);
    pub const Twilio: Self = Self::Coded(&coded::Twilio);
    pub const SendGrid: Self = Self::Coded(&coded::SendGrid);
    pub const Discord: Self = Self::Coded(&coded::Discord);
}

impl PartialEq for SignatureScheme {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Hmac(a), Self::Hmac(b)) => a == b,
            (Self::Coded(a), Self::Coded(b)) => a.name() == b.name(),
            (Self::HmacSha256(a), Self::HmacSha256(b)) => a == b,
            (Self::Token(a), Self::Token(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for SignatureScheme {}

/// What every scheme does: verify a request, sign one as the provider would (for tests, the
/// benchmarks and the local sender), answer the provider's handshake, and say which headers it
/// signs and where its event id and type are. Declared HMAC schemes ([`HmacScheme`]) and the
/// schemes with code of their own (`coded.rs`) alike.
pub trait Scheme: fmt::Debug + Send + Sync {
    /// Its `SIGNATURE_SCHEME` value.
    fn name(&self) -> &'static str;

    /// The position of the active key that signed the request, or why it is refused.
    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection>;

    /// The headers the provider sends with the request (empty for schemes signed with a private
    /// key the secret parameter never holds, or inside the body).
    fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)>;

    /// The answer to a verified request that is the provider checking the URL rather than an
    /// event (nothing is recorded); `None` for an event.
    fn handshake(&self, _headers: &HeaderMap, _body: &[u8]) -> Option<Handshake> {
        None
    }

    /// The headers (lower-case) whose values the signature covers besides the body.
    fn signed_headers(&self) -> &'static [&'static str] {
        &[]
    }

    /// Where the provider puts its event id, tried in order.
    fn event_id_fields(&self) -> &'static [Field] {
        &[]
    }

    /// Where the provider puts the event type, tried in order.
    fn event_type_fields(&self) -> &'static [Field] {
        &[]
    }

    /// Whether the provider signs the URL it was given (`PUBLIC_URL`, then required).
    fn signs_url(&self) -> bool {
        false
    }

    /// One secret of the parameter (number `position`, from 1) as a key: its UTF-8 bytes unless
    /// the scheme takes another form.
    fn parse_key(&self, secret: &str, _position: usize) -> Result<Key, KeyError> {
        Ok(Key::Secret(SigningKey(secret.as_bytes().to_vec())))
    }
}

/// One active secret, as a scheme reads it.
#[derive(Debug, Clone)]
pub enum Key {
    /// An HMAC key or a shared secret.
    Secret(SigningKey),
    /// A provider's public key.
    Public(PublicKey),
}

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
    /// What the scheme does, behind the one trait.
    pub fn behaviour(&self) -> &dyn Scheme {
        match self {
            Self::Hmac(declared) => *declared,
            Self::Coded(coded) => *coded,
            Self::HmacSha256(generic) => generic,
            Self::Token(token) => token,
        }
    }

    /// The `SIGNATURE_SCHEME` value naming this scheme.
    pub fn name(&self) -> &'static str {
        self.behaviour().name()
    }

    /// Whether the provider signs the URL it was given (`PUBLIC_URL`, then required).
    pub fn signs_url(&self) -> bool {
        self.behaviour().signs_url()
    }

    /// The scheme a `SIGNATURE_SCHEME` value names, for every registry entry that needs no
    /// settings of its own (all but `hmac-sha256`, `token` and `custom`).
    pub fn named(name: &str) -> Option<Self> {
        match REGISTRY.iter().find(|entry| entry.name == name)?.kind {
            EntryKind::Declared(declared) => Some(Self::Hmac(declared)),
            EntryKind::Coded(coded) => Some(Self::Coded(coded)),
            EntryKind::Configured { .. } => None,
        }
    }

    /// Turns the secret parameter's value into keys: one secret, or several separated by whitespace
    /// or commas. Standard Webhooks secrets are `whsec_` and the base64 of at least 24 bytes, or
    /// `whpk_` and a public key (anything else is refused); Discord and SendGrid hold public keys;
    /// every other provider's secret (Stripe's `whsec_...` included) is used as its UTF-8 bytes.
    pub fn parse_keys(&self, raw: &str) -> Result<SigningKeys, KeyError> {
        let secrets = raw
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty());
        let behaviour = self.behaviour();
        let mut keys = Vec::new();
        let mut public = Vec::new();
        for (index, secret) in secrets.enumerate() {
            match behaviour.parse_key(secret, index + 1)? {
                Key::Secret(key) => keys.push(key),
                Key::Public(key) => public.push(key),
            }
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
        let key_index = self.behaviour().verify(request, keys, window)?;
        Ok(Verified { key_index })
    }

    /// The answer to a verified request that is a provider's handshake rather than an event
    /// (Slack's `url_verification`, Twitch's `webhook_callback_verification`, Discord's `PING`).
    pub fn handshake(&self, headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        self.behaviour().handshake(headers, body)
    }

    /// The headers (lower-case) whose values the signature covers besides the body: a replay of a
    /// captured request cannot change them. Every other header (the GitHub and Shopify event id
    /// and topic headers among them) can be changed by whoever holds a signed body.
    pub fn signed_headers(&self) -> &'static [&'static str] {
        self.behaviour().signed_headers()
    }

    /// Where the provider puts its event id, tried in order before `EVENT_ID_HEADER` and
    /// `EVENT_ID_POINTER`.
    pub fn event_id_fields(&self) -> &'static [Field] {
        self.behaviour().event_id_fields()
    }

    /// Where the provider puts the event type, tried in order, unless `EVENT_TYPE_POINTER` is set.
    pub fn event_type_fields(&self) -> &'static [Field] {
        self.behaviour().event_type_fields()
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
        self.behaviour()
            .sign(key, event_id, timestamp_secs, request)
    }
}

/// The accepted time window of timestamped schemes.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub now_secs: i64,
    pub tolerance_secs: u64,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHeader {
    /// The lower-case name.
    pub name: &'static str,
    header: HeaderName,
}

impl KnownHeader {
    /// A header named at compile time (a name that is not a valid lower-case header name does
    /// not compile).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            header: HeaderName::from_static(name),
        }
    }

    /// A header named at run time (a user's `SIGNATURE_SPEC`); `None` for an invalid name.
    pub fn parse(name: &'static str) -> Option<Self> {
        let header = HeaderName::from_bytes(name.as_bytes()).ok()?;
        (header.as_str() == name).then_some(Self { name, header })
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
