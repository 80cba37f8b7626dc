//! Errors that say what to do next: an AWS failure is mapped to the IAM action it needs, the
//! setting to check, or the command that starts the local stack.

use shared::aws::lambda::DeploymentError;
use shared::aws::sqs::QueueError;
use shared::outbox::OutboxError;
use shared::secrets::SecretsError;

/// A command refused before it did anything, with the step that gets the person where they meant to go.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
    pub next: String,
}

impl Refusal {
    pub fn new(message: impl Into<String>, next: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            next: next.into(),
        }
    }
}

/// The next step for `error`, when one is known.
pub fn next_step(error: &anyhow::Error) -> Option<String> {
    for cause in error.chain() {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return Some(refusal.next.clone());
        }
        if let Some(DeploymentError::UnknownFunction { function }) = cause.downcast_ref() {
            return Some(format!(
                "check the name `{function}` and the region/profile (AWS_REGION, AWS_PROFILE): \
                 `aws lambda list-functions --query 'Functions[].FunctionName'` lists them"
            ));
        }
        let (service, operation, message) = match cause.downcast_ref() {
            Some(OutboxError::Aws {
                operation, message, ..
            }) => ("dynamodb", *operation, message.as_str()),
            _ => match cause.downcast_ref() {
                Some(QueueError::Aws {
                    operation, message, ..
                }) => ("sqs", *operation, message.as_str()),
                _ => match cause.downcast_ref() {
                    Some(DeploymentError::Aws {
                        operation, message, ..
                    }) => ("lambda", *operation, message.as_str()),
                    _ => match cause.downcast_ref() {
                        Some(SecretsError::Read { message, .. }) => {
                            ("ssm", "GetParameter", message.as_str())
                        }
                        _ => continue,
                    },
                },
            },
        };
        return Some(hint(service, operation, message));
    }
    None
}

/// The hint for one failed AWS call.
fn hint(service: &str, operation: &str, message: &str) -> String {
    let action = format!("{service}:{}", iam_action(operation));
    if message.contains("AccessDenied") || message.contains("not authorized") {
        return format!(
            "your credentials may not call {action}: use a role with the on-call policy \
             (terraform output outboxctl_read_only_policy / outboxctl_repair_policy), or ask for {action}"
        );
    }
    if message.contains("KMS") || message.contains("kms") {
        return "the table or parameter's KMS key refused: the on-call role needs kms:Decrypt \
                (and kms:GenerateDataKey to write) on it, and the key must be enabled"
            .to_owned();
    }
    if service == "dynamodb" && message.contains("ResourceNotFound") {
        return "the outbox table was not found in this region: check --table / OUTBOX_TABLE \
                and AWS_REGION (or use --function NAME to read them from the ingress)"
            .to_owned();
    }
    if message.contains("NonExistentQueue") || message.contains("QueueDoesNotExist") {
        return "the queue was not found: check --queue-url / QUEUE_URL (or --dlq-url) and AWS_REGION"
            .to_owned();
    }
    if service == "ssm" && message.contains("ParameterNotFound") {
        return "the secret parameter was not found: check SECRET_PARAMETER and AWS_REGION"
            .to_owned();
    }
    if message.contains("credential") || message.contains("ExpiredToken") {
        return "no valid AWS credentials: log in (`aws sso login`) or set AWS_PROFILE".to_owned();
    }
    if message.contains("dispatch failure") || message.contains("onnection") {
        return "AWS could not be reached: check the network, AWS_REGION and AWS_ENDPOINT_URL; \
                for the local stack run `make up` (or `make moto`)"
            .to_owned();
    }
    format!("{action} failed; run again with RUST_LOG=debug for the full exchange")
}

/// The IAM action that authorises an API operation (batch calls use the single call's action).
pub fn iam_action(operation: &str) -> &str {
    match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_iam_action() {
        let text = hint(
            "sqs",
            "ChangeMessageVisibilityBatch",
            "service error: AccessDenied: not allowed",
        );
        assert!(text.contains("sqs:ChangeMessageVisibility"), "{text}");
    }

    #[test]
    fn a_missing_table_says_which_settings_to_check() {
        let err = anyhow::Error::new(OutboxError::Aws {
            operation: "Query",
            message: "service error: ResourceNotFoundException: Requested resource not found"
                .into(),
            source: "x".into(),
        });
        let text = next_step(&err.context("cannot count")).unwrap();
        assert!(
            text.contains("OUTBOX_TABLE") && text.contains("--function"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_function_says_how_to_list_them() {
        let err = anyhow::Error::new(DeploymentError::UnknownFunction {
            function: "hook".into(),
        });
        assert!(next_step(&err).unwrap().contains("list-functions"));
        assert!(next_step(&anyhow::anyhow!("plain")).is_none());
    }
}
