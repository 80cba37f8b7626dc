//! Schemes that send the shared secret itself instead of a signature: GitLab's `X-Gitlab-Token`, a
//! token in a configured header, and HTTP Basic. The received value and each active secret are
//! both hashed with SHA-256 and the hashes compared in constant time, so neither the comparison's
//! time nor its length reveals how much of a guess was right. Such a secret authenticates the
//! sender but covers neither the body nor the time: see docs/SECURITY.md.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable};

use super::{
    tags_equal, Field, Rejection, SigningKey, SigningKeys, Tag, MAX_SIGNATURE_HEADER_BYTES,
};

pub(super) const GITLAB_TOKEN: &str = "x-gitlab-token";
/// `Idempotency-Key` stays the same across GitLab's retries and resends of one event (GitLab 17.4
/// on); `X-Gitlab-Event-UUID` is new on every resend, so it is the id only for older GitLabs.
pub(super) const GITLAB_EVENT_ID: &[Field] = &[
    Field::Header("idempotency-key"),
    Field::Header("x-gitlab-event-uuid"),
];
pub(super) const GITLAB_EVENT_TYPE: &[Field] = &[
    Field::Header("x-gitlab-event"),
    Field::Pointer("/object_kind"),
];
const AUTHORIZATION: &str = "authorization";

/// Settings of the `token` scheme: the header holding the token and any text before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    pub header: HeaderName,
    /// Text before the token, such as `Bearer `; may be empty.
    pub prefix: String,
}

fn digest(bytes: &[u8]) -> Tag {
    Sha256::digest(bytes).into()
}

/// The position of the first active secret equal to `presented`, every secret compared.
fn matching_secret(keys: &SigningKeys, presented: &[u8]) -> Result<usize, Rejection> {
    let presented = digest(presented);
    let mut found = Choice::from(0);
    let mut index = 0_u64;
    for (position, key) in keys.0.iter().enumerate() {
        let hit = tags_equal(&digest(&key.0), &presented);
        index = u64::conditional_select(&index, &(position as u64), hit & !found);
        found |= hit;
    }
    if bool::from(found) {
        Ok(usize::try_from(index).unwrap_or(usize::MAX))
    } else {
        Err(Rejection::NoMatch)
    }
}

fn header_value<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Rejection> {
    let text = headers
        .get(name)
        .ok_or(Rejection::MissingHeader(name))?
        .to_str()
        .map_err(|_| Rejection::Malformed(name))?
        .trim();
    if text.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(Rejection::Malformed(name));
    }
    Ok(text)
}

pub(super) fn verify_gitlab(headers: &HeaderMap, keys: &SigningKeys) -> Result<usize, Rejection> {
    matching_secret(keys, header_value(headers, GITLAB_TOKEN)?.as_bytes())
}

pub(super) fn sign_gitlab(key: &SigningKey, event_id: &str) -> Vec<(HeaderName, String)> {
    vec![
        (
            HeaderName::from_static(GITLAB_TOKEN),
            String::from_utf8_lossy(&key.0).into_owned(),
        ),
        (
            HeaderName::from_static("idempotency-key"),
            event_id.to_owned(),
        ),
        (
            HeaderName::from_static("x-gitlab-event-uuid"),
            event_id.to_owned(),
        ),
    ]
}

const TOKEN_HEADER: &str = "token header";

impl TokenHeader {
    pub(super) fn verify_token(
        &self,
        headers: &HeaderMap,
        keys: &SigningKeys,
    ) -> Result<usize, Rejection> {
        let text = headers
            .get(&self.header)
            .ok_or(Rejection::MissingHeader(TOKEN_HEADER))?
            .to_str()
            .map_err(|_| Rejection::Malformed(TOKEN_HEADER))?
            .trim();
        if text.len() > MAX_SIGNATURE_HEADER_BYTES {
            return Err(Rejection::Malformed(TOKEN_HEADER));
        }
        let token = text
            .get(..self.prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(&self.prefix))
            .map(|_| &text[self.prefix.len()..])
            .ok_or(Rejection::Malformed(TOKEN_HEADER))?;
        matching_secret(keys, token.as_bytes())
    }

