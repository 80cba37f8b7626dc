//! A hostile-request corpus through the built binary's HTTP server: each request is answered per
//! the contract (404 unless authentic, 200 for an authentic event however odd its body), within the
//! response budget, the process never panics, and no body or secret reaches the log.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use shared::signature::SignatureScheme;
use shared::time::now_millis;

use crate::binary::{start_http_with, RunningIngress};
use crate::support::{secret_for, Stack};

/// Marks every hostile body, so the log can be searched for it.
const MARKER: &str = "HOSTILE-BODY-7c1e";

/// Sends a raw HTTP/1.1 request (head bytes as given, then the body) and returns the status.
fn raw_exchange(address: SocketAddr, head: &[u8], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    // A guard against a hang only: a loaded machine may take seconds to answer.
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    // The server may answer and close before reading everything (431, 413).
    let _ = stream.write_all(head);
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}

/// A POST with `headers` (raw bytes: names and values may be anything) and `body`.
fn post_raw(address: SocketAddr, headers: &[(Vec<u8>, Vec<u8>)], body: &[u8]) -> u16 {
    let mut head = format!(
        "POST /hook?x=1 HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    raw_exchange(address, &head, body)
}

/// The Standard Webhooks headers of `body`, signed now with the test secret.
fn signed(id: &str, body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let scheme = SignatureScheme::StandardWebhooks;
    let keys = scheme.parse_keys(&secret_for(&scheme)).unwrap();
    scheme
        .sign(keys.first().unwrap(), id, now_millis() / 1000, body)
        .into_iter()
        .map(|(name, value)| (name.as_str().as_bytes().to_vec(), value.into_bytes()))
        .collect()
}

struct Case {
    name: &'static str,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    /// The statuses the contract allows for it.
    expected: &'static [u16],
}

fn corpus() -> Vec<Case> {
    let json_body = format!(r#"{{"type":"t","note":"{MARKER}"}}"#).into_bytes();
    let valid = signed("msg_hostile_ok", &json_body);
    let signature_of = |headers: &[(Vec<u8>, Vec<u8>)]| {
        headers
            .iter()
            .find(|(name, _)| name == b"webhook-signature")
            .map(|(_, value)| String::from_utf8(value.clone()).unwrap())
            .unwrap()
    };
    let with_signature = |value: Vec<u8>| {
        let mut headers = valid.clone();
        for (name, current) in &mut headers {
            if name == b"webhook-signature" {
                *current = value.clone();
            }
        }
        headers
    };
    let many_signatures = {
        let forged = (0..500)
            .map(|n| {
                format!(
                    "v1,{}",
                    base64::engine::general_purpose::STANDARD.encode([n as u8; 32])
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        format!("{forged} {}", signature_of(&valid)).into_bytes()
    };
    let ten_thousand_headers: Vec<(Vec<u8>, Vec<u8>)> = (0..10_000)
        .map(|n| (format!("x-h{n}").into_bytes(), b"v".to_vec()))
        .chain(valid.clone())
        .collect();
    let deep_json = format!("{}{MARKER}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let non_utf8_body = [b"\xff\xfe\x00".as_slice(), MARKER.as_bytes(), b"\xc3\x28"].concat();
    let mut non_utf8_header = valid.clone();
    non_utf8_header.push((b"x-note".to_vec(), b"caf\xe9 \xff\xfe".to_vec()));
    let mut non_utf8_id = signed("msg_x", &json_body);
    for (name, value) in &mut non_utf8_id {
        if name == b"webhook-id" {
            *value = b"msg_\xff\xfe".to_vec();
        }
    }

    vec![
        Case {
            name: "authentic control",
            headers: valid.clone(),
            body: json_body.clone(),
            expected: &[200],
        },
        Case {
            name: "unsigned",
            headers: vec![],
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "10,000 headers",
            headers: ten_thousand_headers,
            body: json_body.clone(),
            // The HTTP layer refuses a head with more than 100 headers before the ingress runs.
            expected: &[431],
        },
        Case {
            name: "64 KiB signature header",
            headers: with_signature(format!("v1,{}", "A".repeat(64 * 1024)).into_bytes()),
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "64 KiB unrelated header",
            headers: [
                valid.clone(),
                vec![(b"x-padding".to_vec(), vec![b'p'; 64 * 1024])],
            ]
            .concat(),
            body: json_body.clone(),
            expected: &[200],
        },
        Case {
            name: "500 signatures in one header",
            headers: with_signature(many_signatures),
            body: json_body.clone(),
            // Longer than any provider sends: malformed, never parsed entry by entry.
            expected: &[404],
        },
        Case {
            name: "invalid base64 signature",
            headers: with_signature(b"v1,@@@not*base64@@@ v1,====".to_vec()),
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "invalid timestamp",
            headers: valid
                .iter()
                .map(|(n, v)| {
                    if n == b"webhook-timestamp" {
                        (n.clone(), b"0x65ab".to_vec())
                    } else {
                        (n.clone(), v.clone())
                    }
                })
                .collect(),
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "non-UTF-8 signature header",
            headers: with_signature(b"v1,\xff\xfe\xfd".to_vec()),
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "non-UTF-8 other header",
            headers: non_utf8_header,
            body: json_body.clone(),
            expected: &[200],
        },
        Case {
            name: "non-UTF-8 id header",
            headers: non_utf8_id,
            body: json_body.clone(),
            expected: &[404],
        },
        Case {
            name: "non-UTF-8 body, unsigned",
            headers: vec![],
            body: non_utf8_body.clone(),
            expected: &[404],
        },
        Case {
            name: "non-UTF-8 body, signed",
            headers: signed("msg_hostile_bin", &non_utf8_body),
            body: non_utf8_body,
            expected: &[200],
        },
        Case {
            name: "10,000-deep JSON, signed",
            headers: signed("msg_hostile_deep", &deep_json),
            body: deep_json,
            expected: &[200],
        },
        Case {
            name: "empty body, unsigned",
            headers: vec![],
            body: vec![],
            expected: &[404],
        },
        Case {
            name: "empty body, signed",
            headers: signed("msg_hostile_empty", b""),
            body: vec![],
            expected: &[200],
        },
        Case {
            name: "hex where base64 belongs",
            headers: with_signature(format!("v1,{}", "ab".repeat(32)).into_bytes()),
            body: json_body,
            expected: &[404],
        },
    ]
}

#[tokio::test]
async fn hostile_requests_are_answered_per_contract_without_panic_or_leak() {
    let stack = Stack::new().await;
    let ingress: RunningIngress = start_http_with(&stack, &[("EVENT_ID_POINTER", "/id")]);

    for case in corpus() {
        let status = post_raw(ingress.address, &case.headers, &case.body);
        assert!(
            case.expected.contains(&status),
            "{}: {status}, expected {:?}",
            case.name,
            case.expected
        );
    }
    // Still serving: nothing above took the process down.
    let mut child = ingress;
    assert!(
        child.child.try_wait().unwrap().is_none(),
        "the ingress exited"
    );
    let status = post_raw(child.address, &[], b"{}");
    assert_eq!(status, 404);

    let log = child.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains(MARKER), "a body reached the log");
    assert!(
        !log.contains(&secret_for(&SignatureScheme::StandardWebhooks)),
        "the secret reached the log"
    );
    let messages = stack.drain(&stack.queue_url).await;
    let empty = messages
        .iter()
        .find(|m| m.attribute("event-id") == Some("msg_hostile_empty"))
        .expect("the empty body is queued");
    // SQS refuses an empty message: a flagged placeholder it accepts stands for no bytes.
    assert_eq!(empty.attribute("body-encoding"), Some("empty"));
    assert!(!empty.body.is_empty());
    assert_eq!(empty.raw_body(), b"");
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| m.attribute("event-id").unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["msg_hostile_bin", "msg_hostile_deep", "msg_hostile_empty", "msg_hostile_ok"],
        "exactly the authentic events are queued (the 64 KiB and non-UTF-8 header ones are duplicates of msg_hostile_ok)"
    );
}
