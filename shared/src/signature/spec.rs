//! `SIGNATURE_SCHEME=custom`: an HMAC scheme the user declares in `SIGNATURE_SPEC`, a JSON document
//! with the fields of a catalog entry (docs/custom-schemes.md). It is checked once, at cold start,
//! and becomes an [`HmacScheme`] run by the same engine as the catalog's. Every error names the
//! field at fault; the document holds no secret (the secret parameter does).

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::declarative::MAX_PARTS;
use super::{
    Algorithm, Encoding, Field, HmacScheme, KnownHeader, Part, SignatureFormat, TimeUnit,
    Timestamp, TimestampSource,
};

/// The `SIGNATURE_SCHEME` value of a declared scheme.
pub const CUSTOM_SCHEME: &str = "custom";
/// The longest `SIGNATURE_SPEC` read: a real one is a few hundred bytes, and a Lambda's whole
/// environment is at most 4 KB.
pub const MAX_SPEC_BYTES: usize = 2048;
/// The most event id or event type sources a spec lists.
const MAX_FIELDS: usize = 8;

/// Why a `SIGNATURE_SPEC` is refused: the field (`signed[2].header`, say) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct SpecError {
    pub field: String,
    pub problem: String,
}

fn error(field: impl Into<String>, problem: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A checked `SIGNATURE_SPEC`, owned until it is made static.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    algorithm: Algorithm,
    encoding: Encoding,
    header: String,
    format: Format,
    signed: Vec<SpecPart>,
    timestamp: Option<(SpecSource, TimeUnit)>,
    json_body: bool,
    event_id: Vec<SpecField>,
    event_type: Vec<SpecField>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    Plain {
        prefix: String,
        separator: Option<char>,
    },
    Keyed {
        separator: char,
        timestamp_key: String,
        signature_key: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecPart {
    Body,
    Timestamp,
    Method,
    Url,
    Header(String),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecSource {
    Header(String),
    Signature,
    BodyField(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecField {
    Header(String),
    Pointer(String),
}

/// Reads the fields of one JSON object, refusing any it does not know.
struct Object<'v> {
    path: String,
    fields: &'v Map<String, Value>,
}

impl<'v> Object<'v> {
    fn new(path: &str, value: &'v Value, known: &[&str]) -> Result<Self, SpecError> {
        let fields = value
            .as_object()
            .ok_or_else(|| error(path, "must be a JSON object"))?;
        if let Some(unknown) = fields.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(error(
                join(path, unknown),
                format!("is not a field here (known: {})", known.join(", ")),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            fields,
        })
    }

    fn path(&self, field: &str) -> String {
        join(&self.path, field)
    }

    fn get(&self, field: &str) -> Option<&'v Value> {
        self.fields.get(field).filter(|value| !value.is_null())
    }

    fn string(&self, field: &str) -> Result<Option<&'v str>, SpecError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(error(self.path(field), "must be a string")),
        }
    }

    fn required(&self, field: &str) -> Result<&'v str, SpecError> {
        self.string(field)?
            .ok_or_else(|| error(self.path(field), "is required"))
    }

    /// One of `choices` (any case).
    fn choice<T: Copy>(&self, field: &str, choices: &[(&str, T)]) -> Result<Option<T>, SpecError> {
        let Some(text) = self.string(field)? else {
            return Ok(None);
        };
        let found = choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()));
        match found {
            Some((_, value)) => Ok(Some(*value)),
            None => Err(error(
                self.path(field),
                format!(
                    "`{text}` is not one of: {}",
                    choices
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// A header name as HTTP has it, lower-cased.
fn header_name(path: &str, text: &str) -> Result<String, SpecError> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.is_empty() || http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
        return Err(error(path, format!("`{text}` is not a header name")));
    }
    Ok(lower)
}

/// A one-character separator.
fn separator(path: &str, text: &str) -> Result<char, SpecError> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_alphanumeric() => Ok(c),
        _ => Err(error(
            path,
            format!("`{text}` is not one punctuation or space character"),
        )),
    }
}

