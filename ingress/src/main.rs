//! The `ingress` binary (`bootstrap` when packaged): a Lambda behind a Function URL when
//! `AWS_LAMBDA_RUNTIME_API` is set, a local HTTP server on `INGRESS_LISTEN` otherwise.

use std::sync::Arc;

use anyhow::Context as _;
use ingress::{lambda, local, Ingress};
use shared::config::{IngressConfig, ProcessEnv};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::logging::init();
    let config = IngressConfig::from_env(&ProcessEnv).context("invalid ingress configuration")?;
    let ingress = Arc::new(
        Ingress::from_config(config)
            .await
            .context("ingress cold start failed")?,
    );

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda::run(ingress)
            .await
            .map_err(|err| anyhow::anyhow!(err))
            .context("Lambda runtime loop failed");
    }
    let listen = std::env::var("INGRESS_LISTEN")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| local::DEFAULT_LISTEN.to_owned());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("INGRESS_LISTEN: cannot listen on {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, "ingress serving HTTP");
    local::serve(listener, ingress, shared::process::shutdown_signal()).await;
    Ok(())
}
