//! The ingress binary under a Lambda Runtime API: a small runtime-API server hands it real
//! Function URL events (one with a base64 body, as Function URLs send binary content types) and
//! collects its answers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shared::signature::SignatureScheme;
use shared::time::now_millis;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use crate::binary::binary_command;
use crate::rules::signed;
use crate::support::{s, Stack};

#[derive(Default)]
struct RuntimeState {
    pending: Mutex<VecDeque<(String, String)>>,
    available: Notify,
}

/// Serves `/2018-06-01/runtime/...`: `next` hands out queued events, `response` and `error`
/// posts are forwarded to `answers` as `(request id, path kind, body)`.
async fn runtime_api(
    state: Arc<RuntimeState>,
    answers: mpsc::UnboundedSender<(String, String, String)>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (state, answers) = (Arc::clone(&state), answers.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (state, answers) = (Arc::clone(&state), answers.clone());
                    async move { Ok::<_, Infallible>(runtime_route(&state, &answers, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

async fn runtime_route(
    state: &RuntimeState,
    answers: &mpsc::UnboundedSender<(String, String, String)>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let (id, event) = loop {
            let next = state.pending.lock().unwrap().pop_front();
            match next {
                Some(next) => break next,
                None => state.available.notified().await,
            }
        };
        let deadline = (now_millis() + 10_000).to_string();
        return Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline)
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:ingress",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5eb33c07-de25b420912dee103a5db434",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let parts: Vec<&str> = path.split('/').collect();
    // /2018-06-01/runtime/invocation/{id}/response|error, or /2018-06-01/runtime/init/error
    let (id, kind) = match parts.as_slice() {
        [_, _, _, "invocation", id, kind] => ((*id).to_owned(), (*kind).to_owned()),
        _ => (String::new(), path.clone()),
    };
    let _ = answers.send((id, kind, String::from_utf8_lossy(&body).into_owned()));
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A real Function URL event (the lambda_http fixture) carrying this POST.
fn function_url_event(
    headers: &http::HeaderMap,
    content_type: &str,
    body: &[u8],
    base64: bool,
) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("data/function_url_request.json")).unwrap();
    event["requestContext"]["http"]["method"] = "POST".into();
    for (name, value) in headers {
        event["headers"][name.as_str()] = value.to_str().unwrap().into();
    }
    event["headers"]["content-type"] = content_type.into();
    event["body"] = if base64 {
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .into()
    } else {
        String::from_utf8(body.to_vec()).unwrap().into()
    };
    event["isBase64Encoded"] = base64.into();
    event.to_string()
}

#[tokio::test]
async fn binary_serves_function_url_events_from_the_lambda_runtime_api() {
    let stack = Stack::new().await;
    let state = Arc::new(RuntimeState::default());
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let runtime = runtime_api(Arc::clone(&state), answers_tx).await;
    let scheme = SignatureScheme::StandardWebhooks;

    let json_body: &[u8] = br#"{"type":"product.reviewed","data":{"id":"p-7"}}"#;
    let binary_body: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00binary \xff payload";
    let events = [
        (
            "req-json",
            function_url_event(
                &signed(&scheme, "msg_lambda_json", json_body),
                "application/json",
                json_body,
                false,
            ),
        ),
        (
            "req-binary",
            function_url_event(
                &signed(&scheme, "msg_lambda_bin", binary_body),
                "application/octet-stream",
                binary_body,
                true,
            ),
        ),
        (
            "req-forged",
            function_url_event(
                &signed(&scheme, "msg_lambda_forged", json_body),
                "application/json",
                b"{\"tampered\":true}",
                false,
            ),
        ),
    ];
    state.pending.lock().unwrap().extend(
        events
            .iter()
            .map(|(id, event)| ((*id).to_owned(), event.clone())),
    );
    state.available.notify_one();

    let mut child = binary_command(
        &stack,
        &[
            ("AWS_LAMBDA_RUNTIME_API", runtime.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "ingress"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/ingress"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();

    let mut statuses = std::collections::HashMap::new();
    for _ in 0..events.len() {
        let (id, kind, body) = tokio::time::timeout(Duration::from_secs(30), answers.recv())
            .await
            .expect("the function answers every invocation")
            .unwrap();
        assert_eq!(kind, "response", "{id}: {body}");
        let response: serde_json::Value = serde_json::from_str(&body).unwrap();
        statuses.insert(id, response["statusCode"].as_u64().unwrap());
    }
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(statuses["req-json"], 200);
    assert_eq!(statuses["req-binary"], 200);
    assert_eq!(statuses["req-forged"], 404);
    let messages = stack.drain(&stack.queue_url).await;
    assert_eq!(messages.len(), 2);
    let binary = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some("msg_lambda_bin"))
        .unwrap();
    assert_eq!(binary.attribute("body-encoding"), Some("base64"));
    assert_eq!(binary.raw_body(), binary_body);
    let json = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some("msg_lambda_json"))
        .unwrap();
    assert_eq!(json.body.as_bytes(), json_body);
    let row = stack.row("market:msg_lambda_bin").await.unwrap();
    assert_eq!(s(&row, "status").as_deref(), Some("sent"));
}
