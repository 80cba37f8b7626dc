//! The webhook signing secrets, read from SSM Parameter Store (SecureString, decrypted) once per
//! cold start and kept for every later invocation.

use aws_sdk_ssm::Client;

use crate::aws::{describe, BoxError};
use crate::signature::{KeyError, SignatureScheme, SigningKeys};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read SSM parameter {parameter}: {message}")]
    Read {
        parameter: String,
        message: String,
        #[source]
        source: BoxError,
    },
    #[error("SSM parameter {parameter} has no value")]
    NoValue { parameter: String },
    #[error("SSM parameter {parameter}: {source}")]
    Unusable {
        parameter: String,
        #[source]
        source: KeyError,
    },
}

/// Reads secrets from one SSM parameter.
pub struct SsmSecrets {
    client: Client,
}

impl SsmSecrets {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The parameter's keys for `scheme`: one secret, or several separated by whitespace or commas.
    pub async fn load(
        &self,
        parameter: &str,
        scheme: &SignatureScheme,
    ) -> Result<SigningKeys, SecretsError> {
        let output = self
            .client
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|err| SecretsError::Read {
                parameter: parameter.to_owned(),
                message: describe(&err),
                source: err.into(),
            })?;
        let value =
            output
                .parameter()
                .and_then(|p| p.value())
                .ok_or_else(|| SecretsError::NoValue {
                    parameter: parameter.to_owned(),
                })?;
        scheme
            .parse_keys(value)
            .map_err(|source| SecretsError::Unusable {
                parameter: parameter.to_owned(),
                source,
            })
    }
}
