//! The schemes with code of their own, each a [`Scheme`]: what they sign is not header-addressed
//! parts of the request (Mailgun signs inside the body, Twilio the URL and the sorted form), their
//! key is not an HMAC secret (Discord, SendGrid and Standard Webhooks `v1a` check public keys,
//! GitLab, `token` and `basic` compare the secret itself), or they read one of two header sets
//! (Standard Webhooks' `webhook-*` and `svix-*`). Each is one value here and one entry in the
//! registry (`registry.rs`); its code stays in its own file.

use http::{HeaderMap, HeaderName};

use super::{
    asymmetric, mailgun, shared_secret, standard_webhooks, twilio, Field, GenericHmac, Handshake,
    Key, KeyError, Rejection, Scheme, SignedRequest, SigningKey, SigningKeys, TokenHeader, Window,
    STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX,
};

/// <https://www.standardwebhooks.com/> (and its Svix-branded headers).
#[derive(Debug)]
pub(super) struct StandardWebhooks;

impl Scheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        standard_webhooks::verify(request.headers, request.body, keys, window)
    }

    fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        standard_webhooks::sign(key, event_id, timestamp_secs, request.body)
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        standard_webhooks::SIGNED_HEADERS
    }

    fn event_id_fields(&self) -> &'static [Field] {
        standard_webhooks::EVENT_ID
    }

    fn event_type_fields(&self) -> &'static [Field] {
        standard_webhooks::EVENT_TYPE
    }

    /// `whsec_` and the base64 of at least 24 bytes, or `whpk_` and an Ed25519 public key.
    fn parse_key(&self, secret: &str, position: usize) -> Result<Key, KeyError> {
        match secret.strip_prefix(STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX) {
            Some(encoded) => asymmetric::ed25519_from_base64(encoded)
                .map(Key::Public)
                .ok_or(KeyError::NotPublicKey {
                    position,
                    expected: "an Ed25519 public key in base64 after `whpk_`",
                }),
            None => standard_webhooks::key_bytes(secret, position)
                .map(|bytes| Key::Secret(SigningKey(bytes))),
        }
    }
}

/// GitLab: the secret token itself in `X-Gitlab-Token`.
#[derive(Debug)]
pub(super) struct GitLab;

impl Scheme for GitLab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        _window: Window,
    ) -> Result<usize, Rejection> {
        shared_secret::verify_gitlab(request.headers, keys)
    }

    fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        shared_secret::sign_gitlab(key, event_id)
    }

    fn event_id_fields(&self) -> &'static [Field] {
        shared_secret::GITLAB_EVENT_ID
    }

    fn event_type_fields(&self) -> &'static [Field] {
        shared_secret::GITLAB_EVENT_TYPE
    }
}

/// HTTP Basic: `Authorization: Basic` with `user:password`.
#[derive(Debug)]
pub(super) struct Basic;

impl Scheme for Basic {
    fn name(&self) -> &'static str {
        "basic"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        _window: Window,
    ) -> Result<usize, Rejection> {
        shared_secret::verify_basic(request.headers, keys)
    }

    fn sign(
        &self,
        key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        shared_secret::sign_basic(key)
    }
}

/// Mailgun: the signature inside the JSON body.
#[derive(Debug)]
pub(super) struct Mailgun;

impl Scheme for Mailgun {
    fn name(&self) -> &'static str {
        "mailgun"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        mailgun::verify(request.body, keys, window)
    }

    /// The signature goes inside the body: see `mailgun_signed_body`.
    fn sign(
        &self,
        _key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        mailgun::sign()
    }

    fn event_id_fields(&self) -> &'static [Field] {
        mailgun::EVENT_ID
    }

    fn event_type_fields(&self) -> &'static [Field] {
        mailgun::EVENT_TYPE
    }
}

/// Twilio: HMAC-SHA1 over the URL and the sorted form parameters (or the URL's body hash).
#[derive(Debug)]
pub(super) struct Twilio;

