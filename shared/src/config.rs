//! Typed configuration read from the environment once at cold start.
//!
//! Every value is validated here, so a bad deployment stops at init with a message naming the
//! variable instead of failing on the first webhook. An empty value counts as unset: lambroll
//! templates optional variables as `{{ env `NAME` `` }}`.

use std::time::Duration;

use http::HeaderName;

pub use crate::event::EventIdRule;
use crate::large_body::{
    LargeBodySettings, MAX_CLAIM_CHECK_BODY_BYTES, MAX_INLINE_BODY_BYTES, MAX_PREFIX_BYTES,
};
pub use crate::primitives::{EnvSource, ProcessEnv};
use crate::routes::Routes;
use crate::signature::{
    parse_spec, GenericHmac, SignatureEncoding, SignatureScheme, TokenHeader, CUSTOM_SCHEME,
    SCHEME_NAMES,
};

/// The largest `MAX_BODY_BYTES` without `LARGE_BODY_BUCKET`: a body every accepted event can be
/// recorded with in its outbox row (see [`MAX_INLINE_BODY_BYTES`]). Above it an accepted event
/// could only travel without a durable record, so a larger value stops the cold start instead.
pub const MAX_BODY_BYTES_LIMIT: usize = MAX_INLINE_BODY_BYTES;
pub const DEFAULT_METRICS_NAMESPACE: &str = "WebhookIngress";

/// A configuration value that stops the cold start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Typed accessors over an [`EnvSource`].
pub struct Env<'e>(&'e dyn EnvSource);

impl<'e> Env<'e> {
    pub fn new(source: &'e dyn EnvSource) -> Self {
        Self(source)
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.0
            .var(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// An integer in `range`, or `default` when unset.
    pub fn integer<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        let value: T = text
            .parse()
            .map_err(|_| invalid(name, format!("`{text}` is not a whole number")))?;
        if !range.contains(&value) {
            return Err(invalid(
                name,
                format!("{value} is outside {}..={}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    fn header_name(&self, name: &'static str) -> Result<Option<HeaderName>, ConfigError> {
        self.optional(name)
            .map(|text| {
                HeaderName::try_from(text.to_ascii_lowercase())
                    .map_err(|_| invalid(name, format!("`{text}` is not an HTTP header name")))
            })
            .transpose()
    }

    fn json_pointer(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.optional(name) {
            Some(pointer) if !pointer.starts_with('/') => Err(invalid(
                name,
                format!("`{pointer}` is not a JSON pointer (RFC 6901): it must start with `/`, as in `/data/id`"),
            )),
            other => Ok(other),
        }
    }
}

/// A source name: the first part of every outbox key and the `Source` metric dimension.
fn source_name(env: &Env) -> Result<String, ConfigError> {
    const NAME: &str = "SOURCE_NAME";
    let value = env.required(NAME)?;
    let valid = value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(invalid(
            NAME,
            "use at most 64 letters, digits, `-`, `_` or `.`",
        ));
    }
    Ok(value)
}

fn queue_url(env: &Env) -> Result<String, ConfigError> {
    const NAME: &str = "QUEUE_URL";
    let value = env.required(NAME)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(invalid(
            NAME,
            "expected the queue URL (https://sqs...), not its name or ARN",
        ));
    }
    Ok(value)
}

fn metrics_namespace(env: &Env) -> Result<String, ConfigError> {
    const NAME: &str = "METRICS_NAMESPACE";
    let value = env
        .optional(NAME)
        .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned());
    if value.len() > 255 || value.starts_with(':') {
        return Err(invalid(
            NAME,
            "a CloudWatch namespace has at most 255 characters and does not start with `:`",
        ));
    }
    Ok(value)
}

/// Settings both Lambdas need to find the outbox and the queue.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub source: String,
    pub table: String,
    pub queue_url: String,
    pub pending_shards: u16,
    pub retention: Duration,
    pub metrics_namespace: String,
    /// Queues other than `queue_url` that events are routed to (`ROUTES`).
    pub routes: Routes,
    /// The S3 claim check for large bodies (`LARGE_BODY_BUCKET`); `None`: bodies stay inline.
    pub large_bodies: Option<LargeBodySettings>,
}

impl OutboxSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let retention_days: u64 = env.integer("RETENTION_DAYS", 14, 1..=3650)?;
        let queue_url = queue_url(env)?;
        let routes = Routes::parse(&env.optional("ROUTES").unwrap_or_default(), &queue_url)
            .map_err(|err| invalid("ROUTES", err.to_string()))?;
        Ok(Self {
            source: source_name(env)?,
            table: env.required("OUTBOX_TABLE")?,
            queue_url,
            routes,
            pending_shards: env.integer("PENDING_SHARDS", 8, 1..=256)?,
            retention: Duration::from_secs(retention_days * 24 * 3600),
            metrics_namespace: metrics_namespace(env)?,
            large_bodies: large_bodies(env)?,
        })
    }
}

