//! JSON-line logs through `tracing`, on stdout beside the EMF lines (CloudWatch Logs reads both).
//! `RUST_LOG` chooses the level (default `info`). Callers log sizes and hashes, never bodies or
//! secrets.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per process; a second call is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}