impl Scheme for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        _window: Window,
    ) -> Result<usize, Rejection> {
        twilio::verify(request, keys)
    }

    fn sign(
        &self,
        key: &SigningKey,
        event_id: &str,
        _timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        twilio::sign(key, event_id, request)
    }

    fn event_id_fields(&self) -> &'static [Field] {
        twilio::EVENT_ID
    }

    fn signs_url(&self) -> bool {
        true
    }
}

/// SendGrid's Event Webhook: ECDSA P-256 over the timestamp header and the body.
#[derive(Debug)]
pub(super) struct SendGrid;

impl Scheme for SendGrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        asymmetric::verify_sendgrid(request.headers, request.body, keys, window)
    }

    /// Signed with the provider's private key, which the secret parameter never holds: see
    /// `sign_sendgrid`.
    fn sign(
        &self,
        _key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        Vec::new()
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        asymmetric::SENDGRID_SIGNED_HEADERS
    }

    fn event_id_fields(&self) -> &'static [Field] {
        asymmetric::SENDGRID_EVENT_ID
    }

    fn event_type_fields(&self) -> &'static [Field] {
        asymmetric::SENDGRID_EVENT_TYPE
    }

    fn parse_key(&self, secret: &str, position: usize) -> Result<Key, KeyError> {
        asymmetric::p256_from_base64_der(secret)
            .map(Key::Public)
            .ok_or(KeyError::NotPublicKey {
                position,
                expected: "a base64 DER P-256 public key",
            })
    }
}

/// Discord interactions: Ed25519 over the timestamp header and the body; a `PING` is answered
/// with a `PONG`.
#[derive(Debug)]
pub(super) struct Discord;

impl Scheme for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        window: Window,
    ) -> Result<usize, Rejection> {
        asymmetric::verify_discord(request.headers, request.body, keys, window)
    }

    /// Signed with the provider's private key: see `sign_discord`.
    fn sign(
        &self,
        _key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        Vec::new()
    }

    fn handshake(&self, _headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        asymmetric::discord_ping(body).then(|| Handshake {
            body: r#"{"type":1}"#.to_owned(),
            content_type: "application/json",
        })
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        asymmetric::DISCORD_SIGNED_HEADERS
    }

    fn event_id_fields(&self) -> &'static [Field] {
        asymmetric::DISCORD_EVENT_ID
    }

    fn event_type_fields(&self) -> &'static [Field] {
        asymmetric::DISCORD_EVENT_TYPE
    }

    fn parse_key(&self, secret: &str, position: usize) -> Result<Key, KeyError> {
        asymmetric::ed25519_from_hex(secret)
            .map(Key::Public)
            .ok_or(KeyError::NotPublicKey {
                position,
                expected: "an Ed25519 public key in hex (64 digits)",
            })
    }
}

/// `hmac-sha256`: HMAC-SHA256 of the raw body in a configured header.
impl Scheme for GenericHmac {
    fn name(&self) -> &'static str {
        "hmac-sha256"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        _window: Window,
    ) -> Result<usize, Rejection> {
        self.verify_generic(request.headers, request.body, keys)
    }

    fn sign(
        &self,
        key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        self.sign_generic(key, request.body)
    }
}

/// `token`: the secret itself in a configured header, after an optional prefix.
impl Scheme for TokenHeader {
    fn name(&self) -> &'static str {
        "token"
    }

    fn verify(
        &self,
        request: &SignedRequest<'_>,
        keys: &SigningKeys,
        _window: Window,
    ) -> Result<usize, Rejection> {
        self.verify_token(request.headers, keys)
    }

    fn sign(
        &self,
        key: &SigningKey,
        _event_id: &str,
        _timestamp_secs: i64,
        _request: &SignedRequest<'_>,
    ) -> Vec<(HeaderName, String)> {
        self.sign_token(key)
    }
}