/// `LARGE_BODY_BUCKET` with its optional key prefix and KMS key; the prefix and key alone are a
/// mistake (they would silently do nothing).
fn large_bodies(env: &Env) -> Result<Option<LargeBodySettings>, ConfigError> {
    let prefix = env.optional("LARGE_BODY_PREFIX");
    let kms_key_id = env.optional("LARGE_BODY_KMS_KEY");
    let Some(bucket) = env.optional("LARGE_BODY_BUCKET") else {
        if prefix.is_some() {
            return Err(invalid(
                "LARGE_BODY_PREFIX",
                "set LARGE_BODY_BUCKET too, or unset it",
            ));
        }
        if kms_key_id.is_some() {
            return Err(invalid(
                "LARGE_BODY_KMS_KEY",
                "set LARGE_BODY_BUCKET too, or unset it",
            ));
        }
        return Ok(None);
    };
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
    if !valid_bucket {
        return Err(invalid(
            "LARGE_BODY_BUCKET",
            format!("`{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` or `.`)"),
        ));
    }
    let prefix = prefix.unwrap_or_default();
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(invalid(
            "LARGE_BODY_PREFIX",
            format!("at most {MAX_PREFIX_BYTES} bytes"),
        ));
    }
    Ok(Some(LargeBodySettings {
        bucket,
        prefix,
        kms_key_id,
    }))
}

/// `MAX_BODY_BYTES`: up to what one outbox row holds, or with a bucket up to what a Function URL
/// accepts.
fn max_body_bytes(env: &Env, large_bodies: bool) -> Result<usize, ConfigError> {
    const NAME: &str = "MAX_BODY_BYTES";
    let value = env.integer(NAME, 262_144, 1..=MAX_CLAIM_CHECK_BODY_BYTES)?;
    if !large_bodies && value > MAX_BODY_BYTES_LIMIT {
        return Err(invalid(
            NAME,
            format!(
                "{value} is above {MAX_BODY_BYTES_LIMIT}, the largest body an outbox row holds; \
                 set LARGE_BODY_BUCKET to store larger bodies in S3 (up to {MAX_CLAIM_CHECK_BODY_BYTES})"
            ),
        ));
    }
    Ok(value)
}

/// The ingress Lambda's configuration.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    pub outbox: OutboxSettings,
    pub secret_parameter: String,
    pub scheme: SignatureScheme,
    pub event_id: EventIdRule,
    pub max_body_bytes: usize,
    pub timestamp_tolerance_secs: u64,
    pub response_budget: Duration,
    /// `SECRET_REFRESH_SECS`: cached secrets older than this are re-read.
    pub secret_refresh: Duration,
    /// `PUBLIC_URL`: the exact URL configured at the provider (scheme, host, path and any query).
    /// Required by the schemes that sign the URL (`twilio`, `square`, `hubspot`), which verify a
    /// request against this URL only, never against the `Host` header or the request's own path
    /// and query (which the sender chooses). `None` for the other schemes when unset.
    pub public_url: Option<String>,
}

