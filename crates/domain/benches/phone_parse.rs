//! What parsing a phone number costs: `ParsedPhone::parse` (stored numbers, with the national form) and
//! `LookupKey::parse` (caller lookup, without it), on 2,000 varied numbers like those `generate-contacts`
//! writes (US area codes, UK, Germany, France), one thread and two. Every contact write and every caller
//! lookup pays this once per number; the regex-cache patch (vendor/regex-cache/PATCHED.md) is measured here.
//!
//! `cargo bench -p switchboard-domain --bench phone_parse`

use std::hint::black_box;
use switchboard_domain::{LookupKey, ParsedPhone, PhonePolicy};

fn main() {
    divan::main();
}

/// 2,000 numbers in E.164, national and written forms, from a fixed xorshift sequence.
fn numbers() -> Vec<String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let areas = ["415", "212", "305", "646", "718", "312", "617", "206", "512", "303", "404", "702"];
    (0..2_000)
        .map(|_| {
            let r = next();
            match r % 10 {
                0 => format!("+44 20 {:04} {:04}", 7000 + r % 3000, (r >> 8) % 10_000),
                1 => format!("+49 151 {:08}", (r >> 4) % 100_000_000),
                2 => format!("+33 1 42 {:02} {:02} {:02}", r % 100, (r >> 8) % 100, (r >> 16) % 100),
                3 => format!("({}) {}-{:04}", areas[(r % 12) as usize], 200 + (r >> 8) % 800, (r >> 20) % 10_000),
                _ => format!("+1{}{}{:04}", areas[(r % 12) as usize], 200 + (r >> 8) % 800, (r >> 20) % 10_000),
            }
        })
        .collect()
}

/// Parses all 2,000 numbers as stored numbers are (national form included).
#[divan::bench(threads = [1, 2], sample_count = 20)]
fn parse_2000_stored(bencher: divan::Bencher) {
    let numbers = numbers();
    let policy = PhonePolicy::default();
    bencher.bench(|| {
        for n in &numbers {
            let _ = black_box(ParsedPhone::parse("phone", black_box(n), &policy));
        }
    });
}

/// Builds the lookup key of all 2,000 numbers (what `GET /api/v1/lookup` parses).
#[divan::bench(threads = [1, 2], sample_count = 20)]
fn lookup_key_2000(bencher: divan::Bencher) {
    let numbers = numbers();
    let policy = PhonePolicy::default();
    bencher.bench(|| {
        for n in &numbers {
            let _ = black_box(LookupKey::parse("phone", black_box(n), &policy, 7));
        }
    });
}
