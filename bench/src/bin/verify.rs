//! Verify cost per signature scheme against its raw primitive over the same bytes, at 1 KB and
//! 64 KB (goal: at most 1.3x): HMAC schemes beside a raw HMAC-SHA256, the Ed25519 ones (Discord,
//! Standard Webhooks `v1a`) beside a raw Ed25519 verification, SendGrid beside a raw ECDSA P-256
//! verification. `scripts/bench.py` reads criterion's estimates for its table.
//! Both sides are timed the same way, in the benchmark thread's own CPU time rather than wall
//! time: on a machine shared with other builds, time spent preempted would otherwise land on
//! whichever side happened to run while the machine was busy and skew the ratio.
//! A binary rather than a `cargo bench` target, so it reuses the release build's dependencies
//! instead of building the SDK again under the bench profile:
//!
//!     cargo build --release -p bench --bin verify && target/release/verify --bench

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use e2e::samples::{webhook, Layout, Provider};
use e2e::testing::secret_for;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use shared::signature::{
    mailgun_signed_body, parse_spec, sign_discord, sign_sendgrid, sign_standard_webhooks_v1a,
    GenericHmac, SignatureEncoding, SignatureScheme, SignedRequest, SigningKey, TokenHeader,
    SCHEME_NAMES,
};

const SIZES: [(usize, &str); 2] = [(1024, "1KB"), (65536, "64KB")];
const NOW: i64 = 1_764_400_000;

/// One instance of every scheme: each `SCHEME_NAMES` value, with the settings the three
/// configurable ones need, so a name added to the list is benchmarked without an edit here.
fn every_scheme() -> Vec<SignatureScheme> {
    SCHEME_NAMES
        .iter()
        .map(|name| match *name {
            "hmac-sha256" => SignatureScheme::HmacSha256(GenericHmac {
                header: HeaderName::from_static("x-hub-signature-256"),
                encoding: SignatureEncoding::Hex,
                prefix: "sha256=".to_owned(),
            }),
            "token" => SignatureScheme::Token(TokenHeader {
                header: HeaderName::from_static("authorization"),
                prefix: "Bearer ".to_owned(),
            }),
            // Mux's rule (docs/custom-schemes.md): a keyed header and a signed time.
            "custom" => SignatureScheme::Hmac(
                parse_spec(
                    r#"{"algorithm": "sha256", "encoding": "hex", "header": "Mux-Signature",
                        "format": {"style": "keyed", "separator": ",", "timestamp_key": "t", "signature_key": "v1"},
                        "signed": ["timestamp", {"literal": "."}, "body"],
                        "timestamp": {"from_signature": true}}"#,
                )
                .expect("the benchmark's spec is valid"),
            ),
            other => SignatureScheme::named(other)
                .unwrap_or_else(|| panic!("`{other}` is a SIGNATURE_SCHEME value")),
        })
        .collect()
}

/// The private keys the asymmetric schemes are signed with: their public keys are the ones
/// `secret_for` gives (private key 01..01).
fn ed25519_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[1; 32])
}

fn p256_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[1; 32]).expect("a valid P-256 scalar")
}

/// The URL the URL-signing schemes sign (`PUBLIC_URL`).
const PUBLIC_URL: &str = "https://hooks.example.com/bench";

/// The headers `scheme` sends with the JSON `body` to [`PUBLIC_URL`]: signed with the private key
/// for asymmetric schemes. The id is a UUID, which every provider's id may be (Twitch's must).
fn signed_headers(scheme: &SignatureScheme, key: &SigningKey, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let signed = match scheme.name() {
        "discord" => sign_discord(&ed25519_key(), NOW, body),
        "sendgrid" => sign_sendgrid(&p256_key(), NOW, body),
        _ => scheme.sign_request(
            key,
            "5f2c9b1e-8d3a-4e6f-9a7b-1c2d3e4f5a6b",
            NOW,
            &request(&headers, body),
        ),
    };
    for (name, value) in signed {
        headers.insert(name, value.parse().expect("a valid header value"));
    }
    headers
}

/// A POST of `body` with `headers` to [`PUBLIC_URL`].
fn request<'r>(headers: &'r HeaderMap, body: &'r [u8]) -> SignedRequest<'r> {
    SignedRequest {
        method: "POST",
        url: PUBLIC_URL,
        headers,
        body,
    }
}

