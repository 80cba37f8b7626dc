//! Errors that say what to do next: an AWS failure is mapped to the IAM action it needs, the
//! setting to check, or the command that starts the local stack.

use shared::aws::lambda::DeploymentError;
use shared::aws::sqs::QueueError;
use shared::call_error::{self, AwsCallError};
use shared::outbox::OutboxError;

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

/// `error` and its causes on one line, each text once: the SDK's errors repeat their own text as
/// their source, which a plain chain would print again.
pub fn chain(error: &anyhow::Error) -> String {
    shared::aws::describe(error.as_ref())
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
        if let Some(call) = aws_call(cause) {
            return Some(hint(call));
        }
    }
    None
}

/// The failed AWS call `cause` is, or wraps as its whole message.
fn aws_call<'e>(cause: &'e (dyn std::error::Error + 'static)) -> Option<&'e AwsCallError> {
    if let Some(call) = cause.downcast_ref::<AwsCallError>() {
        return Some(call);
    }
    match (
        cause.downcast_ref(),
        cause.downcast_ref(),
        cause.downcast_ref(),
    ) {
        (Some(OutboxError::Aws(call)), _, _)
        | (_, Some(QueueError::Aws(call)), _)
        | (_, _, Some(DeploymentError::Identity(call))) => Some(call),
        _ => None,
    }
}

/// The hint for one failed AWS call, by the service's error code.
fn hint(call: &AwsCallError) -> String {
    let action = call.iam_action();
    let code = call.code.as_str();
    if code.contains("AccessDenied") || code == "AuthorizationError" {
        return format!(
            "your credentials may not call {action}: use a role with the on-call policy \
             (terraform output outboxctl_read_only_policy / outboxctl_repair_policy), or ask for {action}"
        );
    }
    if code.starts_with("KMS") {
        return "the table or parameter's KMS key refused: the on-call role needs kms:Decrypt \
                (and kms:GenerateDataKey to write) on it, and the key must be enabled"
            .to_owned();
    }
    if call.service == "DynamoDB" && code == "ResourceNotFoundException" {
        return "the outbox table was not found in this region: check --table / OUTBOX_TABLE \
                and AWS_REGION (or use --function NAME to read them from the ingress)"
            .to_owned();
    }
    if code.ends_with("NonExistentQueue") || code.ends_with("QueueDoesNotExist") {
        return "the queue was not found: check --queue-url / QUEUE_URL (or --dlq-url) and AWS_REGION"
            .to_owned();
    }
    if call.service == "SSM" && code == "ParameterNotFound" {
        return "the secret parameter was not found: check SECRET_PARAMETER and AWS_REGION"
            .to_owned();
    }
    if code == call_error::NO_CREDENTIALS || code.starts_with("ExpiredToken") {
        return "no valid AWS credentials: log in (`aws sso login`) or set AWS_PROFILE".to_owned();
    }
    if code == call_error::DISPATCH_FAILURE {
        return "AWS could not be reached: check the network, AWS_REGION and AWS_ENDPOINT_URL; \
                for the local stack run `make up` (or `make moto`)"
            .to_owned();
    }
    format!("{action} failed; run again with RUST_LOG=debug for the full exchange")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(service: &'static str, operation: &'static str, code: &str) -> AwsCallError {
        AwsCallError {
            service,
            operation,
            code: code.into(),
            source: "x".into(),
        }
    }

    #[test]
    fn access_denied_names_the_iam_action() {
        let text = hint(&call("SQS", "ChangeMessageVisibilityBatch", "AccessDenied"));
        assert!(text.contains("sqs:ChangeMessageVisibility"), "{text}");
    }

    #[test]
    fn hints_follow_the_code_not_the_message_text() {
        // A message that mentions a missing table does not make an access denial one.
        let denied = AwsCallError {
            source: "ResourceNotFoundException: KMS key not found".into(),
            ..call("DynamoDB", "Query", "AccessDeniedException")
        };
        assert!(hint(&denied).contains("dynamodb:Query"));
        let wrapped = anyhow::Error::new(shared::large_body::BodyStoreError::Aws {
            key: "k".into(),
            call: call("S3", "GetObject", "AccessDenied"),
        });
        assert!(next_step(&wrapped).unwrap().contains("s3:GetObject"));
        let offline = call("SQS", "GetQueueAttributes", call_error::DISPATCH_FAILURE);
        assert!(hint(&offline).contains("could not be reached"));
    }

    #[test]
    fn a_missing_table_says_which_settings_to_check() {
        let err = anyhow::Error::new(OutboxError::Aws(call(
            "DynamoDB",
            "Query",
            "ResourceNotFoundException",
        )));
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
