//! How an outbox row stores the webhook body: raw, or compressed when that lowers the write units
//! the row is billed (the outbox decides, with [`crate::cost`]).
//!
//! The one compressed codec, `zstd-d1`, is zstd with a built-in raw-content dictionary: curated
//! substrings of Stripe, GitHub, Shopify and other JSON webhooks, committed as readable text in
//! `shared/dictionaries/webhook-json-v1.txt`. A row names its codec, and rows outlive releases,
//! so that file is frozen: a better dictionary is a new file and a new codec id (`zstd-d2`), with
//! this one kept for reading old rows. A row without a codec holds the raw body (every row
//! written before compression existed).

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

/// The dictionary behind `zstd-d1`. Never edit: rows written with it must still decode.
const DICTIONARY_V1: &[u8] = include_bytes!("../dictionaries/webhook-json-v1.txt");

/// zstd level: on 1 to 32 KB JSON webhooks level 9 stores about 10 % less than level 3 and
/// within 1 % of level 19, at a fifth of level 19's time (the `codecs` benchmark, docs/COST.md).
const LEVEL: i32 = 9;

/// Largest body a stored frame may claim to hold: above the ingress's largest accepted body
/// (`MAX_BODY_BYTES_LIMIT`, 393216 bytes), so a corrupt frame cannot make a reader allocate without bound.
pub const MAX_DECODED_BYTES: usize = 1 << 20;

/// A stored body's encoding, named by the row's `codec` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// zstd with the `webhook-json-v1` dictionary.
    ZstdD1,
}

impl Codec {
    /// The `codec` attribute's value.
    pub fn id(self) -> &'static str {
        match self {
            Self::ZstdD1 => "zstd-d1",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        match id {
            "zstd-d1" => Some(Self::ZstdD1),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("unknown body codec {0:?}")]
    Unknown(String),
    #[error(
        "the stored body does not say its size, or claims more than {MAX_DECODED_BYTES} bytes"
    )]
    Size,
    #[error("the stored body does not decode: {0}")]
    Corrupt(#[source] std::io::Error),
}

/// One compressor for the process: loading the dictionary costs far more than compressing a small
/// body (about 0.5 ms of CPU against 11 µs for 2 KB), so it is paid once, at the cold start
/// ([`warm_up`]), not once per runtime thread on whichever webhook first lands there.
static COMPRESSOR: Mutex<Option<zstd::bulk::Compressor<'static>>> = Mutex::new(None);

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// `body` compressed with `codec`; `None` if the compressor could not be set up (the caller then
/// stores the body raw, which is always correct).
pub fn compress(codec: Codec, body: &[u8]) -> Option<Vec<u8>> {
    match codec {
        Codec::ZstdD1 => {
            let mut slot = COMPRESSOR.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY_V1).ok();
            }
            slot.as_mut()?.compress(body).ok()
        }
    }
}

/// Sets the compressor up and has it digest its dictionary (which it does at its first body), so
/// that the first webhook after a cold start does not pay for it.
pub fn warm_up() {
    let _ = compress(Codec::ZstdD1, b"{}");
}

/// The body a row stored: `stored` itself without a codec, else decoded.
pub fn decode(codec: Option<&str>, stored: &[u8]) -> Result<Vec<u8>, CodecError> {
    let Some(id) = codec else {
        return Ok(stored.to_vec());
    };
    match Codec::parse(id).ok_or_else(|| CodecError::Unknown(id.to_owned()))? {
        Codec::ZstdD1 => {
            let size = zstd::zstd_safe::get_frame_content_size(stored)
                .ok()
                .flatten()
                .and_then(|size| usize::try_from(size).ok())
                .filter(|size| *size <= MAX_DECODED_BYTES)
                .ok_or(CodecError::Size)?;
            DECOMPRESSOR.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.is_none() {
                    *slot = Some(
                        zstd::bulk::Decompressor::with_dictionary(DICTIONARY_V1)
                            .map_err(CodecError::Corrupt)?,
                    );
                }
                match slot.as_mut() {
                    Some(decompressor) => decompressor
                        .decompress(stored, size)
                        .map_err(CodecError::Corrupt),
                    None => Err(CodecError::Size),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_empty_bodies_round_trip() {
        for body in [Vec::new(), vec![0_u8; 5], (0..=255).collect::<Vec<u8>>()] {
            let stored = compress(Codec::ZstdD1, &body).expect("compresses");
            assert_eq!(decode(Some("zstd-d1"), &stored).expect("decodes"), body);
        }
    }

    #[test]
    fn a_row_without_codec_is_the_raw_body() {
        assert_eq!(decode(None, b"{\"a\":1}").expect("raw"), b"{\"a\":1}");
    }

    #[test]
    fn unknown_codecs_and_corrupt_frames_are_errors_not_panics() {
        assert!(matches!(
            decode(Some("lz9"), b"x"),
            Err(CodecError::Unknown(_))
        ));
        assert!(decode(Some("zstd-d1"), b"not a frame").is_err());
        let mut stored = compress(Codec::ZstdD1, b"{\"type\":\"payment_intent.succeeded\"}")
            .expect("compresses");
        let last = stored.len() - 1;
        stored[last] ^= 0xFF;
        stored.truncate(last - 1);
        assert!(decode(Some("zstd-d1"), &stored).is_err());
    }

    #[test]
    fn the_frozen_dictionary_has_not_changed() {
        // Rows written with zstd-d1 decode only with these exact bytes: a new dictionary is a new codec.
        assert_eq!(
            crate::event::sha256_hex(DICTIONARY_V1),
            "96d876d0e6a3b4c62b675ad4a922b777c34f1ae0db7f267720d247398a4448fe"
        );
    }
}