/// The benchmark body as `scheme` needs it: Linear has the signed time inside the body, Mailgun
/// the whole signature (the sample becomes its `event-data`).
fn body_for(scheme: &SignatureScheme, key: &SigningKey, body: &[u8]) -> Vec<u8> {
    match scheme.name() {
        "linear" => {
            let stamp = format!("{{\"webhookTimestamp\":{},", NOW * 1000);
            [stamp.as_bytes(), &body[1..]].concat()
        }
        "mailgun" => {
            let event_data = String::from_utf8_lossy(body);
            mailgun_signed_body(
                key,
                NOW,
                "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
                &event_data,
            )
            .into_bytes()
        }
        _ => body.to_vec(),
    }
}

/// CPU time this thread has used so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; the clock exists on every Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "CLOCK_THREAD_CPUTIME_ID is readable");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// `iters` runs of `routine`, timed in this thread's CPU time.
fn cpu_time_of<R>(iters: u64, mut routine: impl FnMut() -> R) -> Duration {
    let started = thread_cpu_time();
    for _ in 0..iters {
        black_box(routine());
    }
    thread_cpu_time() - started
}

fn verify(c: &mut Criterion) {
    for (size, label) in SIZES {
        let body = webhook(Provider::Shopify, Layout::Compact, size, 1);
        let mut group = c.benchmark_group(format!("verify-{label}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        let raw_key = [7_u8; 32];
        group.bench_function("raw-hmac-sha256", |b| {
            b.iter_custom(|iters| {
                cpu_time_of(iters, || {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&raw_key)
                        .expect("any key length");
                    mac.update(black_box(&body));
                    mac.finalize().into_bytes()
                })
            });
        });
        for scheme in every_scheme() {
            let keys = scheme
                .parse_keys(&secret_for(&scheme))
                .expect("the test secret parses");
            // Asymmetric schemes hold only public keys; they are signed with `ed25519_key` or
            // `p256_key` instead.
            let key = keys
                .first()
                .cloned()
                .unwrap_or_else(|| SigningKey::from_bytes(Vec::new()));
            let key = &key;
            let body = body_for(&scheme, key, &body);
            let headers = signed_headers(&scheme, key, &body);
            scheme
                .verify_request(&request(&headers, &body), &keys, NOW, 300)
                .expect("the benchmark signs correctly");
            group.bench_with_input(
                BenchmarkId::from_parameter(scheme.name()),
                &body,
                |b, body| {
                    b.iter_custom(|iters| {
                        cpu_time_of(iters, || {
                            scheme.verify_request(
                                &request(black_box(&headers), black_box(body)),
                                &keys,
                                NOW,
                                300,
                            )
                        })
                    });
                },
            );
        }
        // Standard Webhooks `v1a`: the same scheme with a `whpk_` public key.
        let v1a = SignatureScheme::StandardWebhooks;
        let keys = v1a
            .parse_keys("whpk_iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=")
            .expect("the v1a test key parses");
        let headers: HeaderMap =
            sign_standard_webhooks_v1a(&ed25519_key(), "msg_bench", NOW, &body)
                .into_iter()
                .map(|(name, value)| (name, value.parse().expect("a valid header value")))
                .collect();
        v1a.verify(&headers, &body, &keys, NOW, 300)
            .expect("the benchmark signs v1a correctly");
        group.bench_with_input(
            BenchmarkId::from_parameter("standard-webhooks-v1a"),
            &body,
            |b, body| {
                b.iter_custom(|iters| {
                    cpu_time_of(iters, || {
                        v1a.verify(black_box(&headers), black_box(body), &keys, NOW, 300)
                    })
                });
            },
        );
        let ed_key = ed25519_key();
        let ed_public = ed_key.verifying_key();
        let ed_signature = {
            use ed25519_dalek::Signer as _;
            ed_key.sign(&body)
        };
        group.bench_function("raw-ed25519", |b| {
            b.iter_custom(|iters| {
                cpu_time_of(iters, || {
                    ed_public.verify_strict(black_box(&body), black_box(&ed_signature))
                })
            });
        });
        let ec_key = p256_key();
        let ec_public = *ec_key.verifying_key();
        let ec_signature: p256::ecdsa::Signature = {
            use p256::ecdsa::signature::Signer as _;
            ec_key.sign(&body)
        };
        group.bench_function("raw-ecdsa-p256", |b| {
            use p256::ecdsa::signature::Verifier as _;
            b.iter_custom(|iters| {
                cpu_time_of(iters, || {
                    ec_public.verify(black_box(&body), black_box(&ec_signature))
                })
            });
        });
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
