//! `loadgen lookup`: caller lookups over HTTP, closed loop on N keep-alive connections, as a PBX asks for
//! every incoming call: `GET /api/v1/lookup?phone=…` with an API key (`contacts:read`), and optionally the
//! PBX caller-name answer `GET /d/{token}/cnam?number=…` with a directory token.
//!
//! The numbers come from the workspace itself: before the run it reads delta pages at random cursors
//! (`GET /api/v1/sync/delta?version=<random>&limit=100`) until it holds `--sample` numbers spread over
//! the whole workspace. Each request then asks for a sampled number written as E.164 (`+14155550100`,
//! 80 % of hits), as its national number (`4155550100`, 10 %, when it starts with 2-9) or as its last seven digits (`5550100`,
//! 10 %), or, with probability `--miss-ratio`, for a number that is not in the sample (an Alaskan `+1 907`
//! number: the generator writes none; its last seven digits may still end another number, which is then a
//! trailing match, as the lookup rules say). Lookup answers carry `"best":null` when nothing matched;
//! CNAM answers are 404 for an unknown caller, which is not an error here.

use super::{Answer, Auth, Conn, CpuMark, Result, Rng, Stats, Target, base_headers, report, show_error};
use clap::Args;
use hyper::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct LookupArgs {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[command(flatten)]
    auth: Auth,
    /// Keep-alive connections, each one request at a time.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured period (not recorded).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Numbers to sample from the workspace before the run.
    #[arg(long, default_value_t = 20_000)]
    sample: usize,
    /// Share of requests for numbers that are not in the workspace.
    #[arg(long, default_value_t = 0.1)]
    miss_ratio: f64,
    /// A directory token (`dt_…`): with `--cnam-ratio`, that share of requests goes to
    /// `/d/{token}/cnam?number=…` instead of `/api/v1/lookup`.
    #[arg(long)]
    token: Option<String>,
    /// Share of requests sent to the CNAM answer (needs `--token`).
    #[arg(long, default_value_t = 0.0)]
    cnam_ratio: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Deserialize)]
struct SamplePage {
    changes: Vec<SampleContact>,
    current_version: i64,
}

#[derive(Deserialize)]
struct SampleContact {
    phones: Vec<SamplePhone>,
}

#[derive(Deserialize)]
struct SamplePhone {
    e164: Option<String>,
    digits: String,
}

/// Country codes of two digits (the rest of the world's are one or three): enough to find a national
/// number in E.164 digits.
const TWO_DIGIT_CODES: [u16; 42] = [
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62,
    63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 95,
];

/// The national significant number of E.164 digits.
fn national(digits: &str) -> &str {
    if digits.starts_with('1') || digits.starts_with('7') {
        return &digits[1..];
    }
    let two: u16 = digits.get(..2).and_then(|d| d.parse().ok()).unwrap_or(0);
    if TWO_DIGIT_CODES.contains(&two) { &digits[2..] } else { digits.get(3..).unwrap_or(digits) }
}

/// Reads `--sample` numbers (E.164 digits) from delta pages at random cursors.
async fn sample(conn: &mut Conn, base: &str, want: usize, rng: &mut Rng) -> Result<Vec<String>> {
    let mut numbers = Vec::with_capacity(want);
    let mut current = None;
    let mut requests = 0;
    while numbers.len() < want {
        let cursor = match current {
            Some(v) if v > 100 => rng.below(v as u64 - 100) as i64,
            _ => 0,
        };
        let path = format!("{base}/api/v1/sync/delta?version={cursor}&limit=100");
        let answer = conn.send(Method::GET, &path, None).await?;
        if !answer.status.is_success() {
            return Err(format!("{path} -> {}: {}", answer.status, String::from_utf8_lossy(&answer.body)).into());
        }
        let page: SamplePage = serde_json::from_slice(&answer.body)?;
        requests += 1;
        let found = page.changes.iter().flat_map(|c| &c.phones).filter(|p| p.e164.is_some()).count();
        numbers.extend(page.changes.into_iter().flat_map(|c| c.phones).filter(|p| p.e164.is_some()).map(|p| p.digits));
        if current.is_none() && page.current_version <= 100 && found == 0 {
            return Err("the workspace has no public numbers to look up (generate contacts first)".into());
        }
        if current.is_none() && page.current_version <= 100 {
            // A tiny workspace: what there is, repeated.
            break;
        }
        current = Some(page.current_version);
        if requests > want {
            break;
        }
    }
    numbers.truncate(want);
    if numbers.is_empty() {
        return Err("no numbers sampled".into());
    }
    eprintln!("lookup: sampled {} numbers with {requests} delta pages", numbers.len());
    Ok(numbers)
}

