//! Which body codec the outbox should use: compressed size and compression time of each candidate
//! on realistic webhooks (Stripe-, GitHub-, Shopify-like, compact and pretty, random ids and
//! amounts), at 1, 2, 8 and 32 KB. Prints a Markdown table; docs/COST.md quotes it.
//!
//!     cargo run --release -p bench --bin codecs

use std::io::Write as _;
use std::time::Instant;

use e2e::samples::{webhook, Layout, Provider};

const SIZES: [usize; 4] = [1024, 2048, 8192, 32768];
const SEEDS: u64 = 12;
const DICTIONARY: &[u8] = include_bytes!("../../../shared/dictionaries/webhook-json-v1.txt");

type Compress = Box<dyn FnMut(&[u8]) -> Vec<u8>>;

fn candidates() -> anyhow::Result<Vec<(&'static str, Compress)>> {
    let deflate = |level: u32| -> Compress {
        Box::new(move |body: &[u8]| {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
            // Writing into a Vec cannot fail.
            let _ = encoder.write_all(body);
            encoder.finish().unwrap_or_default()
        })
    };
    let zstd_plain = |level: i32| -> anyhow::Result<Compress> {
        let mut compressor = zstd::bulk::Compressor::new(level)?;
        Ok(Box::new(move |body: &[u8]| {
            compressor.compress(body).unwrap_or_default()
        }))
    };
    let zstd_dict = |level: i32| -> anyhow::Result<Compress> {
        let mut compressor = zstd::bulk::Compressor::with_dictionary(level, DICTIONARY)?;
        Ok(Box::new(move |body: &[u8]| {
            compressor.compress(body).unwrap_or_default()
        }))
    };
    Ok(vec![
        ("deflate-6", deflate(6)),
        ("deflate-9", deflate(9)),
        ("zstd-3", zstd_plain(3)?),
        ("zstd-19", zstd_plain(19)?),
        ("zstd-3 + dictionary", zstd_dict(3)?),
        ("zstd-9 + dictionary (zstd-d1, used)", zstd_dict(9)?),
        ("zstd-12 + dictionary", zstd_dict(12)?),
        ("zstd-15 + dictionary", zstd_dict(15)?),
        ("zstd-19 + dictionary", zstd_dict(19)?),
    ])
}

fn main() -> anyhow::Result<()> {
    let mut bodies = Vec::new();
    for size in SIZES {
        for provider in Provider::ALL {
            for layout in Layout::ALL {
                for seed in 0..SEEDS {
                    bodies.push((size, webhook(provider, layout, size, 1000 + seed)));
                }
            }
        }
    }
    println!("| codec | stored/raw at 1 KB | 2 KB | 8 KB | 32 KB | µs per 2 KB body | µs per 32 KB body |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, mut compress) in candidates()? {
        let mut ratios = Vec::new();
        let mut micros = Vec::new();
        for size in SIZES {
            let group: Vec<&Vec<u8>> = bodies
                .iter()
                .filter(|(s, _)| *s == size)
                .map(|(_, b)| b)
                .collect();
            let raw: usize = group.iter().map(|b| b.len()).sum();
            let stored: usize = group.iter().map(|b| compress(b).len()).sum();
            ratios.push(stored as f64 / raw as f64);
            let rounds = 20;
            let started = Instant::now();
            for _ in 0..rounds {
                for body in &group {
                    std::hint::black_box(compress(body));
                }
            }
            micros.push(started.elapsed().as_secs_f64() * 1e6 / (rounds * group.len()) as f64);
        }
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} |",
            ratios[0], ratios[1], ratios[2], ratios[3], micros[1], micros[3]
        );
    }
    println!(
        "\n{} bodies: {} providers x {} layouts x {SEEDS} seeds per size.",
        bodies.len(),
        Provider::ALL.len(),
        Layout::ALL.len()
    );
    Ok(())
}
