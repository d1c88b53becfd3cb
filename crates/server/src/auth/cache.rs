//! A short-lived cache of checked credentials, so that a request costs no database round trip for
//! authentication. Entries live `credential_cache_ttl` (default 5 s): a revocation or deactivation made on
//! this instance evicts at once; one made on another instance applies when the entry expires.
//!
//! Hand-written rather than a cache crate: it is a map with an expiry check and targeted eviction, and
//! the eviction-by-owner (all entries of a user, agent or key) is the part a generic cache does not give.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchboard_domain::{AgentId, ApiKeyId, Role, ScopeSet, UserId, WorkspaceId};

/// What we know about an API key after checking it.
#[derive(Debug, Clone)]
pub struct CachedKey {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub scopes: ScopeSet,
    pub revoked: bool,
    pub agent: Option<CachedAgent>,
}

/// The agent an API key is bound to.
#[derive(Debug, Clone)]
pub struct CachedAgent {
    pub id: AgentId,
    pub code: String,
    pub active: bool,
}

/// A user's standing in a workspace (`None` in the cache: not a member).
#[derive(Debug, Clone)]
pub struct CachedMember {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

/// Upper bound on entries per map; beyond it, expired entries are swept (and, failing that, all).
const MAX_ENTRIES: usize = 50_000;

struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let map = self.entries.lock().expect("cache lock");
        map.get(key).filter(|(at, _)| at.elapsed() < ttl).map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: V, ttl: Duration) {
        let mut map = self.entries.lock().expect("cache lock");
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    fn evict(&self, pred: impl Fn(&K, &V) -> bool) {
        self.entries.lock().expect("cache lock").retain(|k, (_, v)| !pred(k, v));
    }
}

/// The credential cache shared by all requests of this instance.
pub struct CredentialCache {
    ttl: Duration,
    keys: TtlMap<String, CachedKey>,
    members: TtlMap<(UserId, WorkspaceId), Option<CachedMember>>,
    settings: TtlMap<WorkspaceId, std::sync::Arc<crate::workspaces::WorkspaceSettings>>,
    /// Live directory tokens by digest (unknown ones are not cached: random tokens cannot fill the map).
    directory_tokens: TtlMap<String, (WorkspaceId, crate::directory::tokens::DirectoryToken)>,
}

impl CredentialCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            keys: TtlMap::new(),
            members: TtlMap::new(),
            settings: TtlMap::new(),
            directory_tokens: TtlMap::new(),
        }
    }

    /// A cached key by the digest of the presented secret.
    pub fn key(&self, digest: &str) -> Option<CachedKey> {
        self.keys.get(&digest.to_owned(), self.ttl)
    }

    /// Caches a checked key.
    pub fn put_key(&self, digest: String, key: CachedKey) {
        self.keys.put(digest, key, self.ttl);
    }

    /// A cached membership.
    pub fn member(&self, user: UserId, workspace: WorkspaceId) -> Option<Option<CachedMember>> {
        self.members.get(&(user, workspace), self.ttl)
    }

    /// Caches a membership lookup (including "not a member").
    pub fn put_member(&self, user: UserId, workspace: WorkspaceId, member: Option<CachedMember>) {
        self.members.put((user, workspace), member, self.ttl);
    }

    /// A workspace's cached settings.
    pub fn settings(&self, ws: WorkspaceId) -> Option<std::sync::Arc<crate::workspaces::WorkspaceSettings>> {
        self.settings.get(&ws, self.ttl)
    }

    /// Caches a workspace's settings.
    pub fn put_settings(&self, ws: WorkspaceId, settings: std::sync::Arc<crate::workspaces::WorkspaceSettings>) {
        self.settings.put(ws, settings, self.ttl);
    }

    /// A cached live directory token by the digest of the presented token.
    pub fn directory_token(&self, digest: &str) -> Option<(WorkspaceId, crate::directory::tokens::DirectoryToken)> {
        self.directory_tokens.get(&digest.to_owned(), self.ttl)
    }

    /// Caches a live directory token.
    pub fn put_directory_token(&self, digest: String, token: (WorkspaceId, crate::directory::tokens::DirectoryToken)) {
        self.directory_tokens.put(digest, token, self.ttl);
    }

    /// Forgets a directory token (after revocation).
    pub fn evict_directory_token(&self, id: uuid::Uuid) {
        self.directory_tokens.evict(|_, (_, t)| t.id == id);
    }

    /// Forgets a key (after revocation).
    pub fn evict_key(&self, id: ApiKeyId) {
        self.keys.evict(|_, k| k.id == id);
    }

    /// Forgets every key bound to an agent (after the agent changed).
    pub fn evict_agent(&self, id: AgentId) {
        self.keys.evict(|_, k| k.agent.as_ref().is_some_and(|a| a.id == id));
    }

    /// Forgets a user's memberships (after a role change or deactivation).
    pub fn evict_user(&self, id: UserId) {
        self.members.evict(|(user, _), _| *user == id);
    }
}