fn json_pointer(path: &str, text: &str) -> Result<String, SpecError> {
    if text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(error(
            path,
            format!("`{text}` is not a JSON pointer such as /data/id"),
        ))
    }
}

fn format(value: Option<&Value>) -> Result<Format, SpecError> {
    const PATH: &str = "format";
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Ok(Format::Plain {
            prefix: String::new(),
            separator: None,
        });
    };
    let object = Object::new(
        PATH,
        value,
        &[
            "style",
            "prefix",
            "separator",
            "timestamp_key",
            "signature_key",
        ],
    )?;
    let keyed = object.choice("style", &[("plain", false), ("keyed", true)])?;
    let separator_at = object.path("separator");
    if keyed == Some(true) {
        if object.get("prefix").is_some() {
            return Err(error(
                object.path("prefix"),
                "is only used with style plain",
            ));
        }
        let signature_key = object.required("signature_key")?;
        let timestamp_key = object.required("timestamp_key")?;
        for (field, key) in [
            ("signature_key", signature_key),
            ("timestamp_key", timestamp_key),
        ] {
            if key.contains(['=', ',', ';', ' ']) {
                return Err(error(object.path(field), format!("`{key}` is not a key")));
            }
        }
        if signature_key.is_empty() || signature_key == timestamp_key {
            return Err(error(
                object.path("signature_key"),
                "must be a key of its own",
            ));
        }
        Ok(Format::Keyed {
            separator: separator(&separator_at, object.required("separator")?)?,
            timestamp_key: timestamp_key.to_owned(),
            signature_key: signature_key.to_owned(),
        })
    } else {
        for field in ["timestamp_key", "signature_key"] {
            if object.get(field).is_some() {
                return Err(error(object.path(field), "is only used with style keyed"));
            }
        }
        Ok(Format::Plain {
            prefix: object.string("prefix")?.unwrap_or_default().to_owned(),
            separator: object
                .string("separator")?
                .map(|text| separator(&separator_at, text))
                .transpose()?,
        })
    }
}

fn signed(value: Option<&Value>) -> Result<Vec<SpecPart>, SpecError> {
    const PATH: &str = "signed";
    let items = value
        .ok_or_else(|| {
            error(
                PATH,
                "is required: the parts of the request that are signed",
            )
        })?
        .as_array()
        .ok_or_else(|| error(PATH, "must be an array of parts"))?;
    if items.is_empty() || items.len() > MAX_PARTS {
        return Err(error(PATH, format!("must list 1 to {MAX_PARTS} parts")));
    }
    let mut parts = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = format!("{PATH}[{index}]");
        let part = match item {
            Value::String(name) => match name.as_str() {
                "body" => SpecPart::Body,
                "timestamp" => SpecPart::Timestamp,
                "method" => SpecPart::Method,
                "url" => SpecPart::Url,
                other => {
                    return Err(error(
                        path,
                        format!("`{other}` is not one of: body, timestamp, method, url, {{\"header\": ...}}, {{\"literal\": ...}}"),
                    ))
                }
            },
            object @ Value::Object(_) => {
                let object = Object::new(&path, object, &["header", "literal"])?;
                match (object.string("header")?, object.string("literal")?) {
                    (Some(name), None) => SpecPart::Header(header_name(&object.path("header"), name)?),
                    (None, Some(text)) if !text.is_empty() => SpecPart::Literal(text.to_owned()),
                    _ => {
                        return Err(error(
                            path,
                            "must be {\"header\": NAME} or {\"literal\": TEXT}",
                        ))
                    }
                }
            }
            _ => return Err(error(path, "must be a string or an object")),
        };
        parts.push(part);
    }
    if !parts.contains(&SpecPart::Body) {
        return Err(error(
            PATH,
            "must include \"body\": the signature has to cover it",
        ));
    }
    Ok(parts)
}

