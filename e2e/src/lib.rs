//! The test-kit of the durable webhook ingress, kept out of the product crates: what every crate's
//! tests share ([`testing`]: a private table and queues on moto per test, SDK clients to it;
//! [`samples`]: realistic webhook bodies; [`stack`]: a second local stack; [`proxy`]: the fault
//! proxy), and the fault-injection harness.
//!
//! The system makes one promise: every webhook the ingress answered 2xx ends up on the SQS queue,
//! byte for byte. Unit and integration tests check each failure rule on its own; this crate checks
//! the promise as a whole, the way production breaks it: the real `ingress` and `sweeper` binaries,
//! a provider that retries, processes killed mid-request, and AWS calls that fail, throttle, hang,
//! reset, or fail after having succeeded ([`proxy`]). [`harness::run`] runs it all and reports
//! what was lost.

pub mod consumer;
pub mod fakes;
pub mod harness;
pub mod processes;
pub mod provider;
pub mod provider_api;
pub mod proxy;
pub mod rng;
pub mod samples;
pub mod stack;
pub mod testing;