impl IngressConfig {
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let env = Env::new(source);
        let scheme = signature_scheme(&env)?;
        let response_budget_ms: u64 = env.integer("RESPONSE_BUDGET_MS", 3000, 300..=60_000)?;
        let outbox = OutboxSettings::from_env(&env)?;
        Ok(Self {
            max_body_bytes: max_body_bytes(&env, outbox.large_bodies.is_some())?,
            outbox,
            secret_parameter: env.required("SECRET_PARAMETER")?,
            event_id: EventIdRule {
                header: env.header_name("EVENT_ID_HEADER")?,
                pointer: env.json_pointer("EVENT_ID_POINTER")?,
                type_pointer: env.json_pointer("EVENT_TYPE_POINTER")?,
            },
            timestamp_tolerance_secs: env.integer(
                "TIMESTAMP_TOLERANCE_SECS",
                default_tolerance_secs(&scheme),
                1..=86_400,
            )?,
            response_budget: Duration::from_millis(response_budget_ms),
            secret_refresh: Duration::from_secs(env.integer(
                "SECRET_REFRESH_SECS",
                300,
                1..=86_400,
            )?),
            public_url: public_url(&env, &scheme)?,
            scheme,
        })
    }
}

/// The default `TIMESTAMP_TOLERANCE_SECS`: 300 s, except Mailgun's shorter window (its signature
/// does not cover the event, so a signed token is only good for as long as the window; each
/// token is also spent once, and its record lives as long as the window).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The default window for `mailgun`.
pub const MAILGUN_DEFAULT_TOLERANCE_SECS: u64 = 120;

fn default_tolerance_secs(scheme: &SignatureScheme) -> u64 {
    if *scheme == SignatureScheme::Mailgun {
        MAILGUN_DEFAULT_TOLERANCE_SECS
    } else {
        DEFAULT_TOLERANCE_SECS
    }
}

/// `PUBLIC_URL`, the exact URL the provider was given: required by the schemes that sign the URL
/// (the alternative, the request's `Host` header and target, is chosen by whoever sends it).
fn public_url(env: &Env, scheme: &SignatureScheme) -> Result<Option<String>, ConfigError> {
    const NAME: &str = "PUBLIC_URL";
    let Some(url) = env.optional(NAME) else {
        if scheme.signs_url() {
            return Err(invalid(
                NAME,
                format!(
                    "SIGNATURE_SCHEME={} signs the URL: set PUBLIC_URL to the exact URL configured at the provider, such as https://hooks.example.com/{}",
                    scheme.name(),
                    scheme.name()
                ),
            ));
        }
        return Ok(None);
    };
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let has_host = |rest: &str| rest.find(['/', '?']).unwrap_or(rest.len()) > 0;
    let unusable = |rest: &str| {
        rest.contains('#')
            || rest.contains(char::is_whitespace)
            || (scheme == &SignatureScheme::Twilio && has_body_hash_param(rest))
    };
    match after_scheme {
        Some(rest) if has_host(rest) && !unusable(rest) => Ok(Some(url)),
        _ => Err(invalid(
            NAME,
            format!("`{url}` is not the http(s) URL configured at the provider (with its path, and its query if it has one, without a fragment or a `bodySHA256` parameter), such as https://hooks.example.com/twilio"),
        )),
    }
}

/// Whether a URL's query already names Twilio's `bodySHA256`, which the ingress adds itself.
fn has_body_hash_param(url_without_scheme: &str) -> bool {
    url_without_scheme
        .split_once('?')
        .is_some_and(|(_, query)| {
            form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "bodySHA256")
        })
}

/// The sweeper Lambda's configuration.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub outbox: OutboxSettings,
    /// Rows younger than this are left to the ingress that is still handling them.
    pub grace: Duration,
    /// Failed re-sends before a row is parked.
    pub max_attempts: u32,
    /// Shards swept at once (each with at most one page of batches in flight).
    pub concurrency: u16,
}

