//! The domain of the durable webhook ingress, shared by the `ingress` and `sweeper` Lambdas and
//! `outboxctl`, in two floors:
//! - the domain: plain modules that import no AWS SDK crate (event ids, routes, signature schemes,
//!   the message contract, the outbox's row layout, codecs, configuration, cost, metrics, time),
//!   resting on [`primitives`], which imports none of them;
//! - [`aws`]: one adapter per AWS service (DynamoDB outbox, SQS, S3 claim check, SSM secrets,
//!   Lambda lookup) and the client setup, mapping the domain's types to SDK calls.
//!
//! So the logic is tested without AWS and the adapters against moto. Test support lives in the
//! `e2e` crate, out of the product.

pub mod aws;
pub mod call_error;
pub mod checkpoint;
pub mod codec;
pub mod config;
pub mod cost;
pub mod delivery;
pub mod event;
#[cfg(test)]
mod floors;
pub mod large_body;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod ports;
pub mod primitives;
pub mod process;
pub mod queue;
pub mod routes;
pub mod secrets;
pub mod signature;
pub mod time;
