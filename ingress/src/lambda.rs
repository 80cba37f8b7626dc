//! The Lambda entry point: Function URL events through `lambda_http`, which has already decoded
//! base64 bodies (Function URLs encode every body that is not text or JSON) into the raw bytes.
//!
//! Each request is bounded by its invocation's deadline as well as by `RESPONSE_BUDGET_MS`. The
//! runtime tells the function's timeout only through the first invocation's deadline, so that is
//! where a budget the timeout cannot hold is refused: that invocation and every later one fail
//! (the Function URL answers 502 and the provider retries) until the configuration is fixed.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lambda_http::{service_fn, Body, Request, RequestExt, Response};
use shared::time::now_millis;
use tracing::error;

use crate::{
    check_budget_against_timeout, BudgetExceedsTimeout, Ingress, ReceivedBody, WebhookRequest,
};

/// Serves invocations from the Lambda Runtime API until the runtime stops the process.
pub async fn run(ingress: Arc<Ingress>) -> Result<(), lambda_http::Error> {
    let budget_check: Arc<OnceLock<Result<(), BudgetExceedsTimeout>>> = Arc::new(OnceLock::new());
    lambda_http::run(service_fn(move |request: Request| {
        let ingress = Arc::clone(&ingress);
        let budget_check = Arc::clone(&budget_check);
        async move { answer(&ingress, &budget_check, request).await }
    }))
    .await
}

async fn answer(
    ingress: &Ingress,
    budget_check: &OnceLock<Result<(), BudgetExceedsTimeout>>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let (request_id, time_left) = request
        .lambda_context_ref()
        .map(|context| {
            let left_ms = i64::try_from(context.deadline).unwrap_or(i64::MAX) - now_millis();
            let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
            (context.request_id.clone(), Some(left))
        })
        .unwrap_or_default();
    if let Some(left) = time_left {
        let checked = budget_check
            .get_or_init(|| check_budget_against_timeout(ingress.config().response_budget, left));
        if let Err(refused) = checked {
            error!(request_id, error = %refused, "refusing the invocation");
            return Err(Box::new(refused.clone()));
        }
    }
    let invocation_deadline = time_left.map(|left| Instant::now() + left);
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(text) => bytes::Bytes::from(text),
        Body::Binary(bytes) => bytes::Bytes::from(bytes),
        _ => bytes::Bytes::new(),
    };
    let handled = ingress
        .handle_before(
            WebhookRequest {
                method: &parts.method,
                target: parts
                    .uri
                    .path_and_query()
                    .map_or("/", |target| target.as_str()),
                headers: &parts.headers,
                body: ReceivedBody::Complete(body),
                request_id: &request_id,
            },
            invocation_deadline,
        )
        .await;
    let body = if handled.body.is_empty() {
        Body::Empty
    } else {
        // A challenge came from a JSON string and Discord's answer is JSON, so it is text.
        Body::Text(String::from_utf8_lossy(&handled.body).into_owned())
    };
    let mut response = Response::new(body);
    *response.status_mut() = handled.status;
    if !handled.body.is_empty() {
        // Only a handshake's answer has a body.
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(handled.content_type),
        );
    }
    Ok(response)
}
