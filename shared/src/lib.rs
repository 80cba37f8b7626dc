//! The domain of the durable webhook ingress, shared by the `ingress` and `sweeper` Lambdas.
//!
//! Pure logic (configuration, signature schemes, event ids, the queue message contract, EMF metric
//! records) sits beside the adapters named after the AWS service they talk to (`DynamoDbOutbox`,
//! `SqsQueue`, `SsmSecrets`), so the logic is tested without AWS and the adapters against moto.

pub mod aws;
pub mod codec;
pub mod config;
pub mod cost;
#[cfg(feature = "oncall")]
pub mod deployment;
pub mod event;
pub mod large_body;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod process;
pub mod queue;
pub mod routes;
#[cfg(any(test, feature = "test-util"))]
pub mod samples;
pub mod secrets;
pub mod signature;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod time;
