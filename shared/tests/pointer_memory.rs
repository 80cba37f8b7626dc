//! Reading the event id and type from a large JSON body must not cost a multiple of the body in
//! memory (a `serde_json::Value` tree of `[0,0,...]` takes about 16 times the text): a counting
//! allocator measures the peak of what the lookups allocate. One test in this binary, so no other
//! test's allocations count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use http::HeaderMap;
use shared::config::EventIdRule;
use shared::event::{event_id, event_type, LazyJson};
use shared::signature::SignatureScheme;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SIZE: usize = 6 * 1024 * 1024;

/// `[0,0,...,0]` of exactly `SIZE` bytes.
fn zeros() -> Vec<u8> {
    let mut body = Vec::with_capacity(SIZE);
    body.push(b'[');
    while body.len() < SIZE - 2 {
        body.extend_from_slice(b"0,");
    }
    body.truncate(SIZE - 2);
    body.extend_from_slice(b"0]");
    body
}

/// A catalogue export with the id and type after 6 MiB of items.
fn nested() -> Vec<u8> {
    let mut body = br#"{"data":{"items":["#.to_vec();
    let mut n = 0;
    while body.len() < SIZE - 200 {
        body.extend_from_slice(
            format!(r#"{{"id":"item-{n:07}","name":"Widget \u00e9 {n}","price":{{"amount":{n},"currency":"EUR"}},"tags":["a","b"]}},"#)
                .as_bytes(),
        );
        n += 1;
    }
    body.pop();
    body.extend_from_slice(br#"]},"type":"catalog.exported","id":"evt_123456789012345678901"}"#);
    body
}

/// The peak of what the lookups allocate at once, above what was live before them.
fn peak_of_lookups(scheme: &SignatureScheme, body: &[u8]) -> (usize, Option<String>) {
    let rule = EventIdRule {
        pointer: Some("/id".into()),
        type_pointer: Some("/type".into()),
        ..Default::default()
    };
    let headers = HeaderMap::new();
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let json = LazyJson::default();
    let id = event_id(scheme, &rule, &headers, body, &json);
    let kind = event_type(scheme, &rule, &headers, body, &json);
    let peak = PEAK.load(Ordering::SeqCst) - before;
    drop(id);
    (peak, kind)
}

#[test]
fn pointer_lookups_in_a_6_mib_body_allocate_a_small_fraction_of_it() {
    for (name, body, kind) in [
        ("[0,0,...]", zeros(), None),
        ("nested", nested(), Some("catalog.exported".to_owned())),
    ] {
        for scheme in [SignatureScheme::Stripe, SignatureScheme::StandardWebhooks] {
            let (peak, found) = peak_of_lookups(&scheme, &body);
            assert_eq!(found, kind, "{name}");
            assert!(
                peak < 64 * 1024,
                "{name}, {}: the lookups allocated {peak} bytes at their peak for a {} byte body",
                scheme.name(),
                body.len()
            );
        }
    }
}
