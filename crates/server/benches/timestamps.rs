//! Serialising contact timestamps: chrono's own `Serialize` against `http::timestamps::rfc3339` (the same
//! text, written into a `String` first), for 1,000 items with two timestamps each, like a delta page.
//!
//! `cargo bench -p switchboard-server --bench timestamps`

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::hint::black_box;

fn main() {
    divan::main();
}

#[derive(Serialize)]
struct ChronoItem {
    id: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct OurItem {
    id: u64,
    #[serde(serialize_with = "switchboard_server::http::timestamps::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "switchboard_server::http::timestamps::rfc3339")]
    updated_at: DateTime<Utc>,
}

#[divan::bench(sample_count = 200)]
fn chrono_serialize_1000(bencher: divan::Bencher) {
    let now = Utc::now();
    let items: Vec<ChronoItem> = (0..1000).map(|id| ChronoItem { id, created_at: now, updated_at: now }).collect();
    bencher.bench(|| serde_json::to_vec(black_box(&items)).unwrap());
}

#[divan::bench(sample_count = 200)]
fn rfc3339_string_1000(bencher: divan::Bencher) {
    let now = Utc::now();
    let items: Vec<OurItem> = (0..1000).map(|id| OurItem { id, created_at: now, updated_at: now }).collect();
    bencher.bench(|| serde_json::to_vec(black_box(&items)).unwrap());
}
