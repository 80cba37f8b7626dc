//! The local HTTP server used when no Lambda Runtime API is present (`make run`, the end-to-end
//! tests): the same [`Ingress::handle`] behind plain HTTP/1.1 on `INGRESS_LISTEN`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::{Ingress, ReceivedBody, WebhookRequest};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

/// Accepts connections until `shutdown` completes, then waits (within the response budget) for
/// the requests in flight, so a stopped server still answers what it accepted.
pub async fn serve(
    listener: TcpListener,
    ingress: Arc<Ingress>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let ingress = Arc::clone(&ingress);
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let ingress = Arc::clone(&ingress);
                            async move { Ok::<_, Infallible>(answer(&ingress, request).await) }
                        });
                        if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                            warn!(error = %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => warn!(error = %err, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    let budget = ingress.config().response_budget + Duration::from_secs(1);
    info!(in_flight = connections.len(), "shutting down");
    let _ = tokio::time::timeout(budget, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn answer(ingress: &Ingress, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let limit = ingress.config().max_body_bytes;
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64);
    let received = if declared_too_large || parts.method != http::Method::POST {
        // Neither is read: a 405 or 413 never needs the body.
        if declared_too_large {
            ReceivedBody::TooLarge
        } else {
            ReceivedBody::Complete(Bytes::new())
        }
    } else {
        match Limited::new(body, limit).collect().await {
            Ok(collected) => ReceivedBody::Complete(collected.to_bytes()),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => ReceivedBody::TooLarge,
            Err(err) => {
                warn!(request_id, error = %err, "request body could not be read");
                return with_body(StatusCode::BAD_REQUEST, Bytes::new(), "text/plain");
            }
        }
    };
    let handled = ingress
        .handle(WebhookRequest {
            method: &parts.method,
            target: parts
                .uri
                .path_and_query()
                .map_or("/", |target| target.as_str()),
            headers: &parts.headers,
            body: received,
            request_id: &request_id,
        })
        .await;
    with_body(handled.status, handled.body, handled.content_type)
}

/// The answer: a status, and a body only for a handshake (of the given media type).
fn with_body(status: StatusCode, body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let has_body = !body.is_empty();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if has_body {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
    }
    response
}
