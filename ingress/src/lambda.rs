//! The Lambda entry point: Function URL events through `lambda_http`, which has already decoded
//! base64 bodies (Function URLs encode every body that is not text or JSON) into the raw bytes.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, Body, Request, RequestExt, Response};

use crate::{Ingress, ReceivedBody, WebhookRequest};

/// Serves invocations from the Lambda Runtime API until the runtime stops the process.
pub async fn run(ingress: Arc<Ingress>) -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(move |request: Request| {
        let ingress = Arc::clone(&ingress);
        async move { Ok::<_, Infallible>(answer(&ingress, request).await) }
    }))
    .await
}

async fn answer(ingress: &Ingress, request: Request) -> Response<Body> {
    let request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(text) => bytes::Bytes::from(text),
        Body::Binary(bytes) => bytes::Bytes::from(bytes),
        _ => bytes::Bytes::new(),
    };
    let handled = ingress
        .handle(WebhookRequest {
            method: &parts.method,
            headers: &parts.headers,
            body: ReceivedBody::Complete(body),
            request_id: &request_id,
        })
        .await;
    let body = if handled.body.is_empty() {
        Body::Empty
    } else {
        // The challenge came from a JSON string, so it is text.
        Body::Text(String::from_utf8_lossy(&handled.body).into_owned())
    };
    let mut response = Response::new(body);
    *response.status_mut() = handled.status;
    if !handled.body.is_empty() {
        // Only a Slack challenge has a body; Slack reads it as plain text.
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
    }
    response
}
