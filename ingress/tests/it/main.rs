//! The ingress integration tests: one binary, against the moto server (`make moto` starts it;
//! `MOTO_ENDPOINT` overrides http://127.0.0.1:4566). Each test provisions its own table and queues.

mod binary;
mod hostile;
mod in_process;
mod lambda_runtime;
mod large_bodies;
mod providers;
mod rotation;
mod rules;
mod support;
