//! Finding a deployment from its ingress function (feature `oncall`): the function's own
//! environment names the table, queue, source and shard count, so on-call needs one name. Kept
//! behind a feature so the Lambdas do not build the Lambda API client they never call.

use std::collections::HashMap;

use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationError;
use aws_sdk_lambda::operation::get_function_url_config::GetFunctionUrlConfigError;
use aws_sdk_lambda::Client;

use crate::aws::call_error;
use crate::call_error::AwsCallError;
use crate::primitives::EnvSource;

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("no Lambda function {function} in this account and region")]
    UnknownFunction { function: String },
    #[error(transparent)]
    Identity(AwsCallError),
    #[error("Lambda function {function}")]
    Aws {
        function: String,
        #[source]
        call: AwsCallError,
    },
}

/// A function name, optionally with `:qualifier` (alias or version), as on-call types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    /// `name`, `name:alias` or an ARN (whose last part after the function name is the qualifier).
    pub fn parse(text: &str) -> Self {
        let parts: Vec<&str> = text.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            [name] => (*name, None),
            [name, qualifier] => (*name, Some(*qualifier)),
            ["arn", _, "lambda", _, _, "function", name] => (*name, None),
            ["arn", _, "lambda", _, _, "function", name, qualifier] => (*name, Some(*qualifier)),
            _ => (text, None),
        };
        Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.qualifier {
            Some(qualifier) => write!(f, "{}:{qualifier}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A deployed function's environment variables, read as its configuration parser reads them.
#[derive(Debug, Clone, Default)]
pub struct FunctionEnvironment(pub HashMap<String, String>);

impl EnvSource for FunctionEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// The Lambda API, for what on-call reads of a deployment.
#[derive(Debug, Clone)]
pub struct LambdaFunctions {
    client: Client,
}

impl LambdaFunctions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The function's environment (GetFunctionConfiguration).
    pub async fn environment(
        &self,
        function: &FunctionRef,
    ) -> Result<FunctionEnvironment, DeploymentError> {
        let result = self
            .client
            .get_function_configuration()
            .function_name(&function.name)
            .set_qualifier(function.qualifier.clone())
            .send()
            .await;
        match result {
            Ok(output) => Ok(FunctionEnvironment(
                output
                    .environment()
                    .and_then(|environment| environment.variables())
                    .cloned()
                    .unwrap_or_default(),
            )),
            Err(err) => match err.as_service_error() {
                Some(GetFunctionConfigurationError::ResourceNotFoundException(_)) => {
                    Err(DeploymentError::UnknownFunction {
                        function: function.to_string(),
                    })
                }
                _ => Err(DeploymentError::Aws {
                    function: function.to_string(),
                    call: call_error("Lambda", "GetFunctionConfiguration", err),
                }),
            },
        }
    }

    /// The function's URL, `None` when it has none (GetFunctionUrlConfig).
    pub async fn url(&self, function: &FunctionRef) -> Result<Option<String>, DeploymentError> {
        let result = self
            .client
            .get_function_url_config()
            .function_name(&function.name)
            .set_qualifier(function.qualifier.clone())
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output.function_url().to_owned())),
            Err(err) => match err.as_service_error() {
                Some(GetFunctionUrlConfigError::ResourceNotFoundException(_)) => Ok(None),
                _ => Err(DeploymentError::Aws {
                    function: function.to_string(),
                    call: call_error("Lambda", "GetFunctionUrlConfig", err),
                }),
            },
        }
    }
}

/// Who the AWS credentials in use belong to (STS GetCallerIdentity, which needs no permission):
/// the audit trail of an on-call change.
pub async fn caller_arn(client: &aws_sdk_sts::Client) -> Result<String, DeploymentError> {
    let output =
        client.get_caller_identity().send().await.map_err(|err| {
            DeploymentError::Identity(call_error("STS", "GetCallerIdentity", err))
        })?;
    Ok(output.arn().unwrap_or("unknown").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_aliases_and_arns_parse() {
        assert_eq!(
            FunctionRef::parse("webhook-ingress"),
            FunctionRef {
                name: "webhook-ingress".into(),
                qualifier: None
            }
        );
        assert_eq!(
            FunctionRef::parse("webhook-ingress:current").to_string(),
            "webhook-ingress:current"
        );
        let arn = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:hook:current");
        assert_eq!(
            (arn.name.as_str(), arn.qualifier.as_deref()),
            ("hook", Some("current"))
        );
    }
}
