//! The control API: seed accounts and data, act "as the user in Google", inject faults, read
//! counters. The typed methods here are what the HTTP routes in [`http`] call.

pub(crate) mod http;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::faults::{Fault, FaultEntry};
use crate::oauth::grants::TokenSet;
use crate::people;
use crate::people::person::UPDATE_FIELDS;
use crate::state::{ConsentPlan, Emulator, World};

/// Typed handle on a running emulator's state (cheap to clone).
#[derive(Clone)]
pub struct Control {
    emu: Emulator,
}

/// Why a control operation failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ControlError {
    #[error("no such account: {0}")]
    NoAccount(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Request counts by Google method id, and write-quota use per user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// e.g. `people.connections.list`, `oauth.token`, `calendar.events.insert`.
    pub requests: BTreeMap<String, u64>,
    /// Writes counted in each user's current quota window.
    pub quota_used: BTreeMap<String, u32>,
    /// Writes refused for quota, per user.
    pub quota_rejected: BTreeMap<String, u64>,
}

impl Counters {
    /// Requests seen for one method id (0 if none).
    pub fn requests(&self, method: &str) -> u64 {
        self.requests.get(method).copied().unwrap_or(0)
    }
}

impl From<ApiError> for ControlError {
    fn from(error: ApiError) -> Self {
        let message = error.body["error"]["message"]
            .as_str()
            .or_else(|| error.body["error_description"].as_str())
            .unwrap_or("error")
            .to_owned();
        if error.status.as_u16() == 404 { ControlError::NotFound(message) } else { ControlError::Invalid(message) }
    }
}

/// `people/c123` or `c123` → `c123`.
fn person_id(resource_name: &str) -> &str {
    resource_name.strip_prefix("people/").unwrap_or(resource_name)
}

impl Control {
    pub(crate) fn new(emu: Emulator) -> Self {
        Control { emu }
    }

