//! The sweeper integration tests: one binary, against the moto server (`make moto` starts it).
//! Rows are written with the same adapter the ingress uses, so each test sets up exactly the
//! outbox state it needs (sent, pending, too young, unsendable) and drives `sweep_once` directly.
//! `in_process` runs representative sweeps against the in-memory fakes instead, without moto.

mod binary;
mod in_process;
mod outage;
mod sources;
mod stored_bodies;
mod sweeps;
