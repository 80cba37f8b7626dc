//! Verify cost per signature scheme against a raw HMAC-SHA256 over the same bytes, at 1 KB and
//! 64 KB (goal: at most 1.3x). `scripts/bench.py` reads criterion's estimates for its table.
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
use shared::signature::{GenericHmac, SignatureEncoding, SignatureScheme, SCHEME_NAMES};

const SIZES: [(usize, &str); 2] = [(1024, "1KB"), (65536, "64KB")];
const NOW: i64 = 1_764_400_000;

/// One instance of every scheme. The match below has no wildcard, so a variant added to
/// `SignatureScheme` does not compile here until it is benchmarked too, and a name added to
/// `SCHEME_NAMES` stops the benchmark with a message.
fn every_scheme() -> Vec<SignatureScheme> {
    let schemes = vec![
        SignatureScheme::StandardWebhooks,
        SignatureScheme::HmacSha256(GenericHmac {
            header: HeaderName::from_static("x-hub-signature-256"),
            encoding: SignatureEncoding::Hex,
            prefix: "sha256=".to_owned(),
        }),
        SignatureScheme::Stripe,
        SignatureScheme::GitHub,
        SignatureScheme::Shopify,
        SignatureScheme::Slack,
    ];
    for scheme in &schemes {
        match scheme {
            SignatureScheme::StandardWebhooks
            | SignatureScheme::HmacSha256(_)
            | SignatureScheme::Stripe
            | SignatureScheme::GitHub
            | SignatureScheme::Shopify
            | SignatureScheme::Slack => {}
        }
    }
    let names: Vec<&str> = schemes.iter().map(SignatureScheme::name).collect();
    assert_eq!(
        names, SCHEME_NAMES,
        "every SIGNATURE_SCHEME value is benchmarked"
    );
    schemes
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
            let key = keys.first().expect("one key");
            let mut headers = HeaderMap::new();
            for (name, value) in scheme.sign(key, "msg_bench", NOW, &body) {
                headers.insert(name, value.parse().expect("a valid header value"));
            }
            scheme
                .verify(&headers, &body, &keys, NOW, 300)
                .expect("the benchmark signs correctly");
            group.bench_with_input(
                BenchmarkId::from_parameter(scheme.name()),
                &body,
                |b, body| {
                    b.iter_custom(|iters| {
                        cpu_time_of(iters, || {
                            scheme.verify(black_box(&headers), black_box(body), &keys, NOW, 300)
                        })
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