fn timestamp(value: Option<&Value>) -> Result<Option<(SpecSource, TimeUnit)>, SpecError> {
    const PATH: &str = "timestamp";
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Ok(None);
    };
    let object = Object::new(
        PATH,
        value,
        &["header", "from_signature", "body_field", "unit"],
    )?;
    let unit = object
        .choice(
            "unit",
            &[
                ("seconds", TimeUnit::Seconds),
                ("milliseconds", TimeUnit::Millis),
                ("rfc3339", TimeUnit::Rfc3339),
            ],
        )?
        .unwrap_or(TimeUnit::Seconds);
    let from_signature = match object.get("from_signature") {
        None => false,
        Some(Value::Bool(set)) => *set,
        Some(_) => {
            return Err(error(
                object.path("from_signature"),
                "must be true or false",
            ))
        }
    };
    let header = object.string("header")?;
    let body_field = object.string("body_field")?;
    let source = match (header, from_signature, body_field) {
        (Some(name), false, None) => SpecSource::Header(header_name(&object.path("header"), name)?),
        (None, true, None) => SpecSource::Signature,
        (None, false, Some(field)) if !field.is_empty() => {
            if unit == TimeUnit::Rfc3339 {
                return Err(error(
                    object.path("unit"),
                    "a body_field timestamp is a number: seconds or milliseconds",
                ));
            }
            SpecSource::BodyField(field.to_owned())
        }
        _ => return Err(error(
            PATH,
            "must name exactly one source: \"header\", \"from_signature\": true, or \"body_field\"",
        )),
    };
    Ok(Some((source, unit)))
}

fn fields(path: &str, value: Option<&Value>) -> Result<Vec<SpecField>, SpecError> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value.as_array().ok_or_else(|| {
        error(
            path,
            "must be an array of {\"header\": ...} or {\"pointer\": ...}",
        )
    })?;
    if items.len() > MAX_FIELDS {
        return Err(error(path, format!("lists more than {MAX_FIELDS} sources")));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let item_path = format!("{path}[{index}]");
            let object = Object::new(&item_path, item, &["header", "pointer"])?;
            match (object.string("header")?, object.string("pointer")?) {
                (Some(name), None) => Ok(SpecField::Header(header_name(
                    &object.path("header"),
                    name,
                )?)),
                (None, Some(pointer)) => Ok(SpecField::Pointer(json_pointer(
                    &object.path("pointer"),
                    pointer,
                )?)),
                _ => Err(error(
                    item_path,
                    "must be {\"header\": NAME} or {\"pointer\": \"/json/pointer\"}",
                )),
            }
        })
        .collect()
}

impl Spec {
    fn parse(text: &str) -> Result<Self, SpecError> {
        if text.len() > MAX_SPEC_BYTES {
            return Err(error(
                "SIGNATURE_SPEC",
                format!("is longer than {MAX_SPEC_BYTES} bytes"),
            ));
        }
        let document: Value = serde_json::from_str(text).map_err(|err| {
            error(
                "SIGNATURE_SPEC",
                format!("is not JSON (line {}, column {})", err.line(), err.column()),
            )
        })?;
        let object = Object::new(
            "",
            &document,
            &[
                "algorithm",
                "encoding",
                "header",
                "format",
                "signed",
                "timestamp",
                "json_body",
                "event_id",
                "event_type",
            ],
        )
        .map_err(|err| match err.field.as_str() {
            "" => error("SIGNATURE_SPEC", "must be a JSON object"),
            _ => err,
        })?;
        let algorithm = object
            .choice(
                "algorithm",
                &[
                    ("sha1", Algorithm::Sha1),
                    ("sha256", Algorithm::Sha256),
                    ("sha512", Algorithm::Sha512),
                ],
            )?
            .ok_or_else(|| error("algorithm", "is required (sha1, sha256 or sha512)"))?;
        let encoding = object
            .choice(
                "encoding",
                &[("hex", Encoding::Hex), ("base64", Encoding::Base64)],
            )?
            .ok_or_else(|| error("encoding", "is required (hex or base64)"))?;
        let header = header_name("header", object.required("header")?)?;
        let format = format(object.get("format"))?;
        let signed = signed(object.get("signed"))?;
        let timestamp = timestamp(object.get("timestamp"))?;
        let json_body = match object.get("json_body") {
            None => false,
            Some(Value::Bool(set)) => *set,
            Some(_) => return Err(error("json_body", "must be true or false")),
        };
        let spec = Self {
            algorithm,
            encoding,
            header,
            format,
            signed,
            timestamp,
            json_body,
            event_id: fields("event_id", object.get("event_id"))?,
            event_type: fields("event_type", object.get("event_type"))?,
        };
        spec.check_consistency()?;
        Ok(spec)
    }

