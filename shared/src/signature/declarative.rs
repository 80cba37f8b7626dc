//! The engine behind every provider whose signature is an HMAC over parts of the request that
//! headers, the body, the method and the URL address: such a provider is one [`HmacScheme`]
//! value in `catalog.rs` (or a user's `SIGNATURE_SPEC`, see `spec.rs`), not code of its own. The
//! engine looks its headers up by names parsed once, parses the signature header, checks the
//! timestamp window, computes each active key's tag once (on the stack for up to [`STACK_KEYS`]
//! keys) and compares it with every claimed signature in constant time; claimed signatures are
//! decoded into a fixed buffer, so checking a request allocates nothing.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{
    header_str, parse_timestamp, Field, Handshake, KnownHeader, ParsedTimestamp, Rejection, Scheme,
    SignedRequest, SigningKey, SigningKeys, Window, MAX_SIGNATURE_HEADER_BYTES,
};
use crate::primitives::LazyJson;

/// The longest tag any algorithm yields (SHA-512).
const MAX_TAG_LEN: usize = 64;
/// The most parts a signed message is built from.
pub const MAX_PARTS: usize = 8;
/// Active keys whose tags are kept on the stack (more, while rotating several, go to the heap).
pub const STACK_KEYS: usize = 4;

/// An HMAC signature scheme, described rather than coded.
#[derive(Debug, PartialEq, Eq)]
pub struct HmacScheme {
    /// Its `SIGNATURE_SCHEME` value (`custom` for a `SIGNATURE_SPEC`).
    pub name: &'static str,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// The header holding the signature.
    pub header: KnownHeader,
    pub format: SignatureFormat,
    /// What is signed, in order, as if concatenated.
    pub message: &'static [Part],
    /// The signed time and its tolerance (the configured `TIMESTAMP_TOLERANCE_SECS`), if any.
    pub timestamp: Option<Timestamp>,
    /// Headers (lower-case) whose values the signature covers besides the body.
    pub signed_headers: &'static [&'static str],
    /// Whether the provider only ever sends JSON: any other body is refused before its signature
    /// is checked, so parts concatenated without a separator cannot be re-cut at the body's edge.
    pub json_body: bool,
    /// Signed headers the provider documents as UUIDs: another value is refused.
    pub uuid_headers: &'static [&'static KnownHeader],
    pub event_id: &'static [Field],
    pub event_type: &'static [Field],
    /// The handshake the provider sends to check the URL, if any (Slack's, Twitch's).
    pub challenge: Option<Challenge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// How signatures are written in their header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat {
    /// `prefix` (any case) then the signature; with a `separator`, several such entries.
    Plain {
        prefix: &'static str,
        separator: Option<char>,
    },
    /// `key=value` items split on `separator`: the timestamp under `timestamp_key`, one or more
    /// signatures under `signature_key`, other keys ignored (`t=...,v1=...,v1=...`).
    Keyed {
        separator: char,
        timestamp_key: &'static str,
        signature_key: &'static str,
    },
}

