//! The emulator's whole world behind one mutex: accounts, grants, faults, counters.
//!
//! One lock keeps every operation atomic (an API write and its change-log entry cannot be
//! observed apart) and is never held across an `.await`.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::calendar::book::CalendarBook;
use crate::config::EmulatorConfig;
use crate::faults::FaultEntry;
use crate::oauth::grants::OAuthStore;
use crate::people::book::PeopleBook;
use crate::quota::Quota;

/// Cloneable handle on one emulator instance; what the router and the control API share.
#[derive(Clone)]
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub world: Mutex<World>,
}

/// One Google user: their contacts and their primary calendar.
pub(crate) struct Account {
    pub email: String,
    /// Numeric id used for `people/me`.
    pub profile_id: String,
    pub people: PeopleBook,
    pub calendar: CalendarBook,
}

/// Who the next consent is given as, and what is granted (set by the control API; used once).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ConsentPlan {
    /// Account that consents (must exist); `None` = login_hint, then the default account.
    #[serde(default)]
    pub email: Option<String>,
    /// Grant only these of the requested scopes (a user unticking a checkbox); `None` = all.
    #[serde(default)]
    pub grant_scopes: Option<Vec<String>>,
    /// The user clicks Deny: the redirect carries `error=access_denied`.
    #[serde(default)]
    pub deny: bool,
}

pub(crate) struct World {
    pub accounts: BTreeMap<String, Account>,
    pub oauth: OAuthStore,
    pub faults: Vec<FaultEntry>,
    pub counters: BTreeMap<String, u64>,
    pub quota: Quota,
    pub delay_factor: f64,
    pub clock_offset: chrono::Duration,
    pub rng: Rng,
    pub next_consent: Option<ConsentPlan>,
}

impl World {
    pub fn new(config: &EmulatorConfig) -> Self {
        let mut world = World {
            accounts: BTreeMap::new(),
            oauth: OAuthStore::default(),
            faults: Vec::new(),
            counters: BTreeMap::new(),
            quota: Quota::new(config.write_quota_per_minute),
            delay_factor: config.delay_factor,
            clock_offset: chrono::Duration::zero(),
            rng: Rng::seeded(),
            next_consent: None,
        };
        for email in &config.seed_accounts {
            world.add_account(email);
        }
        world
    }

    /// Emulator time: the wall clock plus whatever the control API advanced it by.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Scales a nominal delay by the delay factor.
    pub fn scaled(&self, nominal: Duration) -> Duration {
        nominal.mul_f64(self.delay_factor.max(0.0))
    }

    /// Adds an account (idempotent); returns its canonical (lower-case) email.
    pub fn add_account(&mut self, email: &str) -> String {
        let key = email.trim().to_ascii_lowercase();
        if !self.accounts.contains_key(&key) {
            let profile_id = format!("1{:019}", self.rng.next_u64() % 10_000_000_000_000_000_000);
            let account = Account {
                email: key.clone(),
                profile_id,
                people: PeopleBook::default(),
                calendar: CalendarBook::default(),
            };
            self.accounts.insert(key.clone(), account);
        }
        key
    }

    pub fn account_key(&self, email: &str) -> Option<String> {
        let key = email.trim().to_ascii_lowercase();
        self.accounts.contains_key(&key).then_some(key)
    }

    /// An account together with the emulator's clock and id generator (disjoint borrows).
    pub fn account_mut(&mut self, email: &str) -> Option<(&mut Account, &mut Rng, DateTime<Utc>)> {
        let now = self.now();
        let account = self.accounts.get_mut(&email.trim().to_ascii_lowercase())?;
        Some((account, &mut self.rng, now))
    }

    pub fn count(&mut self, method: &str) {
        *self.counters.entry(method.to_owned()).or_default() += 1;
    }
}

impl Emulator {
    /// A fresh emulator state (no socket); serve it with [`crate::router`].
    pub fn new(config: EmulatorConfig) -> Self {
        let world = World::new(&config);
        Emulator { shared: Arc::new(Shared { config, world: Mutex::new(world) }) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.shared.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }
}

/// SplitMix64: fast ids, etags and tokens (an emulator needs uniqueness, not secrecy).
pub(crate) struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        Rng(RandomState::new().hash_one(std::time::SystemTime::now()))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` characters of the URL-safe base64 alphabet.
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len).map(|_| ALPHABET[(self.next_u64() % 64) as usize] as char).collect()
    }

    /// `len` characters of base32hex (`0-9a-v`), the alphabet of Calendar event ids.
    pub fn base32hex(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
        (0..len).map(|_| ALPHABET[(self.next_u64() % 32) as usize] as char).collect()
    }
}

/// RFC 3339 with milliseconds and `Z`, as Google prints timestamps.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A bounded map of issued page tokens: the oldest are forgotten, so benchmarks that list
/// thousands of times do not grow without limit (a forgotten token answers like an invalid one).
pub(crate) struct Recent<T> {
    map: std::collections::HashMap<String, T>,
    order: std::collections::VecDeque<String>,
}

const RECENT_CAP: usize = 1024;

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent { map: Default::default(), order: Default::default() }
    }
}

impl<T> Recent<T> {
    pub fn insert(&mut self, key: String, value: T) {
        if self.order.len() >= RECENT_CAP
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.map.get(key)
    }
}
