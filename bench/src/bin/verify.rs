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
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use shared::samples::{webhook, Layout, Provider};
use shared::signature::{
    GenericHmac, SignatureEncoding, SignatureScheme, TokenHeader, SCHEME_NAMES,
};
use shared::testing::secret_for;

const SIZES: [(usize, &str); 2] = [(1024, "1KB"), (65536, "64KB")];
const NOW: i64 = 1_764_400_000;

/// One instance of every scheme: each `SCHEME_NAMES` value, with the settings the two
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
            other => SignatureScheme::named(other)
                .unwrap_or_else(|| panic!("`{other}` is a SIGNATURE_SCHEME value")),
        })
        .collect()
}

/// The benchmark body as `scheme` needs it: Linear signs the time inside the body.
fn body_for(scheme: &SignatureScheme, body: &[u8]) -> Vec<u8> {
    if scheme.name() == "linear" {
        let stamp = format!("{{\"webhookTimestamp\":{},", NOW * 1000);
        [stamp.as_bytes(), &body[1..]].concat()
    } else {
        body.to_vec()
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
            let body = body_for(&scheme, &body);
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