/// One part of the signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The raw body bytes.
    Body,
    /// The timestamp's exact text as received.
    Timestamp,
    /// A header's exact value (trimmed); a missing one refuses the request.
    Header(&'static KnownHeader),
    /// The request method (`POST`).
    Method,
    /// The URL the provider was given: exactly `PUBLIC_URL`.
    Url,
    Literal(&'static str),
}

/// Where the signed time is and how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub source: TimestampSource,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource {
    /// A header.
    Header(&'static KnownHeader),
    /// The `timestamp_key` item of a [`SignatureFormat::Keyed`] header.
    SignatureItem,
    /// A top-level number in the JSON body (which the signature covers).
    BodyField(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
    /// RFC 3339 (`2021-09-20T23:35:21Z`, fractions allowed).
    Rfc3339,
}

/// A verified request that is the provider checking the URL rather than an event: when the
/// value at `when` is `equals`, it is answered with the body's string at `answer` (a JSON
/// pointer), as text. Slack's `url_verification`, Twitch's `webhook_callback_verification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    pub when: Field,
    pub equals: &'static str,
    pub answer: &'static str,
}

/// An HMAC tag of any of the algorithms, in a fixed buffer.
#[derive(Clone, Copy)]
pub(super) struct WideTag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl WideTag {
    const EMPTY: Self = Self {
        bytes: [0; MAX_TAG_LEN],
        len: 0,
    };

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Whether two tags of the same (public) length are equal, in constant time: the difference
    /// of every 8-byte word is OR-ed together without a branch, and only that one word goes
    /// through `subtle`'s optimisation barrier.
    fn ct_eq(&self, other: &Self) -> Choice {
        if self.len != other.len {
            return Choice::from(0);
        }
        let (ours, theirs) = (self.as_slice(), other.as_slice());
        let (mut ours_words, mut their_words) = (ours.chunks_exact(8), theirs.chunks_exact(8));
        let mut difference = 0_u64;
        for (a, b) in (&mut ours_words).zip(&mut their_words) {
            let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
            difference |= word(a) ^ word(b);
        }
        for (a, b) in ours_words.remainder().iter().zip(their_words.remainder()) {
            difference |= u64::from(a ^ b);
        }
        difference.ct_eq(&0)
    }
}

fn mac_of<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> WideTag {
    let mut mac = <M as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    for part in parts {
        mac.update(part);
    }
    let out = mac.finalize().into_bytes();
    let mut bytes = [0; MAX_TAG_LEN];
    let len = out.len().min(MAX_TAG_LEN);
    bytes[..len].copy_from_slice(&out[..len]);
    WideTag { bytes, len }
}

impl Algorithm {
    pub(super) fn tag(self, key: &SigningKey, parts: &[&[u8]]) -> WideTag {
        match self {
            Self::Sha1 => mac_of::<Hmac<Sha1>>(&key.0, parts),
            Self::Sha256 => mac_of::<Hmac<Sha256>>(&key.0, parts),
            Self::Sha512 => mac_of::<Hmac<Sha512>>(&key.0, parts),
        }
    }

    /// The length of its tags in bytes: a claimed signature of another length is no signature.
    pub fn tag_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl Encoding {
    /// Decodes `text` into a tag buffer; `None` when it is not this encoding or too long.
    pub(super) fn decode(self, text: &str) -> Option<WideTag> {
        let mut bytes = [0; MAX_TAG_LEN];
        let len = match self {
            Self::Hex => {
                let len = text.len() / 2;
                if text.len() % 2 != 0 || len > MAX_TAG_LEN {
                    return None;
                }
                hex::decode_to_slice(text, &mut bytes[..len]).ok()?;
                len
            }
            Self::Base64 => BASE64.decode_slice(text, &mut bytes).ok()?,
        };
        Some(WideTag { bytes, len })
    }

    pub(super) fn encode(self, tag: &WideTag) -> String {
        match self {
            Self::Hex => hex::encode(tag.as_slice()),
            Self::Base64 => BASE64.encode(tag.as_slice()),
        }
    }
}

/// Computes each key's tag over `parts` once, then compares every claimed signature that
/// `claims` hands to its callback with every tag, in constant time and without stopping at the
/// first match; returns the first matching key's position. Claims of another length than the
/// algorithm's tags are no signatures; no claim at all is a malformed header.
pub(super) fn match_claims(
    algorithm: Algorithm,
    keys: &SigningKeys,
    parts: &[&[u8]],
    claims: impl FnOnce(&mut dyn FnMut(&WideTag)),
) -> Result<usize, Rejection> {
    let mut on_stack = [WideTag::EMPTY; STACK_KEYS];
    let on_heap: Vec<WideTag>;
    let tags: &[WideTag] = if keys.0.len() <= STACK_KEYS {
        for (slot, key) in on_stack.iter_mut().zip(&keys.0) {
            *slot = algorithm.tag(key, parts);
        }
        &on_stack[..keys.0.len()]
    } else {
        on_heap = keys.0.iter().map(|key| algorithm.tag(key, parts)).collect();
        &on_heap
    };
    let tag_len = algorithm.tag_len();
    let mut found = Choice::from(0);
    let mut index = 0_u64;
    let mut claimed_any = false;
    claims(&mut |claimed: &WideTag| {
        // The length of a claimed signature is public: another one is not a signature at all.
        if claimed.len != tag_len {
            return;
        }
        claimed_any = true;
        for (position, tag) in tags.iter().enumerate() {
            let hit = tag.ct_eq(claimed);
            let first_hit = hit & !found;
            index = u64::conditional_select(&index, &(position as u64), first_hit);
            found |= hit;
        }
    });
    if !claimed_any {
        return Err(Rejection::Malformed("signature"));
    }
    if bool::from(found) {
        Ok(usize::try_from(index).unwrap_or(usize::MAX))
    } else {
        Err(Rejection::NoMatch)
    }
}

fn strip_prefix_ignore_case<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// A received timestamp: the text that was signed (empty when it is not itself signed) and
/// the time it names in seconds. A bad item of the signature header is a malformed `header`.
fn read_timestamp<'r>(
    rule: Timestamp,
    request: &SignedRequest<'r>,
    signature_item: Option<&'r str>,
    header: &'static str,
) -> Result<ParsedTimestamp<'r>, Rejection> {
    let (text, what) = match rule.source {
        TimestampSource::Header(known) => (
            header_str(request.headers, known).ok_or(Rejection::MissingHeader(known.name))?,
            known.name,
        ),
        TimestampSource::SignatureItem => {
            (signature_item.ok_or(Rejection::Malformed(header))?, header)
        }
        TimestampSource::BodyField(field) => {
            let millis_or_secs =
                body_number(request.body, field).ok_or(Rejection::Malformed("body timestamp"))?;
            let secs = match rule.unit {
                TimeUnit::Millis => millis_or_secs.div_euclid(1000),
                _ => millis_or_secs,
            };
            return Ok(ParsedTimestamp { text: "", secs });
        }
    };
    let malformed = Rejection::Malformed(what);
    let secs = match rule.unit {
        TimeUnit::Seconds => parse_timestamp(text).ok_or(malformed)?.secs,
        TimeUnit::Millis => parse_timestamp(text)
            .ok_or(malformed)?
            .secs
            .div_euclid(1000),
        TimeUnit::Rfc3339 => {
            let at = humantime::parse_rfc3339(text).map_err(|_| malformed)?;
            let since = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| malformed)?;
            i64::try_from(since.as_secs()).map_err(|_| malformed)?
        }
    };
    Ok(ParsedTimestamp { text, secs })
}
/// A top-level integer field of a JSON object body, found in one streaming pass that keeps
/// nothing else (a large body never becomes a `serde_json::Value` tree).
fn body_number(body: &[u8], field: &str) -> Option<i64> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    struct Field<'f>(&'f str);

    impl<'de> Visitor<'de> for Field<'_> {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<i64>, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == self.0 {
                    // The last of duplicate keys wins, as in `serde_json::Value`.
                    found = map.next_value::<Option<i64>>()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let found = deserializer.deserialize_map(Field(field)).ok()?;
    deserializer.end().ok()?;
    found
}

