//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]`, HMAC-SHA256 of
//! `{t}.{body}` with the endpoint's `whsec_...` secret taken as text. Several `v1` entries appear
//! while Stripe rolls an endpoint's secret; any one may match. The event id and type are in the body.

use http::{HeaderMap, HeaderName};

use super::{
    decode_hex_tag, matched, parse_timestamp, signature_header, Field, KnownHeader,
    ParsedTimestamp, Rejection, SigningKey, SigningKeys, Tag, Window,
};

const SIGNATURE: &str = "stripe-signature";
static SIGNATURE_HEADER: KnownHeader = KnownHeader::new(SIGNATURE);

pub(super) const EVENT_ID: &[Field] = &[Field::Pointer("/id")];
pub(super) const EVENT_TYPE: &[Field] = &[Field::Pointer("/type")];

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHeader<'h> {
    pub timestamp: ParsedTimestamp<'h>,
    /// Every well-formed `v1` signature; other schemes (`v0`) and undecodable entries are ignored.
    pub signatures: Vec<Tag>,
}

/// Parses `t=...,v1=...`: exactly one valid `t`, at least one valid `v1`.
pub fn parse_header(value: &str) -> Result<StripeHeader<'_>, Rejection> {
    let malformed = Rejection::Malformed(SIGNATURE);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let Some((key, text)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" if timestamp.is_none() => timestamp = Some(parse_timestamp(text).ok_or(malformed)?),
            // Two timestamps: which one was signed is ambiguous.
            "t" => return Err(malformed),
            "v1" => signatures.extend(decode_hex_tag(text)),
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(timestamp), false) => Ok(StripeHeader {
            timestamp,
            signatures,
        }),
        _ => Err(malformed),
    }
}

pub(super) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &SigningKeys,
    window: Window,
) -> Result<usize, Rejection> {
    let parsed = parse_header(signature_header(headers, &SIGNATURE_HEADER)?)?;
    window.check(parsed.timestamp)?;
    matched(
        keys,
        &[parsed.timestamp.text.as_bytes(), b".", body],
        &parsed.signatures,
    )
}

pub(super) fn sign(
    key: &SigningKey,
    timestamp_secs: i64,
    body: &[u8],
) -> Vec<(HeaderName, String)> {
    let timestamp = timestamp_secs.to_string();
    let tag = key.tag(&[timestamp.as_bytes(), b".", body]);
    vec![(
        HeaderName::from_static(SIGNATURE),
        format!("t={timestamp},v1={}", hex::encode(tag)),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    // Stripe documents the scheme but publishes no vector with its secret; this one was made by
    // Stripe's own Node SDK (stripe 23.1.0, `webhooks.generateTestHeaderString`), see
    // scripts/signers/sign.mjs.
    const SECRET: &str = "whsec_test_secret";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] =
        br#"{"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"}"#;
    const SDK_HEADER: &str =
        "t=1614265330,v1=31fe7071853a3ce7cef4cf91041ccfde0db025f63c690910579c71cf94740b3d";

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, value.parse().unwrap());
        headers
    }

    fn check(value: &str, body: &[u8], now: i64) -> Result<Verified, Rejection> {
        let keys = SignatureScheme::Stripe.parse_keys(SECRET).unwrap();
        SignatureScheme::Stripe.verify(&headers(value), body, &keys, now, 300)
    }

    #[test]
    fn the_stripe_sdks_signature_verifies_and_sign_reproduces_it() {
        assert_eq!(
            check(SDK_HEADER, BODY, TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
        let keys = SignatureScheme::Stripe.parse_keys(SECRET).unwrap();
        assert_eq!(
            sign(keys.first().unwrap(), TIMESTAMP, BODY)[0].1,
            SDK_HEADER
        );
        assert_eq!(check(SDK_HEADER, b"{}", TIMESTAMP), Err(Rejection::NoMatch));
    }

    #[test]
    fn any_v1_entry_may_match_and_v0_and_spaces_are_ignored() {
        let header = format!(
            "t=1614265330, v0=6ffbb59b2300aade63f272ed86ee07a9ebe7bd7bd2227bf5290fec7f0cd74e23, v1={}, {}",
            "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
            SDK_HEADER.split_once(',').unwrap().1,
        );
        assert_eq!(
            check(&header, BODY, TIMESTAMP),
            Ok(Verified { key_index: 0 })
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        assert_eq!(
            check(SDK_HEADER, BODY, TIMESTAMP + 301),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            check(SDK_HEADER, BODY, TIMESTAMP - 301),
            Err(Rejection::StaleTimestamp)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v1 = "v1=31fe7071853a3ce7cef4cf91041ccfde0db025f63c690910579c71cf94740b3d";
        for bad in [
            v1.to_owned(),
            "t=1614265330".to_owned(),
            "t=1614265330,v1=nothex".to_owned(),
            format!("t=soon,{v1}"),
            format!("t=1614265330,t=1614265331,{v1}"),
            String::new(),
        ] {
            assert_eq!(
                check(&bad, BODY, TIMESTAMP),
                Err(Rejection::Malformed(SIGNATURE)),
                "{bad}"
            );
        }
    }
}