impl SweeperConfig {
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let env = Env::new(source);
        let grace_secs: u64 = env.integer("GRACE_SECS", 120, 0..=86_400)?;
        Ok(Self {
            outbox: OutboxSettings::from_env(&env)?,
            grace: Duration::from_secs(grace_secs),
            max_attempts: env.integer("MAX_ATTEMPTS", 10, 1..=1000)?,
            concurrency: env.integer("SWEEP_CONCURRENCY", 4, 1..=64)?,
        })
    }
}

fn signature_scheme(env: &Env) -> Result<SignatureScheme, ConfigError> {
    const SCHEME: &str = "SIGNATURE_SCHEME";
    const SPEC: &str = "SIGNATURE_SPEC";
    const GENERIC_ONLY: [&str; 3] = ["SIGNATURE_HEADER", "SIGNATURE_ENCODING", "SIGNATURE_PREFIX"];
    let name = env
        .optional(SCHEME)
        .unwrap_or_else(|| "standard-webhooks".to_owned());
    let header = env.header_name("SIGNATURE_HEADER")?;
    let encoding = env.optional("SIGNATURE_ENCODING");
    let prefix = env.optional("SIGNATURE_PREFIX");
    let spec = env.optional(SPEC);
    if spec.is_some() && name != CUSTOM_SCHEME {
        return Err(invalid(
            SPEC,
            format!("only used with SIGNATURE_SCHEME={CUSTOM_SCHEME}; unset it"),
        ));
    }
    let provider = match name.as_str() {
        CUSTOM_SCHEME => {
            let spec = spec.ok_or(ConfigError::Missing(SPEC))?;
            // The error names the field and what is wrong with it; the spec holds no secret.
            SignatureScheme::Hmac(parse_spec(&spec).map_err(|err| invalid(SPEC, err.to_string()))?)
        }
        "token" => {
            if let Some(encoding) = encoding {
                return Err(invalid(
                    "SIGNATURE_ENCODING",
                    format!("`{encoding}` is not used with SIGNATURE_SCHEME=token; unset it"),
                ));
            }
            return Ok(SignatureScheme::Token(TokenHeader {
                header: header.ok_or(ConfigError::Missing("SIGNATURE_HEADER"))?,
                prefix: env
                    .0
                    .var("SIGNATURE_PREFIX")
                    .map(|prefix| prefix.trim_start().to_owned())
                    .unwrap_or_default(),
            }));
        }
        "hmac-sha256" => {
            let header = header.ok_or(ConfigError::Missing("SIGNATURE_HEADER"))?;
            let encoding = match encoding.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("hex") => SignatureEncoding::Hex,
                Some("base64") => SignatureEncoding::Base64,
                Some(other) => {
                    return Err(invalid(
                        "SIGNATURE_ENCODING",
                        format!("`{other}` is not one of: hex, base64"),
                    ))
                }
            };
            return Ok(SignatureScheme::HmacSha256(GenericHmac {
                header,
                encoding,
                prefix: prefix.unwrap_or_default(),
            }));
        }
        other => match SignatureScheme::named(other) {
            Some(scheme) => scheme,
            None => {
                return Err(invalid(
                    SCHEME,
                    format!("`{other}` is not one of: {}", SCHEME_NAMES.join(", ")),
                ))
            }
        },
    };
    // A provider's scheme fixes its own header and encoding: a stray generic setting is a mistake.
    let stray = [header.is_some(), encoding.is_some(), prefix.is_some()];
    if let Some(position) = stray.iter().position(|set| *set) {
        return Err(invalid(
            GENERIC_ONLY[position],
            "only used with SIGNATURE_SCHEME=hmac-sha256; unset it",
        ));
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn minimal() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("SOURCE_NAME", "marketplace"),
            ("OUTBOX_TABLE", "webhook-outbox"),
            (
                "QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123/webhook-events",
            ),
            ("SECRET_PARAMETER", "/webhook-ingress/secret"),
        ])
    }

    fn error_text(env: &HashMap<&str, &str>) -> String {
        IngressConfig::from_env(env).unwrap_err().to_string()
    }

    #[test]
    fn defaults_apply_when_only_required_values_are_set() {
        let config = IngressConfig::from_env(&minimal()).unwrap();
        assert_eq!(config.scheme, SignatureScheme::StandardWebhooks);
        assert_eq!(config.max_body_bytes, 262_144);
        assert_eq!(config.timestamp_tolerance_secs, 300);
        assert_eq!(config.response_budget, Duration::from_millis(3000));
        assert_eq!(config.secret_refresh, Duration::from_secs(300));
        assert_eq!(config.outbox.pending_shards, 8);
        assert_eq!(config.outbox.retention, Duration::from_secs(14 * 86_400));
        assert_eq!(config.outbox.metrics_namespace, "WebhookIngress");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let mut env = minimal();
        env.remove("OUTBOX_TABLE");
        assert_eq!(error_text(&env), "OUTBOX_TABLE is required but not set");
        env.insert("OUTBOX_TABLE", "   ");
        assert_eq!(error_text(&env), "OUTBOX_TABLE is required but not set");
    }

    #[test]
    fn invalid_values_are_named_with_the_reason() {
        let cases = [
            ("MAX_BODY_BYTES", "lots", "MAX_BODY_BYTES is invalid: `lots` is not a whole number"),
            ("MAX_BODY_BYTES", "9999999", "MAX_BODY_BYTES is invalid: 9999999 is outside 1..=6291456"),
            ("MAX_BODY_BYTES", "393217", "MAX_BODY_BYTES is invalid: 393217 is above 393216, the largest body an outbox row holds; set LARGE_BODY_BUCKET to store larger bodies in S3 (up to 6291456)"),
            ("LARGE_BODY_PREFIX", "large/", "LARGE_BODY_PREFIX is invalid: set LARGE_BODY_BUCKET too, or unset it"),
            ("LARGE_BODY_KMS_KEY", "alias/k", "LARGE_BODY_KMS_KEY is invalid: set LARGE_BODY_BUCKET too, or unset it"),
            ("LARGE_BODY_BUCKET", "Bodies_Bucket", "LARGE_BODY_BUCKET is invalid: `Bodies_Bucket` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` or `.`)"),
            ("PENDING_SHARDS", "0", "PENDING_SHARDS is invalid: 0 is outside 1..=256"),
            ("SECRET_REFRESH_SECS", "0", "SECRET_REFRESH_SECS is invalid: 0 is outside 1..=86400"),
            ("SOURCE_NAME", "a:b", "SOURCE_NAME is invalid: use at most 64 letters, digits, `-`, `_` or `.`"),
            ("QUEUE_URL", "webhook-events", "QUEUE_URL is invalid: expected the queue URL (https://sqs...), not its name or ARN"),
            ("EVENT_ID_POINTER", "data.id", "EVENT_ID_POINTER is invalid: `data.id` is not a JSON pointer (RFC 6901): it must start with `/`, as in `/data/id`"),
            ("SIGNATURE_PREFIX", "sha256=", "SIGNATURE_PREFIX is invalid: only used with SIGNATURE_SCHEME=hmac-sha256; unset it"),
        ];
        for (name, value, expected) in cases {
            let mut env = minimal();
            env.insert(name, value);
            assert_eq!(error_text(&env), expected, "{name}={value}");
        }
    }

    /// The error lists the registry's names, so a new scheme needs no edit here.
    #[test]
    fn an_unknown_scheme_is_refused_with_every_name_of_the_registry() {
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "md5");
        let text = error_text(&env);
        assert_eq!(
            text,
            format!(
                "SIGNATURE_SCHEME is invalid: `md5` is not one of: {}",
                SCHEME_NAMES.join(", ")
            )
        );
        assert!(text.starts_with(
            "SIGNATURE_SCHEME is invalid: `md5` is not one of: standard-webhooks, hmac-sha256, stripe,"
        ));
        assert!(text.ends_with(", token, basic, custom"), "{text}");
    }

    #[test]
    fn custom_takes_its_spec_and_only_custom_does() {
        let spec = r#"{"algorithm":"sha1","encoding":"hex","header":"X-Vercel-Signature","signed":["body"]}"#;
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "custom");
        assert_eq!(error_text(&env), "SIGNATURE_SPEC is required but not set");
        env.insert("SIGNATURE_SPEC", spec);
        let config = IngressConfig::from_env(&env).unwrap();
        assert_eq!(config.scheme.name(), "custom");
        assert!(
            matches!(config.scheme, SignatureScheme::Hmac(declared) if declared.header.name == "x-vercel-signature")
        );
        assert_eq!(config.timestamp_tolerance_secs, DEFAULT_TOLERANCE_SECS);

        env.insert("SIGNATURE_SPEC", r#"{"algorithm":"sha1","encoding":"hex","header":"X-Vercel-Signature","signed":["body"],"secret":"do-not-echo"}"#);
        let text = error_text(&env);
        assert!(
            text.starts_with("SIGNATURE_SPEC is invalid: field `secret`: is not a field here"),
            "{text}"
        );
        assert!(!text.contains("do-not-echo"), "{text}");

        env.insert("SIGNATURE_SPEC", spec);
        env.insert("SIGNATURE_PREFIX", "sha1=");
        assert_eq!(
            error_text(&env),
            "SIGNATURE_PREFIX is invalid: only used with SIGNATURE_SCHEME=hmac-sha256; unset it"
        );

        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "github");
        env.insert("SIGNATURE_SPEC", spec);
        assert_eq!(
            error_text(&env),
            "SIGNATURE_SPEC is invalid: only used with SIGNATURE_SCHEME=custom; unset it"
        );

        // A spec signing the URL needs PUBLIC_URL, as the catalog's URL-signing schemes do.
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "custom");
        env.insert(
            "SIGNATURE_SPEC",
            r#"{"algorithm":"sha256","encoding":"base64","header":"x-s","signed":["url","body"]}"#,
        );
        assert!(error_text(&env)
            .starts_with("PUBLIC_URL is invalid: SIGNATURE_SCHEME=custom signs the URL"));
    }

    #[test]
    fn a_bucket_lifts_max_body_bytes_to_the_function_url_limit() {
        let mut env = minimal();
        env.insert("LARGE_BODY_BUCKET", "webhook-bodies");
        env.insert("MAX_BODY_BYTES", "6291456");
        let config = IngressConfig::from_env(&env).unwrap();
        assert_eq!(config.max_body_bytes, 6_291_456);
        assert_eq!(
            config.outbox.large_bodies,
            Some(LargeBodySettings {
                bucket: "webhook-bodies".into(),
                prefix: String::new(),
                kms_key_id: None,
            })
        );
        env.insert("MAX_BODY_BYTES", "6291457");
        assert_eq!(
            error_text(&env),
            "MAX_BODY_BYTES is invalid: 6291457 is outside 1..=6291456"
        );
        assert_eq!(
            IngressConfig::from_env(&minimal())
                .unwrap()
                .outbox
                .large_bodies,
            None
        );
    }

    #[test]
    fn sweeper_defaults_and_limits() {
        let mut env = minimal();
        let config = SweeperConfig::from_env(&env).unwrap();
        assert_eq!(config.grace, Duration::from_secs(120));
        assert_eq!(config.max_attempts, 10);
        assert_eq!(config.concurrency, 4);
        env.insert("MAX_ATTEMPTS", "0");
        assert_eq!(
            SweeperConfig::from_env(&env).unwrap_err().to_string(),
            "MAX_ATTEMPTS is invalid: 0 is outside 1..=1000"
        );
        env.insert("MAX_ATTEMPTS", "3");
        env.insert("SWEEP_CONCURRENCY", "65");
        assert_eq!(
            SweeperConfig::from_env(&env).unwrap_err().to_string(),
            "SWEEP_CONCURRENCY is invalid: 65 is outside 1..=64"
        );
    }

    #[test]
    fn provider_schemes_are_named_and_refuse_generic_settings() {
        let providers = [
            ("stripe", SignatureScheme::Stripe),
            ("github", SignatureScheme::GitHub),
            ("shopify", SignatureScheme::Shopify),
            ("slack", SignatureScheme::Slack),
        ];
        for (name, scheme) in providers {
            let mut env = minimal();
            env.insert("SIGNATURE_SCHEME", name);
            assert_eq!(IngressConfig::from_env(&env).unwrap().scheme, scheme);
            env.insert("SIGNATURE_HEADER", "X-Hub-Signature-256");
            assert_eq!(
                error_text(&env),
                "SIGNATURE_HEADER is invalid: only used with SIGNATURE_SCHEME=hmac-sha256; unset it"
            );
        }
    }

    #[test]
    fn url_signing_schemes_refuse_to_start_without_public_url_and_take_it_exactly() {
        for name in ["twilio", "square", "hubspot"] {
            let mut env = minimal();
            env.insert("SIGNATURE_SCHEME", name);
            assert_eq!(
                error_text(&env),
                format!("PUBLIC_URL is invalid: SIGNATURE_SCHEME={name} signs the URL: set PUBLIC_URL to the exact URL configured at the provider, such as https://hooks.example.com/{name}"),
            );
            env.insert("PUBLIC_URL", "https://hooks.example.com/in/hook/?a=1&b=2");
            assert_eq!(
                IngressConfig::from_env(&env).unwrap().public_url.as_deref(),
                Some("https://hooks.example.com/in/hook/?a=1&b=2")
            );
            for bad in [
                "hooks.example.com/in",
                "https:///in",
                "https://hooks.example.com/in#frag",
                "ftp://hooks.example.com",
            ] {
                env.insert("PUBLIC_URL", bad);
                assert!(
                    error_text(&env).starts_with(&format!("PUBLIC_URL is invalid: `{bad}`")),
                    "{name} {bad}"
                );
            }
        }
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "twilio");
        env.insert("PUBLIC_URL", "https://hooks.example.com/t?bodySHA256=00");
        assert!(error_text(&env).starts_with("PUBLIC_URL is invalid"));
        // Schemes that do not sign the URL need none.
        for name in ["stripe", "github", "mailgun", "twitch"] {
            let mut env = minimal();
            env.insert("SIGNATURE_SCHEME", name);
            assert_eq!(IngressConfig::from_env(&env).unwrap().public_url, None);
        }
    }

    #[test]
    fn mailgun_has_a_shorter_default_window() {
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "mailgun");
        let config = IngressConfig::from_env(&env).unwrap();
        assert_eq!(config.timestamp_tolerance_secs, 120);
        env.insert("SIGNATURE_SCHEME", "stripe");
        let stripe = IngressConfig::from_env(&env).unwrap();
        assert_eq!(stripe.timestamp_tolerance_secs, 300);
        env.insert("SIGNATURE_SCHEME", "mailgun");
        env.insert("TIMESTAMP_TOLERANCE_SECS", "300");
        assert_eq!(
            IngressConfig::from_env(&env)
                .unwrap()
                .timestamp_tolerance_secs,
            300
        );
    }

    #[test]
    fn generic_scheme_needs_its_header_and_parses_encoding_and_prefix() {
        let mut env = minimal();
        env.insert("SIGNATURE_SCHEME", "hmac-sha256");
        assert_eq!(error_text(&env), "SIGNATURE_HEADER is required but not set");
        env.insert("SIGNATURE_HEADER", "X-Hub-Signature-256");
        env.insert("SIGNATURE_ENCODING", "BASE64");
        env.insert("SIGNATURE_PREFIX", "sha256=");
        let config = IngressConfig::from_env(&env).unwrap();
        assert_eq!(
            config.scheme,
            SignatureScheme::HmacSha256(GenericHmac {
                header: HeaderName::from_static("x-hub-signature-256"),
                encoding: SignatureEncoding::Base64,
                prefix: "sha256=".to_owned(),
            })
        );
        env.insert("SIGNATURE_ENCODING", "binary");
        assert_eq!(
            error_text(&env),
            "SIGNATURE_ENCODING is invalid: `binary` is not one of: hex, base64"
        );
    }
}