    fn account<'w>(&self, world: &'w World, email: &str) -> Result<&'w crate::state::Account, ControlError> {
        world.accounts.get(&email.trim().to_ascii_lowercase()).ok_or_else(|| ControlError::NoAccount(email.to_owned()))
    }

    fn key(&self, world: &World, email: &str) -> Result<String, ControlError> {
        world.account_key(email).ok_or_else(|| ControlError::NoAccount(email.to_owned()))
    }

    // ---- accounts and OAuth ------------------------------------------------------------------

    /// Adds a Google account (idempotent); returns its canonical email.
    pub fn add_account(&self, email: &str) -> String {
        self.emu.lock().add_account(email)
    }

    pub fn accounts(&self) -> Vec<String> {
        self.emu.lock().accounts.keys().cloned().collect()
    }

    /// Issues an access token and a refresh token as if the user had consented to `scopes`
    /// (any client id may refresh it unless the emulator is configured with one).
    pub fn issue_tokens(&self, email: &str, scopes: &[&str]) -> Result<TokenSet, ControlError> {
        let client = self.emu.config().client_id.clone().unwrap_or_default();
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let now = world.now();
        let World { oauth, rng, .. } = &mut *world;
        let scopes = scopes.iter().map(|s| crate::auth::normalize_scope(s)).collect();
        Ok(oauth.issue(rng, now, &email, &client, scopes, true))
    }

    /// Decides the next consent: which account, which of the requested scopes, or a denial.
    pub fn set_next_consent(&self, plan: ConsentPlan) {
        self.emu.lock().next_consent = Some(plan);
    }

    /// Makes every access token of the account expired (refresh still works).
    pub fn expire_access_tokens(&self, email: &str) -> Result<usize, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let now = world.now();
        Ok(world.oauth.expire_access(&email, now))
    }

    /// Revokes the account's grants: refresh → `invalid_grant`, API calls → 401.
    pub fn revoke_grants(&self, email: &str) -> Result<usize, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        Ok(world.oauth.revoke_account(&email))
    }

    // ---- people "as the user in Google" ------------------------------------------------------

    /// Creates each person as an API create would (validation, etag, change log).
    pub fn seed_people(&self, email: &str, people: Vec<Value>) -> Result<Vec<Value>, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        people.iter().map(|p| people::create(&mut world, &email, p).map_err(ControlError::from)).collect()
    }

    pub fn create_person(&self, email: &str, person: Value) -> Result<Value, ControlError> {
        Ok(self.seed_people(email, vec![person])?.remove(0))
    }

    /// Replaces the fields present in `changes` (e.g. `{"phoneNumbers": [...]}`); no etag check.
    pub fn update_person(&self, email: &str, resource_name: &str, changes: Value) -> Result<Value, ControlError> {
        let mask: Vec<String> = changes
            .as_object()
            .map(|o| o.keys().filter(|k| UPDATE_FIELDS.contains(&k.as_str())).cloned().collect())
            .unwrap_or_default();
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        Ok(people::update(&mut world, &email, person_id(resource_name), &changes, &mask, None)?)
    }

    pub fn delete_person(&self, email: &str, resource_name: &str) -> Result<(), ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        Ok(people::delete(&mut world, &email, person_id(resource_name))?)
    }

    /// Adds `count` generated people (name, phone, email; an organization on every third).
    pub fn generate_people(&self, email: &str, count: usize) -> Result<usize, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let (account, rng, now) = world.account_mut(&email).ok_or(ControlError::NoAccount(email.clone()))?;
        let start = account.people.len();
        for n in start..start + count {
            let mut person = json!({
                "names": [{ "givenName": format!("Given{n}"), "familyName": format!("Family{}", n % 997) }],
                "phoneNumbers": [{
                    "value": format!("+1 {:03} 555 {:04}", 201 + (n / 10_000) % 700, n % 10_000),
                    "type": "mobile",
                }],
                "emailAddresses": [{ "value": format!("person{n}@example.com"), "type": "home" }],
            });
            if n % 3 == 0 {
                person["organizations"] = json!([{ "name": format!("Company {}", n % 101), "type": "work" }]);
            }
            let fields = person.as_object().cloned().unwrap_or_default();
            account.people.create(rng, now, fields);
        }
        Ok(count)
    }

    /// Merges `merged` into `survivor` as Google's "merge duplicates" does; returns the survivor.
    pub fn merge(&self, email: &str, survivor: &str, merged: &str) -> Result<Value, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let (account, rng, now) = world.account_mut(&email).ok_or(ControlError::NoAccount(email.clone()))?;
        let record = account
            .people
            .merge(rng, now, person_id(survivor), person_id(merged))
            .ok_or_else(|| ControlError::NotFound(format!("{survivor} or {merged}")))?;
        Ok(record.render(None, true))
    }

    /// Every person of the account, all fields, in resource-name order.
    pub fn list_people(&self, email: &str) -> Result<Vec<Value>, ControlError> {
        let world = self.emu.lock();
        let account = self.account(&world, email)?;
        let mut people: Vec<Value> = account.people.people().map(|r| r.render(None, true)).collect();
        people.sort_by(|a, b| a["resourceName"].as_str().cmp(&b["resourceName"].as_str()));
        Ok(people)
    }

    pub fn get_person(&self, email: &str, resource_name: &str) -> Result<Option<Value>, ControlError> {
        let world = self.emu.lock();
        let account = self.account(&world, email)?;
        Ok(account.people.get(person_id(resource_name)).map(|r| r.render(None, true)))
    }

    /// Every People sync token of the account now answers EXPIRED_SYNC_TOKEN.
    pub fn expire_sync_tokens(&self, email: &str) -> Result<(), ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        if let Some(account) = world.accounts.get_mut(&email) {
            account.people.sync_epoch += 1;
        }
        Ok(())
    }

    // ---- calendar ----------------------------------------------------------------------------

    /// Every Calendar sync token of the account now answers 410 fullSyncRequired.
    pub fn expire_calendar_sync_tokens(&self, email: &str) -> Result<(), ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        if let Some(account) = world.accounts.get_mut(&email) {
            account.calendar.sync_epoch += 1;
        }
        Ok(())
    }

    /// Inserts an event on the primary calendar as the user would in Google Calendar.
    pub fn insert_event(&self, email: &str, event: Value) -> Result<Value, ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let (account, rng, now) = world.account_mut(&email).ok_or(ControlError::NoAccount(email.clone()))?;
        let owner = account.email.clone();
        Ok(account.calendar.insert(rng, now, &owner, &event)?.event.clone())
    }

    /// Deletes (cancels) an event as the user would.
    pub fn delete_event(&self, email: &str, event_id: &str) -> Result<(), ControlError> {
        let mut world = self.emu.lock();
        let email = self.key(&world, email)?;
        let (account, _, now) = world.account_mut(&email).ok_or(ControlError::NoAccount(email.clone()))?;
        Ok(account.calendar.cancel(now, event_id)?)
    }

    /// Every event of the primary calendar, cancelled ones included, in change order.
    pub fn list_events(&self, email: &str) -> Result<Vec<Value>, ControlError> {
        let world = self.emu.lock();
        let account = self.account(&world, email)?;
        Ok(account.calendar.by_seq().map(|r| r.event.clone()).collect())
    }

    // ---- faults, quota, time, counters -------------------------------------------------------

    pub fn inject_fault(&self, fault: Fault) {
        let remaining = fault.count;
        self.emu.lock().faults.push(FaultEntry { fault, remaining });
    }

    pub fn clear_faults(&self) {
        self.emu.lock().faults.clear();
    }

    /// Writes per user per (scaled) minute; `None` = unlimited.
    pub fn set_write_quota(&self, per_minute: Option<u32>) {
        self.emu.lock().quota.limit = per_minute;
    }

    pub fn set_delay_factor(&self, factor: f64) {
        self.emu.lock().delay_factor = factor.max(0.0);
    }

    /// Moves the emulator's clock forward (access-token and sync-token expiry, timestamps).
    pub fn advance_clock(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        self.emu.lock().clock_offset += by;
    }

    pub fn counters(&self) -> Counters {
        let world = self.emu.lock();
        let window = world.scaled(Duration::from_secs(60));
        Counters {
            requests: world.counters.clone(),
            quota_used: world.quota.used(world.now(), window),
            quota_rejected: world.quota.rejected.clone(),
        }
    }

    pub fn reset_counters(&self) {
        let mut world = self.emu.lock();
        world.counters.clear();
        world.quota.reset();
    }

    /// Back to the configured start: seed accounts only, no data, tokens, faults or counters.
    pub fn reset(&self) {
        let fresh = World::new(self.emu.config());
        *self.emu.lock() = fresh;
    }
}
