//! A GitHub App's own hook (`/app/hook/deliveries`) answers only to the App itself: a JSON Web
//! Token signed with the App's private key (RS256), issued by the App's id, valid ten minutes at
//! most. The credential parameter then holds `{"app_id": "...", "private_key": "-----BEGIN ..."}`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use serde_json::json;

/// How long a token lives: GitHub refuses more than ten minutes; a minute is kept back for the
/// clocks' drift, as GitHub advises (the token is also dated a minute back).
const TOKEN_SECS: i64 = 9 * 60;

#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    #[error("the credential is not a GitHub App's {{\"app_id\": ..., \"private_key\": ...}}: {0}")]
    NotAppCredential(String),
    #[error("the App's private key is not a PEM RSA key (the .pem file GitHub gave, `BEGIN RSA PRIVATE KEY` or `BEGIN PRIVATE KEY`): {0}")]
    BadKey(String),
    #[error("signing the App's token failed")]
    Signing,
}

#[derive(Deserialize)]
struct Stored {
    app_id: serde_json::Value,
    private_key: String,
}

/// An App's id and key. Its `Debug` shows the id only.
pub struct AppCredential {
    app_id: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredential")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppCredential {
    /// Reads `{"app_id": 123 or "123", "private_key": "<PEM>"}`.
    pub fn parse(text: &str) -> Result<Self, AppKeyError> {
        // serde's message may quote the text (`invalid type: string "ghp_..."`): only where it
        // went wrong is said, never what the credential holds.
        let stored: Stored = serde_json::from_str(text).map_err(|err| {
            AppKeyError::NotAppCredential(format!(
                "{} at line {} column {}",
                match err.classify() {
                    serde_json::error::Category::Io => "unreadable",
                    serde_json::error::Category::Syntax => "not JSON",
                    serde_json::error::Category::Data => "not the expected fields",
                    serde_json::error::Category::Eof => "cut short",
                },
                err.line(),
                err.column()
            ))
        })?;
        let app_id = match stored.app_id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => {
                return Err(AppKeyError::NotAppCredential(
                    "app_id is neither a number nor a string".to_owned(),
                ))
            }
        };
        let (label, der) = pem_der(&stored.private_key).map_err(AppKeyError::BadKey)?;
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            other => return Err(AppKeyError::BadKey(format!("a `{other}` block"))),
        }
        .map_err(|err| AppKeyError::BadKey(err.to_string()))?;
        Ok(Self { app_id, key })
    }

    /// A token for the App, issued at `now_secs` less a minute.
    pub fn jwt(&self, now_secs: i64) -> Result<String, AppKeyError> {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(
            json!({"iat": now_secs - 60, "exp": now_secs + TOKEN_SECS, "iss": self.app_id})
                .to_string(),
        );
        let signed = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| AppKeyError::Signing)?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The label and bytes of the first PEM block.
fn pem_der(pem: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "));
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or("no -----BEGIN line")?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END ")).collect();
    let der = STANDARD
        .decode(body)
        .map_err(|err| format!("its base64 is broken: {err}"))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    use super::*;

    const KEY: &str = include_str!("../../outboxctl/tests/it/data/github-app-test-key.pem");
    /// The key's public half, extracted by openssl (`rsa -RSAPublicKey_out -outform DER`).
    const PUBLIC: &[u8] =
        include_bytes!("../../outboxctl/tests/it/data/github-app-test-key.public.der");

    #[test]
    fn the_token_is_rs256_signed_by_the_apps_key_and_issued_by_its_id() {
        let stored = json!({"app_id": 123456, "private_key": KEY}).to_string();
        let app = AppCredential::parse(&stored).unwrap();
        assert!(!format!("{app:?}").contains("PRIVATE"));
        let token = app.jwt(1_700_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        assert_eq!(decode(parts[0]), json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(
            decode(parts[1]),
            json!({"iat": 1_699_999_940, "exp": 1_700_000_540, "iss": "123456"})
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, PUBLIC)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("verifies with the public key");
    }

    #[test]
    fn anything_else_is_refused_without_echoing_it() {
        let not_json = AppCredential::parse("ghp_plainToken").unwrap_err();
        assert!(matches!(not_json, AppKeyError::NotAppCredential(_)));
        for unparsable in [
            r#""ghp_quotedSecretToken""#,
            r#"{"app_id": "1", "private_key": 7, "x": "ghp_quotedSecretToken"}"#,
            r#"{"app_id": ["ghp_quotedSecretToken"], "private_key": "k"}"#,
            r#"{"app_id": 1, "private_key": "ghp_quotedSecretToken"#,
        ] {
            let err = AppCredential::parse(unparsable).unwrap_err().to_string();
            assert!(!err.contains("ghp_quoted"), "{err}");
        }
        let broken = json!({"app_id": "1", "private_key": "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----"});
        let err = AppCredential::parse(&broken.to_string()).unwrap_err();
        assert!(matches!(err, AppKeyError::BadKey(_)), "{err}");
        assert!(!err.to_string().contains("not base64!"));
    }
}
