//! Helpers shared by the tests: a stack on moto (failing with instructions when moto is not
//! running) and SDK clients pointed at a proxy with explicit attempt limits.

use std::time::Duration;

use aws_config::SdkConfig;
use e2e::stack::Stack;
use e2e::testing::sdk_config;
use shared::aws::CallLimits;

pub async fn stack() -> Stack {
    match Stack::provision(4).await {
        Ok(stack) => stack,
        Err(err) => panic!("{err}"),
    }
}

/// SDK configuration for `endpoint` with `attempts` attempts of at most `attempt_timeout`.
pub async fn client_config(endpoint: &str, attempts: u32, attempt_timeout: Duration) -> SdkConfig {
    sdk_config(
        endpoint,
        CallLimits {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout,
            operation_timeout: Duration::from_secs(30),
            max_attempts: attempts,
        },
    )
    .await
}