    /// What a field is may depend on another: a signed timestamp needs a source, a timestamp read
    /// from a header must be signed (else whoever replays a request sets it), and a timestamp
    /// read from the signature header needs a keyed one.
    fn check_consistency(&self) -> Result<(), SpecError> {
        let signs_timestamp = self.signed.contains(&SpecPart::Timestamp);
        match &self.timestamp {
            None if signs_timestamp => Err(error(
                "signed",
                "lists \"timestamp\" but the spec has no `timestamp` field saying where it is",
            )),
            Some((SpecSource::Header(_) | SpecSource::Signature, _)) if !signs_timestamp => {
                Err(error(
                    "timestamp",
                    "is not signed: add \"timestamp\" to `signed`, or the window can be dodged by changing it",
                ))
            }
            Some((SpecSource::Signature, _)) => match &self.format {
                Format::Keyed { .. } => Ok(()),
                Format::Plain { .. } => Err(error(
                    "timestamp.from_signature",
                    "needs `format` with style keyed (and its timestamp_key)",
                )),
            },
            _ => Ok(()),
        }
    }

    /// The scheme as the engine runs it, with its names made static.
    fn to_static(&self) -> HmacScheme {
        fn leak(text: &str) -> &'static str {
            Box::leak(text.to_owned().into_boxed_str())
        }
        fn known(name: &str) -> &'static KnownHeader {
            let name = leak(name);
            Box::leak(Box::new(
                KnownHeader::parse(name).unwrap_or_else(|| unreachable!("checked when parsed")),
            ))
        }
        fn field(field: &SpecField) -> Field {
            match field {
                SpecField::Header(name) => Field::Header(leak(name)),
                SpecField::Pointer(pointer) => Field::Pointer(leak(pointer)),
            }
        }
        let timestamp = self.timestamp.as_ref().map(|(source, unit)| Timestamp {
            source: match source {
                SpecSource::Header(name) => TimestampSource::Header(known(name)),
                SpecSource::Signature => TimestampSource::SignatureItem,
                SpecSource::BodyField(field) => TimestampSource::BodyField(leak(field)),
            },
            unit: *unit,
        });
        let message: Vec<Part> = self
            .signed
            .iter()
            .map(|part| match part {
                SpecPart::Body => Part::Body,
                SpecPart::Timestamp => Part::Timestamp,
                SpecPart::Method => Part::Method,
                SpecPart::Url => Part::Url,
                SpecPart::Header(name) => Part::Header(known(name)),
                SpecPart::Literal(text) => Part::Literal(leak(text)),
            })
            .collect();
        let mut signed_headers: Vec<&'static str> = message
            .iter()
            .filter_map(|part| match part {
                Part::Header(known) => Some(known.name),
                _ => None,
            })
            .collect();
        if let Some(Timestamp {
            source: TimestampSource::Header(known),
            ..
        }) = timestamp
        {
            signed_headers.push(known.name);
        }
        HmacScheme {
            name: CUSTOM_SCHEME,
            algorithm: self.algorithm,
            encoding: self.encoding,
            header: KnownHeader::parse(leak(&self.header))
                .unwrap_or_else(|| unreachable!("checked when parsed")),
            format: match &self.format {
                Format::Plain { prefix, separator } => SignatureFormat::Plain {
                    prefix: leak(prefix),
                    separator: *separator,
                },
                Format::Keyed {
                    separator,
                    timestamp_key,
                    signature_key,
                } => SignatureFormat::Keyed {
                    separator: *separator,
                    timestamp_key: leak(timestamp_key),
                    signature_key: leak(signature_key),
                },
            },
            message: Box::leak(message.into_boxed_slice()),
            timestamp,
            signed_headers: Box::leak(signed_headers.into_boxed_slice()),
            json_body: self.json_body,
            uuid_headers: &[],
            event_id: Box::leak(self.event_id.iter().map(field).collect()),
            event_type: Box::leak(self.event_type.iter().map(field).collect()),
            challenge: None,
        }
    }
}

