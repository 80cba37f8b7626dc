//! The ingress binary under a Lambda Runtime API: a small runtime-API server hands it real
//! Function URL events (one with a base64 body, as Function URLs send binary content types) and
//! collects its answers.

use std::time::Duration;

use base64::Engine as _;
use shared::signature::SignatureScheme;

use crate::binary::binary_command;
use crate::rules::signed;
use crate::support::{s, RuntimeApi, Stack};

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
    let runtime = RuntimeApi::start().await;
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
    for (id, event) in &events {
        runtime.invoke(id, event.clone());
    }

    let mut child = binary_command(&stack, &[])
        .envs(runtime.lambda_env("ingress"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let mut statuses = std::collections::HashMap::new();
    for _ in 0..events.len() {
        let answer = runtime.next_answer(Duration::from_secs(30)).await;
        assert_eq!(answer.kind, "response", "{answer:?}");
        let response: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        statuses.insert(answer.request_id, response["statusCode"].as_u64().unwrap());
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
