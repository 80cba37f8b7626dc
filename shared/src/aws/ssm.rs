//! The secret source of the deployed functions: one SSM Parameter Store parameter (SecureString,
//! decrypted) holding the signing secret, or several while rotating.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_ssm::error::SdkError;
use aws_sdk_ssm::Client;

use crate::aws::call_error;
use crate::secrets::{SecretSource, SecretsError};
use crate::signature::{SignatureScheme, SigningKeys};

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
                transient: is_transient(&err),
                call: call_error("SSM", "GetParameter", err),
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

/// The error codes of a GetParameter that is worth repeating.
const TRANSIENT_SSM_CODES: &[&str] = &[
    "ThrottlingException",
    "TooManyRequestsException",
    "InternalServerError",
    "ServiceUnavailable",
];

fn is_transient<E: aws_sdk_ssm::error::ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| TRANSIENT_SSM_CODES.contains(&code)),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// The deployed source: one SSM parameter read for one scheme.
pub struct SsmParameter {
    pub secrets: SsmSecrets,
    pub parameter: String,
    pub scheme: SignatureScheme,
}

impl SecretSource for SsmParameter {
    fn load(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, SecretsError>> + Send + '_>> {
        Box::pin(self.secrets.load(&self.parameter, &self.scheme))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_and_server_errors_are_transient_missing_parameters_are_not() {
        use aws_sdk_ssm::error::ErrorMetadata;
        use aws_sdk_ssm::operation::get_parameter::GetParameterError;
        let with_code = |code: &str| {
            let err = GetParameterError::generic(ErrorMetadata::builder().code(code).build());
            is_transient(&SdkError::<_, ()>::service_error(err, ()))
        };
        assert!(with_code("ThrottlingException"));
        assert!(with_code("InternalServerError"));
        assert!(!with_code("ParameterNotFound"));
        assert!(!with_code("AccessDeniedException"));
    }
}
