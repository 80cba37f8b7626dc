//! The generic `hmac-sha256` scheme: HMAC-SHA256 of the raw body, hex or base64, in a configured
//! header after an optional prefix (for providers without a scheme of their own).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};

use super::{matched, Rejection, SigningKey, SigningKeys, Tag, MAX_SIGNATURE_HEADER_BYTES};

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

const HEADER: &str = "generic signature header";

impl GenericHmac {
    /// The signature bytes of the header's value: prefix (any case), then hex or base64.
    pub fn parse_header(&self, value: &str) -> Result<Vec<u8>, Rejection> {
        let value = value.trim();
        if value.len() > MAX_SIGNATURE_HEADER_BYTES {
            return Err(Rejection::Malformed(HEADER));
        }
        let encoded =
            strip_prefix_ignore_case(value, &self.prefix).ok_or(Rejection::Malformed(HEADER))?;
        match self.encoding {
            SignatureEncoding::Hex => hex::decode(encoded).ok(),
            SignatureEncoding::Base64 => BASE64.decode(encoded).ok(),
        }
        .ok_or(Rejection::Malformed(HEADER))
    }

    pub(super) fn verify_generic(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        keys: &SigningKeys,
    ) -> Result<usize, Rejection> {
        let value = headers
            .get(&self.header)
            .ok_or(Rejection::MissingHeader(HEADER))?
            .to_str()
            .map_err(|_| Rejection::Malformed(HEADER))?;
        // A value of another length than a tag matches no key; it is no malformed header.
        let claimed: Tag = self
            .parse_header(value)?
            .try_into()
            .map_err(|_| Rejection::NoMatch)?;
        matched(keys, &[body], &[claimed])
    }

    pub(super) fn sign_generic(&self, key: &SigningKey, body: &[u8]) -> Vec<(HeaderName, String)> {
        let tag = key.tag(&[body]);
        let encoded = match self.encoding {
            SignatureEncoding::Hex => hex::encode(tag),
            SignatureEncoding::Base64 => BASE64.encode(tag),
        };
        vec![(self.header.clone(), format!("{}{encoded}", self.prefix))]
    }
}

fn strip_prefix_ignore_case<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    fn github_style() -> SignatureScheme {
        SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-hub-signature-256"),
            encoding: SignatureEncoding::Hex,
            prefix: "sha256=".to_owned(),
        })
    }

    fn github_doc_keys() -> SigningKeys {
        // GitHub's documented secret holds spaces, which the parameter format reads as separators,
        // so the key is built directly.
        SigningKeys::new(vec![SigningKey::from_bytes(
            b"It's a Secret to Everybody".to_vec(),
        )])
    }

    #[test]
    fn generic_hmac_matches_githubs_published_example() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        let scheme = github_style();
        assert_eq!(
            scheme.verify(&headers, b"Hello, World!", &github_doc_keys(), 0, 300),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(
            scheme.verify(&headers, b"Hello, World?", &github_doc_keys(), 0, 300),
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
        assert_eq!(
            scheme.verify(&signed, body, &keys, 0, 300),
            Ok(Verified { key_index: 0 })
        );

        let mut unprefixed = HeaderMap::new();
        unprefixed.insert(
            "x-hub-signature-256",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            github_style().verify(&unprefixed, b"Hello, World!", &github_doc_keys(), 0, 300),
            Err(Rejection::Malformed(HEADER))
        );
    }
}