/// Whether `text` is a UUID: 8-4-4-4-12 hex digits (either case).
pub(super) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `body` is one JSON value (with nothing after it), checked in one pass that keeps
/// nothing.
fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// The timestamp item of a keyed header, refused when given twice (which one was signed would be
/// ambiguous).
fn keyed_timestamp<'v>(
    value: &'v str,
    separator: char,
    timestamp_key: &str,
    header: &'static str,
) -> Result<Option<&'v str>, Rejection> {
    let mut found = None;
    for item in value.split(separator) {
        if let Some((key, text)) = item.trim().split_once('=') {
            if key == timestamp_key {
                if found.is_some() {
                    return Err(Rejection::Malformed(header));
                }
                found = Some(text);
            }
        }
    }
    Ok(found)
}

/// The claimed signatures and the timestamp item of a signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignatures<'v> {
    /// The timestamp item of a keyed header, if it has one.
    pub timestamp: Option<&'v str>,
    /// Every well-formed signature of the scheme's length, decoded.
    pub signatures: Vec<Vec<u8>>,
}

impl HmacScheme {
    /// Parses a signature header's value as the engine does (for the property tests and the fuzz
    /// target): a value with no signature of the algorithm's length is malformed.
    pub fn parse_header<'v>(&self, value: &'v str) -> Result<ParsedSignatures<'v>, Rejection> {
        let value = value.trim();
        let timestamp = match self.format {
            SignatureFormat::Keyed {
                separator,
                timestamp_key,
                ..
            } => keyed_timestamp(value, separator, timestamp_key, self.header.name)?,
            SignatureFormat::Plain { .. } => None,
        };
        let tag_len = self.algorithm.tag_len();
        let mut signatures = Vec::new();
        self.each_claim(value, &mut |claimed| {
            if claimed.len == tag_len {
                signatures.push(claimed.as_slice().to_vec());
            }
        });
        if signatures.is_empty() {
            return Err(Rejection::Malformed(self.header.name));
        }
        Ok(ParsedSignatures {
            timestamp,
            signatures,
        })
    }

    /// Hands every decodable signature of the header's value to `compare`.
    fn each_claim(&self, value: &str, compare: &mut dyn FnMut(&WideTag)) {
        let encoding = self.encoding;
        match self.format {
            SignatureFormat::Plain { prefix, separator } => {
                let mut each = |entry: &str| {
                    let claimed = strip_prefix_ignore_case(entry.trim(), prefix)
                        .and_then(|encoded| encoding.decode(encoded));
                    if let Some(claimed) = claimed {
                        compare(&claimed);
                    }
                };
                match separator {
                    Some(separator) => value.split(separator).for_each(&mut each),
                    None => each(value),
                }
            }
            SignatureFormat::Keyed {
                separator,
                signature_key,
                ..
            } => {
                for item in value.split(separator) {
                    if let Some((key, text)) = item.trim().split_once('=') {
                        if key == signature_key {
                            if let Some(claimed) = encoding.decode(text) {
                                compare(&claimed);
                            }
                        }
                    }
                }
            }
        }
    }

    pub(super) fn verify_declared(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        let header = self.header.name;
        let value = request
            .headers
            .get(&self.header.header)
            .ok_or(Rejection::MissingHeader(header))?
            .to_str()
            .map_err(|_| Rejection::Malformed(header))?
            .trim();
        if value.len() > MAX_SIGNATURE_HEADER_BYTES {
            return Err(Rejection::Malformed(header));
        }
        let signature_item = match self.format {
            SignatureFormat::Keyed {
                separator,
                timestamp_key,
                ..
            } => keyed_timestamp(value, separator, timestamp_key, header)?,
            SignatureFormat::Plain { .. } => None,
        };
        let timestamp = match self.timestamp {
            Some(rule) => {
                let timestamp = read_timestamp(rule, request, signature_item, header)?;
                window.check(timestamp)?;
                Some(timestamp)
            }
            None => None,
        };

        for known in self.uuid_headers {
            let value =
                header_str(request.headers, known).ok_or(Rejection::MissingHeader(known.name))?;
            if !is_uuid(value) {
                return Err(Rejection::Malformed(known.name));
            }
        }
        let mut parts: [&[u8]; MAX_PARTS] = [&[]; MAX_PARTS];
        for (slot, part) in parts.iter_mut().zip(self.message) {
            *slot = match part {
                Part::Body => request.body,
                Part::Timestamp => timestamp.map_or(&[][..], |t| t.text.as_bytes()),
                Part::Header(known) => header_str(request.headers, known)
                    .ok_or(Rejection::MissingHeader(known.name))?
                    .as_bytes(),
                Part::Method => request.method.as_bytes(),
                Part::Url => request.url.as_bytes(),
                Part::Literal(text) => text.as_bytes(),
            };
        }
        let parts = &parts[..self.message.len().min(MAX_PARTS)];
        let verified = match_claims(self.algorithm, keys, parts, |compare| {
            self.each_claim(value, compare)
        })
        .map_err(|rejection| match rejection {
            Rejection::Malformed(_) => Rejection::Malformed(header),
            other => other,
        })?;
        // After the signature: a sender without the key never makes us parse its body.
        if self.json_body && !is_json(request.body) {
            return Err(Rejection::Malformed("body"));
        }
        Ok(verified)
    }

    /// The headers this provider sends with `body`: the id header (unless `event_id` is empty),
    /// the timestamp header and the signature. A scheme whose time is in the body signs whatever
    /// time the body holds.
    pub(super) fn sign_declared(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        let mut out = Vec::new();
        let timestamp_text = match self.timestamp.map(|rule| rule.unit) {
            Some(TimeUnit::Millis) => (timestamp_secs * 1000).to_string(),
            Some(TimeUnit::Rfc3339) => {
                let at = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(timestamp_secs).unwrap_or(0));
                humantime::format_rfc3339_seconds(at).to_string()
            }
            _ => timestamp_secs.to_string(),
        };
        let push = |out: &mut Vec<(HeaderName, String)>, name: &str, value: &str| {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                if !out.iter().any(|(existing, _)| existing == name) {
                    out.push((name, value.to_owned()));
                }
            }
        };
        if !event_id.is_empty() {
            for field in self.event_id {
                if let Field::Header(name) = field {
                    push(&mut out, name, event_id);
                }
            }
        }
        if let Some(Timestamp {
            source: TimestampSource::Header(known),
            ..
        }) = self.timestamp
        {
            push(&mut out, known.name, &timestamp_text);
        }
        let parts: Vec<&[u8]> = self
            .message
            .iter()
            .map(|part| match part {
                Part::Body => request.body,
                Part::Timestamp => timestamp_text.as_bytes(),
                Part::Header(known) => out
                    .iter()
                    .find(|(existing, _)| existing == known.name)
                    .map_or(&[][..], |(_, value)| value.as_bytes()),
                Part::Method => request.method.as_bytes(),
                Part::Url => request.url.as_bytes(),
                Part::Literal(text) => text.as_bytes(),
            })
            .collect();
        let signature = self.encoding.encode(&self.algorithm.tag(key, &parts));
        let value = match self.format {
            SignatureFormat::Plain { prefix, .. } => format!("{prefix}{signature}"),
            SignatureFormat::Keyed {
                separator,
                timestamp_key,
                signature_key,
            } => format!("{timestamp_key}={timestamp_text}{separator}{signature_key}={signature}"),
        };
        push(&mut out, self.header.name, &value);
        out
    }
}