    pub(super) fn sign_token(&self, key: &SigningKey) -> Vec<(HeaderName, String)> {
        vec![(
            self.header.clone(),
            format!("{}{}", self.prefix, String::from_utf8_lossy(&key.0)),
        )]
    }
}

/// `Authorization: Basic <base64 of user:password>`, compared with secrets written `user:password`.
pub(super) fn verify_basic(headers: &HeaderMap, keys: &SigningKeys) -> Result<usize, Rejection> {
    let value = header_value(headers, AUTHORIZATION)?;
    let encoded = value
        .get(..6)
        .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
        .map(|_| value[6..].trim())
        .ok_or(Rejection::Malformed(AUTHORIZATION))?;
    // `user:password` fits the header's own bound; the buffer is on the stack.
    let mut decoded = [0_u8; MAX_SIGNATURE_HEADER_BYTES];
    let len = BASE64
        .decode_slice(encoded, &mut decoded)
        .map_err(|_| Rejection::Malformed(AUTHORIZATION))?;
    matching_secret(keys, &decoded[..len])
}

pub(super) fn sign_basic(key: &SigningKey) -> Vec<(HeaderName, String)> {
    vec![(
        HeaderName::from_static(AUTHORIZATION),
        format!("Basic {}", BASE64.encode(&key.0)),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::{SignatureScheme, Verified};
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn gitlab_accepts_any_active_token_and_nothing_else() {
        let keys = SignatureScheme::GitLab
            .parse_keys("old-token new-token")
            .unwrap();
        let check = |value: &str| {
            SignatureScheme::GitLab.verify(&headers(GITLAB_TOKEN, value), b"{}", &keys, 0, 300)
        };
        assert_eq!(check("new-token"), Ok(Verified { key_index: 1 }));
        assert_eq!(check("old-token"), Ok(Verified { key_index: 0 }));
        assert_eq!(check("new-toke"), Err(Rejection::NoMatch));
        assert_eq!(check("new-token-and-more"), Err(Rejection::NoMatch));
        assert_eq!(
            SignatureScheme::GitLab.verify(&HeaderMap::new(), b"{}", &keys, 0, 300),
            Err(Rejection::MissingHeader(GITLAB_TOKEN))
        );
    }

    #[test]
    fn token_requires_its_prefix_and_the_exact_token() {
        let scheme = SignatureScheme::Token(TokenHeader {
            header: HeaderName::from_static("authorization"),
            prefix: "Bearer ".to_owned(),
        });
        let keys = scheme.parse_keys("s3cr3t").unwrap();
        let check =
            |value: &str| scheme.verify(&headers(AUTHORIZATION, value), b"{}", &keys, 0, 300);
        assert_eq!(check("Bearer s3cr3t"), Ok(Verified { key_index: 0 }));
        assert_eq!(check("bearer s3cr3t"), Ok(Verified { key_index: 0 }));
        assert_eq!(check("Bearer s3cr3T"), Err(Rejection::NoMatch));
        assert_eq!(check("s3cr3t"), Err(Rejection::Malformed(TOKEN_HEADER)));
    }

    #[test]
    fn basic_compares_the_decoded_user_and_password() {
        let keys = SignatureScheme::Basic
            .parse_keys("hooks:correct-horse")
            .unwrap();
        let check = |value: &str| {
            SignatureScheme::Basic.verify(&headers(AUTHORIZATION, value), b"{}", &keys, 0, 300)
        };
        // `hooks:correct-horse`, as curl -u hooks:correct-horse sends it.
        assert_eq!(
            check("Basic aG9va3M6Y29ycmVjdC1ob3JzZQ=="),
            Ok(Verified { key_index: 0 })
        );
        assert_eq!(
            check(&format!("Basic {}", BASE64.encode("hooks:wrong"))),
            Err(Rejection::NoMatch)
        );
        assert_eq!(
            check("Bearer aG9va3M6Y29ycmVjdC1ob3JzZQ=="),
            Err(Rejection::Malformed(AUTHORIZATION))
        );
        assert_eq!(check("Basic !!!"), Err(Rejection::Malformed(AUTHORIZATION)));
    }
}
