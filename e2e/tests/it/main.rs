//! The e2e crate's tests: one binary, against the moto server (`make moto` starts it;
//! `MOTO_ENDPOINT` overrides http://127.0.0.1:4566). The fault proxy is checked fault by fault
//! against moto, then the whole harness runs a small version of the soak against the built
//! `ingress` and `sweeper` binaries (`cargo build --workspace` builds them).

mod harness;
mod proxy;
mod routing;
mod support;
