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
        let answer = runtime.next_answer(Duration::from_secs(120)).await;
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

/// Odd Function URL events: each one gets an answer (a response, or an invocation error that the
/// Function URL turns into a 502 and the provider retries), never a 2xx for anything unsigned, the
/// runtime loop keeps serving afterwards, and no body reaches the log. A base64 flag on a body that
/// is not base64 makes `lambda_http` panic before the ingress runs; the runtime catches the panic
/// and reports an invocation error.
#[tokio::test]
async fn odd_function_url_events_are_answered_and_the_runtime_keeps_serving() {
    let stack = Stack::new().await;
    let runtime = RuntimeApi::start().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let body: &[u8] = br#"{"type":"odd.checked","note":"ODD-BODY-5d2a"}"#;
    let post = |headers: &http::HeaderMap, body: &[u8]| {
        function_url_event(headers, "application/json", body, false)
    };
    let mut without_headers: serde_json::Value =
        serde_json::from_str(&post(&http::HeaderMap::new(), body)).unwrap();
    without_headers.as_object_mut().unwrap().remove("headers");
    let mut without_body: serde_json::Value =
        serde_json::from_str(&post(&signed(&scheme, "msg_odd_nobody", b""), b"")).unwrap();
    without_body.as_object_mut().unwrap().remove("body");
    let mut bad_base64: serde_json::Value =
        serde_json::from_str(&post(&signed(&scheme, "msg_odd_b64", body), body)).unwrap();
    bad_base64["isBase64Encoded"] = true.into();
    bad_base64["body"] = "!!! not base64 ODD-BODY-5d2a ***".into();
    let mut with_path: serde_json::Value =
        serde_json::from_str(&post(&signed(&scheme, "msg_odd_path", body), body)).unwrap();
    with_path["rawPath"] = "/hooks/../admin/%2e%2e".into();
    with_path["requestContext"]["http"]["path"] = "/hooks/../admin/%2e%2e".into();
    with_path["rawQueryString"] = "debug=1&x=%00%ff&x=2".into();

    let events = [
        ("odd-empty-object", "{}".to_owned()),
        ("odd-not-json", "not json at all".to_owned()),
        ("odd-no-headers", without_headers.to_string()),
        ("odd-no-body", without_body.to_string()),
        ("odd-bad-base64", bad_base64.to_string()),
        ("odd-path-query", with_path.to_string()),
        ("after", post(&signed(&scheme, "msg_odd_after", body), body)),
    ];
    for (id, event) in &events {
        runtime.invoke(id, event.clone());
    }
    let log = std::env::temp_dir().join(format!("ingress-odd-{}.log", std::process::id()));
    let mut child = binary_command(&stack, &[])
        .envs(runtime.lambda_env("ingress"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap();

    let mut answers = std::collections::HashMap::new();
    for _ in 0..events.len() {
        let answer = runtime.next_answer(Duration::from_secs(120)).await;
        let status = match answer.kind.as_str() {
            "response" => serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()
                ["statusCode"]
                .as_u64()
                .unwrap(),
            // An invocation error: the Function URL answers 502.
            "error" => 502,
            other => panic!("unexpected runtime call {other}: {answer:?}"),
        };
        answers.insert(answer.request_id, status);
    }
    let _ = child.kill();
    let _ = child.wait();

    let expected = [
        ("odd-empty-object", 502),
        ("odd-not-json", 502),
        ("odd-no-headers", 404),
        ("odd-no-body", 200),
        ("odd-bad-base64", 502),
        ("odd-path-query", 200),
        ("after", 200),
    ];
    for (id, status) in expected {
        assert_eq!(answers.get(id), Some(&status), "{id}: {answers:?}");
    }
    let mut queued: Vec<String> = stack
        .drain(&stack.queue_url)
        .await
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    queued.sort();
    assert_eq!(queued, ["msg_odd_after", "msg_odd_nobody", "msg_odd_path"]);
    let output = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(log.with_extension("stderr")).unwrap();
    assert!(
        !output.contains("ODD-BODY-5d2a"),
        "a body reached the log: {output}"
    );
}

/// A response budget the function's timeout cannot hold is refused at the first invocation (the
/// runtime exposes the timeout only as that invocation's deadline): an invocation error, which the
/// Function URL answers 502 so the provider retries, and nothing written; so is every later one.
#[tokio::test]
async fn a_budget_longer_than_the_function_timeout_is_refused_at_the_first_invocation() {
    let stack = Stack::new().await;
    let runtime = RuntimeApi::start().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let body: &[u8] = br#"{"type":"budget.checked"}"#;
    // A 10 s function timeout: the first invocation has at most 10 s left.
    for id in ["first", "second"] {
        let event = function_url_event(
            &signed(&scheme, &format!("msg_budget_{id}"), body),
            "application/json",
            body,
            false,
        );
        runtime.invoke_with_timeout(id, event, Duration::from_secs(10));
    }
    let log = std::env::temp_dir().join(format!("ingress-budget-{}.log", std::process::id()));
    let mut child = binary_command(&stack, &[("RESPONSE_BUDGET_MS", "60000")])
        .envs(runtime.lambda_env("ingress"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let first = runtime.next_answer(Duration::from_secs(120)).await;
    let second = runtime.next_answer(Duration::from_secs(120)).await;
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(first.kind, "error", "{first:?}");
    assert_eq!(second.kind, "error", "{second:?}");
    assert_eq!(stack.row_count().await, 0);
    assert!(stack.drain(&stack.queue_url).await.is_empty());
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("RESPONSE_BUDGET_MS"),
        "the refusal names the variable: {output}"
    );
}

/// A budget the timeout holds is served as usual.
#[tokio::test]
async fn a_budget_within_the_function_timeout_is_served() {
    let stack = Stack::new().await;
    let runtime = RuntimeApi::start().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let body: &[u8] = br#"{"type":"budget.checked"}"#;
    let event = function_url_event(
        &signed(&scheme, "msg_budget_fits", body),
        "application/json",
        body,
        false,
    );
    runtime.invoke_with_timeout("fits", event, Duration::from_secs(10));
    let mut child = binary_command(&stack, &[("RESPONSE_BUDGET_MS", "10000")])
        .envs(runtime.lambda_env("ingress"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let answer = runtime.next_answer(Duration::from_secs(120)).await;
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(answer.kind, "response", "{answer:?}");
    let response: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(response["statusCode"], 200);
}

/// Under the Lambda runtime every log line of an invocation carries the fields Powertools users
/// query (`service`, `level`, `function_request_id`, `cold_start`, `xray_trace_id`), the level
/// follows Lambda's application log level when RUST_LOG is unset, and the environment's start is
/// counted once as the EMF metric `ColdStart`.
#[tokio::test]
async fn log_lines_carry_powertools_fields_and_one_cold_start_is_counted() {
    let stack = Stack::new().await;
    let scheme = SignatureScheme::StandardWebhooks;
    let body: &[u8] = br#"{"type":"product.reviewed"}"#;
    let run = |level: &'static str| {
        let stack = &stack;
        let scheme = &scheme;
        async move {
            let runtime = RuntimeApi::start().await;
            for (id, message) in [("req-cold", "msg_pt_cold"), ("req-warm", "msg_pt_warm")] {
                let headers = signed(scheme, &format!("{message}_{level}"), body);
                runtime.invoke(
                    id,
                    function_url_event(&headers, "application/json", body, false),
                );
            }
            let log = std::env::temp_dir().join(e2e::testing::unique("ingress-powertools"));
            let mut child = binary_command(stack, &[("AWS_LAMBDA_LOG_LEVEL", level)])
                .envs(runtime.lambda_env("webhook-ingress"))
                // The test stack's environment sets RUST_LOG, which would win.
                .env_remove("RUST_LOG")
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            for _ in 0..2 {
                let answer = runtime.next_answer(Duration::from_secs(120)).await;
                assert_eq!(answer.kind, "response", "{answer:?}");
            }
            let _ = child.kill();
            let _ = child.wait();
            std::fs::read_to_string(&log)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .collect::<Vec<_>>()
        }
    };

    let lines = run("INFO").await;
    let handled: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "webhook handled")
        .collect();
    assert_eq!(handled.len(), 2, "{lines:?}");
    let (cold, warm) = (handled[0], handled[1]);
    assert_eq!(cold["function_request_id"], "req-cold");
    assert_eq!(cold["cold_start"], true);
    assert_eq!(cold["service"], "webhook-ingress");
    assert_eq!(cold["level"], "INFO");
    assert_eq!(cold["xray_trace_id"], "1-5eb33c07-de25b420912dee103a5db434");
    assert_eq!(warm["function_request_id"], "req-warm");
    assert_eq!(warm["cold_start"], false);
    let cold_starts: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line.get("ColdStart").is_some())
        .collect();
    assert_eq!(cold_starts.len(), 1, "one per execution environment");
    assert_eq!(cold_starts[0]["ColdStart"], 1.0);
    assert_eq!(cold_starts[0]["Source"], "market");
    assert_eq!(cold_starts[0]["function_name"], "webhook-ingress");
    assert!(cold_starts[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .to_string()
        .contains("\"ColdStart\""));

    // Lambda's log level WARN: the per-request info lines are not written.
    let lines = run("WARN").await;
    assert!(
        lines
            .iter()
            .all(|line| line["message"] != "webhook handled"),
        "{lines:?}"
    );
}
