//! Fuzzes the reader of `SIGNATURE_SPEC` (scheme `custom`), which runs at cold start on text the
//! operator wrote: no panic, whatever the document, and every refusal names a field. A document it
//! accepts is made into a scheme that verifies a request without panicking.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shared::signature::{check_spec, parse_spec, SignatureScheme, SignedRequest};

fuzz_target!(|input: (String, Vec<u8>)| {
    let (text, body) = input;
    match check_spec(&text) {
        Err(err) => assert!(!err.field.is_empty(), "{err}"),
        Ok(()) => {
            // Accepted documents are kept for the process (a cold start reads one), so only those
            // are made into schemes.
            let scheme = SignatureScheme::Hmac(parse_spec(&text).expect("checked above"));
            let keys = scheme.parse_keys("fuzz-secret").expect("a text secret");
            let mut headers = HeaderMap::new();
            for name in scheme.signed_headers() {
                headers.insert(*name, HeaderValue::from_static("1700000000"));
            }
            let request = SignedRequest {
                method: "POST",
                url: "https://hooks.example.com/fuzz",
                headers: &headers,
                body: &body,
            };
            let _ = scheme.verify_request(&request, &keys, 1_700_000_000, 300);
        }
    }
});
