//! Timestamps in answers, for `#[serde(serialize_with = …)]` on the contact shapes that delta pages, lookups
//! and lists serialise by the thousand. The text is exactly chrono's own (RFC 3339, `Z`, 0, 3, 6 or 9
//! fraction digits as needed), but written into a `String` first: chrono's `Serialize` goes through
//! `collect_str`, which feeds each piece through serde_json's escaping writer, and that took ~5 % of the
//! server's CPU in the agent workload (twice as long per timestamp, bench/README.md).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Serialises `t` as chrono does.
pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// [`rfc3339`] for an optional timestamp (`null` when absent).
pub fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "rfc3339_opt")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chrono {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    proptest! {
        /// Whole seconds, milliseconds, microseconds (what the databases store) and nanoseconds all come out
        /// as chrono writes them.
        #[test]
        fn the_text_is_chronos(secs in 0i64..4_102_444_800, nanos in 0u32..1_000_000_000, unit in 0usize..4, absent: bool) {
            let nanos = [0, nanos / 1_000_000 * 1_000_000, nanos / 1_000 * 1_000, nanos][unit];
            let at = Utc.timestamp_opt(secs, nanos).unwrap();
            let maybe = (!absent).then_some(at);
            prop_assert_eq!(
                serde_json::to_string(&Ours { at, maybe }).unwrap(),
                serde_json::to_string(&Chrono { at, maybe }).unwrap()
            );
        }
    }
}
