//! Per-user write quota in fixed windows of one (scaled) minute, like Google's
//! "requests per minute per user" limits.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub(crate) struct Quota {
    pub limit: Option<u32>,
    windows: BTreeMap<String, Window>,
    /// Writes refused for quota, per user (for counters).
    pub rejected: BTreeMap<String, u64>,
}

struct Window {
    start: DateTime<Utc>,
    used: u32,
}

impl Quota {
    pub fn new(limit: Option<u32>) -> Self {
        Quota { limit, windows: BTreeMap::new(), rejected: BTreeMap::new() }
    }

    /// Counts one write for `user`; `Err(wait)` when the window is full (the write is not counted).
    pub fn charge(&mut self, user: &str, now: DateTime<Utc>, window: Duration) -> Result<(), Duration> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let entry = self.windows.entry(user.to_owned()).or_insert(Window { start: now, used: 0 });
        if now >= entry.start + window {
            *entry = Window { start: now, used: 0 };
        }
        if let Some(limit) = self.limit
            && entry.used >= limit
        {
            *self.rejected.entry(user.to_owned()).or_default() += 1;
            let wait = (entry.start + window - now).to_std().unwrap_or_default();
            return Err(wait);
        }
        entry.used += 1;
        Ok(())
    }

    /// Writes counted in each user's current window.
    pub fn used(&self, now: DateTime<Utc>, window: Duration) -> BTreeMap<String, u32> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        self.windows.iter().map(|(user, w)| (user.clone(), if now >= w.start + window { 0 } else { w.used })).collect()
    }

    pub fn reset(&mut self) {
        self.windows.clear();
        self.rejected.clear();
    }
}

impl crate::state::World {
    /// Counts a write against the user's per-minute quota (the minute scales with the delay factor).
    pub(crate) fn charge_write(&mut self, user: &str) -> Result<(), Duration> {
        let (now, window) = (self.now(), self.scaled(Duration::from_secs(60)));
        self.quota.charge(user, now, window)
    }
}

/// `Retry-After` value: whole seconds (rounded up) from 1 s up; below 1 s a decimal such as
/// `0.05` — an emulator-only leniency so scaled-down tests need not wait a whole second.
pub(crate) fn retry_after_value(wait: Duration) -> String {
    let secs = wait.as_secs_f64();
    if secs >= 1.0 {
        format!("{}", secs.ceil() as u64)
    } else {
        let ms = (secs * 1000.0).ceil().max(1.0) / 1000.0;
        let text = format!("{ms:.3}");
        text.trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_formats() {
        assert_eq!(retry_after_value(Duration::from_secs(30)), "30");
        assert_eq!(retry_after_value(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after_value(Duration::from_millis(50)), "0.05");
        assert_eq!(retry_after_value(Duration::from_micros(10)), "0.001");
    }

    #[test]
    fn window_resets() {
        let mut q = Quota::new(Some(2));
        let t0 = Utc::now();
        let w = Duration::from_secs(60);
        assert!(q.charge("a", t0, w).is_ok());
        assert!(q.charge("a", t0, w).is_ok());
        let wait = q.charge("a", t0 + chrono::Duration::seconds(10), w).unwrap_err();
        assert_eq!(wait.as_secs(), 50);
        assert!(q.charge("b", t0, w).is_ok());
        assert!(q.charge("a", t0 + chrono::Duration::seconds(60), w).is_ok());
    }
}
