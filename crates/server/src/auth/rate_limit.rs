//! Rate limits, kept in memory per instance (documented: with N instances a client may get up to N times
//! the limit): per credential on every authenticated request, per client IP on login.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use uuid::Uuid;

/// The limiters of this instance.
pub struct RateLimits {
    per_credential: Option<DefaultKeyedRateLimiter<Uuid>>,
    per_login_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    /// Limiters allowing `per_credential` requests per minute per credential (0 = off) and `per_login_ip`
    /// login attempts per minute per IP (0 = off). Both allow a burst of the full minute's quota.
    pub fn new(per_credential: u32, per_login_ip: u32) -> Self {
        Self {
            per_credential: limiter(per_credential),
            per_login_ip: limiter(per_login_ip),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the credential is over its limit.
    pub fn check_credential(&self, id: Uuid) -> Result<(), u64> {
        self.check(self.per_credential.as_ref(), &id)
    }

    /// `Err(seconds to wait)` when the IP is over its login limit.
    pub fn check_login(&self, ip: IpAddr) -> Result<(), u64> {
        self.check(self.per_login_ip.as_ref(), &ip)
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        l: Option<&DefaultKeyedRateLimiter<K>>,
        key: &K,
    ) -> Result<(), u64> {
        match l.map(|l| l.check_key(key)) {
            None | Some(Ok(())) => Ok(()),
            Some(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now()).as_secs().max(1)),
        }
    }

    /// Drops state of keys that are back to full quota (keeps memory bounded).
    pub fn sweep(&self) {
        if let Some(l) = &self.per_credential {
            l.retain_recent();
        }
        if let Some(l) = &self.per_login_ip {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_per_key_and_zero_disables() {
        let limits = RateLimits::new(3, 0);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..3 {
            assert!(limits.check_credential(a).is_ok());
        }
        let wait = limits.check_credential(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limits.check_credential(b).is_ok(), "other keys are unaffected");
        for _ in 0..1000 {
            assert!(limits.check_login("127.0.0.1".parse().unwrap()).is_ok());
        }
    }
}
