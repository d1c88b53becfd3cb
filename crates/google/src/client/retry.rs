//! When to try again: full-jitter exponential backoff and `Retry-After` parsing. Pure functions, so the
//! timing rules are tested without a server.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Backoff for retry number `retry` (1 = the first retry): uniformly random in
/// `[0, min(max, initial * 2^(retry-1))]` ("full jitter"), so many workers hitting one quota spread out.
pub(crate) fn full_jitter(initial: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
    let cap = initial.saturating_mul(factor).min(max);
    cap.mul_f64(random_unit())
}

/// A uniform random number in `[0, 1]`.
fn random_unit() -> f64 {
    // Jitter needs no cryptographic quality, but getrandom is already here and never fails on our targets;
    // if it ever did, the full cap is a safe (if less spread) answer.
    let bits = getrandom::u64().unwrap_or(u64::MAX);
    (bits >> 11) as f64 / ((1u64 << 53) - 1) as f64
}

/// Reads a `Retry-After` value: integer seconds or an HTTP-date (RFC 9110), and, leniently, non-negative
/// decimal seconds such as `0.05`. Google sends integers; the decimal form is for our emulator, which scales
/// its delays by a factor so tests run fast. A date in the past means "now"; anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>()
        && value.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(Duration::from_secs(secs));
    }
    if is_decimal(value) {
        return Duration::try_from_secs_f64(value.parse().ok()?).ok();
    }
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers must send, is RFC 2822 syntax.
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Digits with one dot between them: no sign, exponent, `inf` or `NaN`.
fn is_decimal(value: &str) -> bool {
    let Some((int, frac)) = value.split_once('.') else { return false };
    !int.is_empty() && !frac.is_empty() && (int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap()
    }

    #[test]
    fn retry_after_seconds_and_decimals() {
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("0.05", now()), Some(Duration::from_millis(50)));
        assert_eq!(parse_retry_after("1.5", now()), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn retry_after_http_date() {
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now()), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()), Some(Duration::ZERO), "past = now");
    }

    #[test]
    fn retry_after_garbage() {
        for bad in ["", "soon", "-1", "+5", "1e3", "inf", "NaN", "1.", ".5", "1.2.3", "-0.5", "Wed, 99 Oct 2015"] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after("99999999999999999999999999.0", now()), None, "too large for a Duration");
    }

    #[test]
    fn backoff_grows_and_stays_within_bounds() {
        let initial = Duration::from_millis(500);
        let max = Duration::from_secs(32);
        for retry in 1..=40 {
            let cap = (initial * 2u32.saturating_pow(retry - 1)).min(max);
            let samples: Vec<_> = (0..200).map(|_| full_jitter(initial, max, retry)).collect();
            assert!(samples.iter().all(|d| *d <= cap), "retry {retry}");
            // 200 uniform draws all below half the cap: probability 2^-200.
            assert!(samples.iter().any(|d| *d > cap / 2), "retry {retry} is jittered over the whole range");
        }
        assert_eq!(full_jitter(Duration::ZERO, max, 3), Duration::ZERO);
        assert!(full_jitter(initial, max, u32::MAX) <= max);
    }
}