/// Specs made static so far: a process reads one at cold start, and reading the same one again
/// (a test, the fuzz target) reuses it rather than allocating it anew.
static PARSED: Mutex<Vec<(Spec, &'static HmacScheme)>> = Mutex::new(Vec::new());

/// Checks a `SIGNATURE_SPEC` and returns the scheme it declares.
pub fn parse(text: &str) -> Result<&'static HmacScheme, SpecError> {
    let spec = Spec::parse(text)?;
    let mut parsed = PARSED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, scheme)) = parsed.iter().find(|(known, _)| *known == spec) {
        return Ok(scheme);
    }
    let scheme: &'static HmacScheme = Box::leak(Box::new(spec.to_static()));
    parsed.push((spec, scheme));
    Ok(scheme)
}

/// Checks a `SIGNATURE_SPEC` without keeping anything (the fuzz target).
pub fn check(text: &str) -> Result<(), SpecError> {
    Spec::parse(text).map(drop)
}

#[cfg(test)]
pub(in crate::signature) mod tests {
    use http::{HeaderMap, HeaderName};

    use super::super::{Rejection, SignatureScheme, SignedRequest, Verified};
    use super::*;

    /// Mux (docs.mux.com, "Verify webhook signatures"): `Mux-Signature: t=<unix>,v1=<hex>`,
    /// HMAC-SHA256 of `{t}.{body}` with the webhook's signing secret.
    pub(in crate::signature) const MUX: &str = r#"{
        "algorithm": "sha256",
        "encoding": "hex",
        "header": "Mux-Signature",
        "format": {"style": "keyed", "separator": ",", "timestamp_key": "t", "signature_key": "v1"},
        "signed": ["timestamp", {"literal": "."}, "body"],
        "timestamp": {"from_signature": true, "unit": "seconds"},
        "event_id": [{"pointer": "/id"}],
        "event_type": [{"pointer": "/type"}]
    }"#;
    pub(in crate::signature) const MUX_BODY: &[u8] = br#"{"type":"video.asset.ready","id":"3a56ac3d-33da-4366-855b-f592d898409d","object":{"type":"asset","id":"asset_1"}}"#;
    /// `python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"mux-signing-secret", b"1700000000." + BODY, hashlib.sha256).hexdigest())'`
    pub(in crate::signature) const MUX_HEADER: &str =
        "t=1700000000,v1=e4de94d7bd62e660d32b3fcada593b8187367509508e7e7d6065d71a862c4fe5";

    /// Sentry integration platform (docs.sentry.io, "Webhooks"): `Sentry-Hook-Signature: <hex>`,
    /// HMAC-SHA256 of the body with the integration's client secret; `Request-ID` and
    /// `Sentry-Hook-Resource` name the delivery and its kind.
    const SENTRY: &str = r#"{
        "algorithm": "sha256",
        "encoding": "hex",
        "header": "Sentry-Hook-Signature",
        "signed": ["body"],
        "event_id": [{"header": "Request-ID"}],
        "event_type": [{"header": "Sentry-Hook-Resource"}]
    }"#;
    const SENTRY_BODY: &[u8] = br#"{"action":"created","installation":{"uuid":"7a485448-a9e2-4c85-8a3c-4f44175783c9"},"data":{"issue":{"id":"1170820242"}}}"#;
    /// Python's `hmac`, key `sentry-client-secret`, SHA-256 of the body.
    const SENTRY_SIGNATURE: &str =
        "18d154857bf297f79b17e18b7c94435b6b31f7c47db799991ceb52e4d1a2a881";

    /// Vercel (vercel.com/docs, "Webhooks", securing them): `x-vercel-signature: <hex>`,
    /// HMAC-**SHA1** of the body with the webhook's secret.
    const VERCEL: &str = r#"{
        "algorithm": "sha1",
        "encoding": "hex",
        "header": "x-vercel-signature",
        "signed": ["body"],
        "json_body": true,
        "event_id": [{"pointer": "/id"}],
        "event_type": [{"pointer": "/type"}]
    }"#;
    const VERCEL_BODY: &[u8] = br#"{"id":"uHJk8qNkHPyv4ZUr5EsTjz2q","type":"deployment.created","createdAt":1700000000000,"payload":{"deployment":{"id":"dpl_1"}}}"#;
    /// Python's `hmac`, key `vercel-webhook-secret`, SHA-1 of the body.
    const VERCEL_SIGNATURE: &str = "0cd6a455e2d05f02bc2f9a134b2f0f92b622ad20";

    const NOW: i64 = 1_700_000_000;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                )
            })
            .collect()
    }

    fn verify_with(
        spec: &str,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, Rejection> {
        let scheme = SignatureScheme::Hmac(parse(spec).unwrap());
        let keys = scheme.parse_keys(&format!("old-secret {secret}")).unwrap();
        let request = SignedRequest {
            method: "POST",
            url: "",
            headers,
            body,
        };
        scheme.verify_request(&request, &keys, now, 300)
    }

    #[test]
    fn the_mux_example_verifies_in_its_window_only_and_names_its_event() {
        let signed = headers(&[("mux-signature", MUX_HEADER)]);
        let mux = |body: &[u8], now| verify_with(MUX, "mux-signing-secret", &signed, body, now);
        assert_eq!(mux(MUX_BODY, NOW), Ok(Verified { key_index: 1 }));
        assert_eq!(mux(b"{}", NOW), Err(Rejection::NoMatch));
        for now in [NOW + 301, NOW - 301] {
            assert_eq!(mux(MUX_BODY, now), Err(Rejection::StaleTimestamp));
        }
        let scheme = SignatureScheme::Hmac(parse(MUX).unwrap());
        assert_eq!(scheme.name(), "custom");
        assert_eq!(scheme.event_id_fields(), &[Field::Pointer("/id")]);
        assert_eq!(scheme.event_type_fields(), &[Field::Pointer("/type")]);
        assert!(!scheme.signs_url());
        // Our own signer agrees with Python's.
        let keys = scheme.parse_keys("mux-signing-secret").unwrap();
        let ours = scheme.sign(keys.first().unwrap(), "", NOW, MUX_BODY);
        assert_eq!(
            ours,
            vec![(
                HeaderName::from_static("mux-signature"),
                MUX_HEADER.to_owned()
            )]
        );
    }

    #[test]
    fn the_sentry_example_verifies_and_takes_its_id_and_kind_from_headers() {
        let signed = headers(&[("sentry-hook-signature", SENTRY_SIGNATURE)]);
        assert_eq!(
            verify_with(SENTRY, "sentry-client-secret", &signed, SENTRY_BODY, NOW),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            verify_with(SENTRY, "sentry-client-secret", &signed, b"{}", NOW),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            verify_with(SENTRY, "another-secret", &signed, SENTRY_BODY, NOW),
            Err(Rejection::NoMatch)
        );
        let scheme = SignatureScheme::Hmac(parse(SENTRY).unwrap());
        assert_eq!(scheme.event_id_fields(), &[Field::Header("request-id")]);
        assert_eq!(
            scheme.event_type_fields(),
            &[Field::Header("sentry-hook-resource")]
        );
        assert!(scheme.signed_headers().is_empty());
    }

    #[test]
    fn the_vercel_example_verifies_with_sha1_and_refuses_a_body_that_is_not_json() {
        let signed = headers(&[("x-vercel-signature", VERCEL_SIGNATURE)]);
        assert_eq!(
            verify_with(VERCEL, "vercel-webhook-secret", &signed, VERCEL_BODY, NOW),
            Ok(Verified { key_index: 1 })
        );
        assert_eq!(
            verify_with(VERCEL, "vercel-webhook-secret", &signed, b"not json", NOW),
            Err(Rejection::NoMatch)
        );
        // Signed, and still not JSON (SHA-1 HMAC of `not json` under the secret, by Python's hmac).
        let signed_not_json = headers(&[(
            "x-vercel-signature",
            "2f4d70b070304dac27049224367f88d5a94634e0",
        )]);
        assert_eq!(
            verify_with(
                VERCEL,
                "vercel-webhook-secret",
                &signed_not_json,
                b"not json",
                NOW
            ),
            Err(Rejection::Malformed("body"))
        );
        let sha256 = headers(&[("x-vercel-signature", SENTRY_SIGNATURE)]);
        assert_eq!(
            verify_with(VERCEL, "vercel-webhook-secret", &sha256, VERCEL_BODY, NOW),
            Err(Rejection::Malformed("x-vercel-signature"))
        );
    }

    /// The same document twice is the same scheme, made static once.
    #[test]
    fn a_spec_read_twice_is_one_scheme() {
        assert!(std::ptr::eq(parse(SENTRY).unwrap(), parse(SENTRY).unwrap()));
    }

    #[test]
    fn every_example_in_the_documentation_is_a_valid_spec() {
        let doc = include_str!("../../../docs/custom-schemes.md");
        let mut examples = 0;
        for block in doc.split("```json\n").skip(1) {
            let json = block.split("```").next().unwrap();
            check(json).unwrap_or_else(|err| panic!("{err}:\n{json}"));
            examples += 1;
        }
        assert!(examples >= 3, "{examples} examples");
    }

    #[test]
    fn bad_specs_are_refused_with_the_field_at_fault() {
        let cases: &[(&str, &str)] = &[
            ("", "SIGNATURE_SPEC"),
            ("[1]", "SIGNATURE_SPEC"),
            (
                r#"{"encoding":"hex","header":"x-s","signed":["body"]}"#,
                "algorithm",
            ),
            (
                r#"{"algorithm":"md5","encoding":"hex","header":"x-s","signed":["body"]}"#,
                "algorithm",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"base32","header":"x-s","signed":["body"]}"#,
                "encoding",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","signed":["body"]}"#,
                "header",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x s","signed":["body"]}"#,
                "header",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s"}"#,
                "signed",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":[]}"#,
                "signed",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["timestamp"]}"#,
                "signed",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body","headers"]}"#,
                "signed[1]",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body",{"header":"a b"}]}"#,
                "signed[1].header",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body",{"header":"x","literal":"y"}]}"#,
                "signed[1]",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body","timestamp"]}"#,
                "signed",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"timestamp":{"header":"x-t"}}"#,
                "timestamp",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["timestamp","body"],"timestamp":{"from_signature":true}}"#,
                "timestamp.from_signature",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["timestamp","body"],"timestamp":{"header":"x-t","body_field":"ts"}}"#,
                "timestamp",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"timestamp":{"body_field":"ts","unit":"rfc3339"}}"#,
                "timestamp.unit",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"timestamp":{"body_field":"ts","unit":"hours"}}"#,
                "timestamp.unit",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"format":{"style":"keyed","separator":","}}"#,
                "format.signature_key",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"format":{"style":"keyed","separator":"ab","timestamp_key":"t","signature_key":"v1"}}"#,
                "format.separator",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"format":{"prefix":"v1=","signature_key":"v1"}}"#,
                "format.signature_key",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"format":{"style":"zigzag"}}"#,
                "format.style",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"event_id":[{"pointer":"id"}]}"#,
                "event_id[0].pointer",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"event_type":{"pointer":"/type"}}"#,
                "event_type",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"json_body":"yes"}"#,
                "json_body",
            ),
            (
                r#"{"algorithm":"sha256","encoding":"hex","header":"x-s","signed":["body"],"secret":"hunter2"}"#,
                "secret",
            ),
            (
                r#"{"algorithm":5,"encoding":"hex","header":"x-s","signed":["body"]}"#,
                "algorithm",
            ),
        ];
        for (spec, field) in cases {
            let err = check(spec).expect_err(spec);
            assert_eq!(err.field, *field, "{spec}: {err}");
            assert!(
                err.to_string().starts_with(&format!("field `{field}`: ")),
                "{err}"
            );
            // A stray secret in the document is never repeated back.
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let long = format!("{{\"header\":\"{}\"}}", "a".repeat(MAX_SPEC_BYTES));
        assert_eq!(check(&long).unwrap_err().field, "SIGNATURE_SPEC");
    }
}
