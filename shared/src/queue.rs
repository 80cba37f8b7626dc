//! The queue in domain terms: what sending to it can fail with. The SQS adapter is
//! [`crate::aws::sqs`].

use crate::call_error::AwsCallError;
use crate::primitives::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    #[error("SQS accepted the message but returned no message id")]
    NoMessageId,
    #[error("queue {0} is not QUEUE_URL nor in ROUTES of this function")]
    UnknownDestination(String),
    #[error("SQS answered without {0}")]
    Missing(&'static str),
    #[error("message attribute {name} could not be built")]
    Attribute {
        name: &'static str,
        #[source]
        source: BoxError,
    },
}