impl Challenge {
    /// The answer to a verified request that is this handshake.
    fn answer(&self, headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        let json = LazyJson::default();
        let kind = match self.when {
            Field::Header(name) => headers.get(name)?.to_str().ok()?.trim().to_owned(),
            Field::Pointer(pointer) => json.scalar_at(body, pointer)?,
        };
        if kind != self.equals {
            return None;
        }
        Some(Handshake {
            body: json.scalar_at(body, self.answer)?,
            content_type: "text/plain",
        })
    }
}

/// A declared scheme is a [`Scheme`] like those with code of their own.
impl Scheme for HmacScheme {
    fn name(&self) -> &'static str {
        self.name
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        self.verify_declared(request, keys, window)
    }

    fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        self.sign_declared(key, event_id, timestamp_secs, request)
    }

    fn handshake(&self, headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        self.challenge?.answer(headers, body)
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        self.signed_headers
    }

    fn event_id_fields(&self) -> &'static [Field] {
        self.event_id
    }

    fn event_type_fields(&self) -> &'static [Field] {
        self.event_type
    }

    fn signs_url(&self) -> bool {
        self.message.contains(&Part::Url)
    }
}

#[cfg(test)]
mod tests {
    use super::body_number;

    #[test]
    fn body_numbers_are_top_level_integers_only() {
        let field = "webhookTimestamp";
        assert_eq!(
            body_number(
                br#"{"a":[1,{"webhookTimestamp":2}],"webhookTimestamp":3}"#,
                field
            ),
            Some(3)
        );
        assert_eq!(
            body_number(br#"{"data":{"webhookTimestamp":2}}"#, field),
            None
        );
        assert_eq!(body_number(br#"{"webhookTimestamp":"3"}"#, field), None);
        assert_eq!(
            body_number(br#"{"webhookTimestamp":1,"webhookTimestamp":2}"#, field),
            Some(2)
        );
        assert_eq!(body_number(br#"[{"webhookTimestamp":2}]"#, field), None);
        assert_eq!(
            body_number(br#"{"webhookTimestamp":2} trailing"#, field),
            None
        );
    }
}