/// Records one answer; a 404 from the CNAM answer is an unknown caller, not an error. Returns whether
/// the lookup found someone.
fn record(stats: &mut Stats, kind: &'static str, t: Instant, what: &str, answer: &Result<Answer>) -> Option<bool> {
    match answer {
        Ok(a) if a.status == hyper::StatusCode::NOT_FOUND && what.contains("cnam") => {
            let k = stats.kind(kind);
            k.latency.saturating_record(t.elapsed().as_micros().clamp(1, 600_000_000) as u64);
            if let Some(ms) = a.server_ms {
                k.server_ms_sum += ms;
                k.server_ms_count += 1;
            }
            Some(false)
        }
        Ok(a) if a.status.is_success() => {
            stats.record(kind, t, what, answer);
            Some(if what.contains("cnam") { true } else { !contains(&a.body, b"\"best\":null") })
        }
        _ => {
            stats.record(kind, t, what, answer);
            None
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn lookup(a: LookupArgs) -> Result<Value> {
    if a.cnam_ratio > 0.0 && a.token.is_none() {
        return Err("--cnam-ratio needs --token".into());
    }
    let target = Arc::new(Target::parse(&a.url)?);
    let headers = base_headers(&target, &a.auth, None)?;
    let mut rng = Rng::new(a.seed);
    let numbers = {
        let mut conn = Conn::new(target.clone(), headers.clone());
        Arc::new(sample(&mut conn, &target.path, a.sample, &mut rng).await?)
    };
    let mut conns = Vec::new();
    for _ in 0..a.connections {
        let mut c = Conn::new(target.clone(), headers.clone());
        c.connect().await?;
        conns.push(c);
    }
    let begin = Instant::now();
    let started = begin + Duration::from_secs_f64(a.warmup);
    let deadline = started + Duration::from_secs_f64(a.duration);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(n, mut conn)| {
            let numbers = numbers.clone();
            let base = target.path.clone();
            let token = a.token.clone();
            let (miss_ratio, cnam_ratio) = (a.miss_ratio, a.cnam_ratio);
            let mut rng = Rng::new(a.seed.wrapping_mul(1_000_003).wrapping_add(n as u64 + 1));
            tokio::spawn(async move {
                let mut stats = Stats::default();
                let mut found: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
                loop {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    let (kind, number) = if rng.unit() < miss_ratio {
                        ("unknown", format!("+1907{}{:07}", 2 + rng.below(8), rng.below(10_000_000)))
                    } else {
                        let digits = &numbers[rng.below(numbers.len() as u64) as usize];
                        match rng.below(10) {
                            // Only where it cannot lose digits to a trunk prefix (a leading 0 or 1).
                            0 if !national(digits).starts_with(['0', '1']) => ("national", national(digits).to_owned()),
                            // A local number starts with 2-9 (a leading 0 or 1 is a trunk prefix).
                            1 if !digits[digits.len().saturating_sub(7)..].starts_with(['0', '1']) => {
                                ("tail7", digits[digits.len().saturating_sub(7)..].to_owned())
                            }
                            _ => ("e164", format!("+{digits}")),
                        }
                    };
                    let encoded = number.replace('+', "%2B");
                    let cnam = token.as_deref().filter(|_| rng.unit() < cnam_ratio);
                    let (kind, path, what) = match cnam {
                        Some(t) => ("cnam", format!("{base}/d/{t}/cnam?number={encoded}"), "GET /d/{token}/cnam"),
                        None => (kind, format!("{base}/api/v1/lookup?phone={encoded}"), "GET /api/v1/lookup"),
                    };
                    let t = Instant::now();
                    let answer = conn.send(Method::GET, &path, None).await;
                    if t < started {
                        continue;
                    }
                    if let Some(hit) = record(&mut stats, kind, t, what, &answer) {
                        let entry = found.entry(kind).or_default();
                        entry.0 += 1;
                        entry.1 += u64::from(hit);
                    }
                    if answer.is_err() {
                        show_error("lookup", "transport error");
                    }
                }
                (stats, found)
            })
        })
        .collect();
    // The CPU is measured over the measured period only.
    tokio::time::sleep_until(started.into()).await;
    let cpu = CpuMark::now();
    let mut stats = Stats::default();
    let mut found: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for t in tasks {
        let (s, f) = t.await?;
        stats.merge(s);
        for (k, (n, hit)) in f {
            let e = found.entry(k).or_default();
            e.0 += n;
            e.1 += hit;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu.since();
    let found_json: serde_json::Map<String, Value> = found
        .iter()
        .map(|(k, (n, hit))| {
            ((*k).to_owned(), json!({"answers": n, "found": hit, "found_ratio": *hit as f64 / (*n).max(1) as f64}))
        })
        .collect();
    for (k, (n, hit)) in &found {
        eprintln!("  {k:<8} found {hit} of {n} ({:.1} %)", 100.0 * *hit as f64 / (*n).max(1) as f64);
    }
    Ok(report(
        "lookup",
        &stats,
        seconds,
        json!({
            "connections": a.connections,
            "sampled_numbers": numbers.len(),
            "miss_ratio": a.miss_ratio,
            "cnam_ratio": a.cnam_ratio,
            "warmup_seconds": a.warmup,
            "found": found_json,
            "cpu": cpu,
        }),
    ))
}
