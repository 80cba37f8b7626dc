//! One failed AWS call, the error every adapter's error enum wraps: which service and operation,
//! the error code the service answered with (or what went wrong when no answer came), and the
//! SDK's error as its source. Its message names the call and the code only, so a printed error
//! chain shows the SDK's own text once, and callers (outboxctl's hints, retry rules) decide on the
//! code, never on message text.

use crate::primitives::BoxError;

/// What stands in the code when the service gave none: the call timed out.
pub const TIMEOUT: &str = "Timeout";
/// ... the request never reached the service (connection refused, DNS, TLS).
pub const DISPATCH_FAILURE: &str = "DispatchFailure";
/// ... no credentials could be loaded to sign the request.
pub const NO_CREDENTIALS: &str = "NoCredentials";
/// ... the answer could not be read.
pub const RESPONSE_ERROR: &str = "ResponseError";
/// ... the request could not be built.
pub const CONSTRUCTION_FAILURE: &str = "ConstructionFailure";

#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} failed: {code}")]
pub struct AwsCallError {
    /// The service as AWS names it (`DynamoDB`, `SQS`, `S3`, `SSM`, `Lambda`, `STS`).
    pub service: &'static str,
    /// The API operation (`PutItem`, `SendMessageBatch`).
    pub operation: &'static str,
    /// The service's error code (`ResourceNotFoundException`), or one of this module's constants
    /// when no answer came.
    pub code: String,
    #[source]
    pub source: BoxError,
}

/// The codes DynamoDB and SQS answer when a call exceeded what the table, index or account takes
/// at the moment: the same call succeeds once the rate drops.
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
];

impl AwsCallError {
    /// Whether the service refused the call for its rate (or took too long to answer it).
    pub fn is_throttling(&self) -> bool {
        self.code == TIMEOUT || THROTTLING_CODES.contains(&self.code.as_str())
    }

    /// The IAM action that authorises the call (batch operations use the single call's action).
    pub fn iam_action(&self) -> String {
        let operation = match self.operation {
            "SendMessageBatch" => "SendMessage",
            "DeleteMessageBatch" => "DeleteMessage",
            "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
            other => other,
        };
        format!("{}:{operation}", self.service.to_ascii_lowercase())
    }
}

/// One line describing an SDK error with its whole chain (service code and message included),
/// for logs and the outbox's `last_error`. SDK errors never contain request bodies or secrets.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("service error")]
    struct Sdk(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("ResourceNotFoundException: Requested resource not found")]
    struct Inner;

    fn failed_with(code: &str) -> AwsCallError {
        AwsCallError {
            service: "DynamoDB",
            operation: "UpdateItem",
            code: code.to_owned(),
            source: Box::new(Sdk(Inner)),
        }
    }

    #[test]
    fn throttles_and_timeouts_are_throttling_and_nothing_else_is() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            TIMEOUT,
        ] {
            assert!(failed_with(code).is_throttling(), "{code}");
        }
        for code in [
            "ValidationException",
            "InternalServerError",
            DISPATCH_FAILURE,
        ] {
            assert!(!failed_with(code).is_throttling(), "{code}");
        }
    }

    #[test]
    fn the_message_names_the_call_and_code_and_leaves_the_sdk_text_to_the_source() {
        let err = AwsCallError {
            service: "DynamoDB",
            operation: "Query",
            code: "ResourceNotFoundException".into(),
            source: Box::new(Sdk(Inner)),
        };
        assert_eq!(
            err.to_string(),
            "DynamoDB Query failed: ResourceNotFoundException"
        );
        let mut chain = Vec::new();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(error) = cause {
            chain.push(error.to_string());
            cause = error.source();
        }
        let printed = chain.join(": ");
        assert_eq!(printed.matches("Requested resource not found").count(), 1);
        assert_eq!(err.iam_action(), "dynamodb:Query");
    }

    #[test]
    fn batch_calls_are_authorised_by_the_single_call_s_action() {
        let err = AwsCallError {
            service: "SQS",
            operation: "ChangeMessageVisibilityBatch",
            code: "AccessDenied".into(),
            source: "x".into(),
        };
        assert_eq!(err.iam_action(), "sqs:ChangeMessageVisibility");
    }
}
