//! Who may do what: user roles, API-key scopes, and the permissions both map to (ARCHITECTURE §5).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role in a workspace, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads contacts and bookings.
    Viewer,
    /// Also writes contacts and bookings.
    Member,
    /// Also imports, exports, integrations, keys, users and settings.
    Admin,
    /// Also deletes the workspace and transfers ownership.
    Owner,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    /// The role's name as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::ContactsRead | Permission::DirectoryRead => true,
            Permission::ContactsWrite => self >= Role::Member,
            Permission::GoogleSync | Permission::Admin => self >= Role::Admin,
            Permission::Owner => self == Role::Owner,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| "must be one of viewer, member, admin, owner".to_owned())
    }
}

/// An API key's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// Get, list, delta sync, realtime, lookup.
    #[serde(rename = "contacts:read")]
    ContactsRead,
    /// Create, update, delete, bulk, offline push.
    #[serde(rename = "contacts:write")]
    ContactsWrite,
    /// Phone directories.
    #[serde(rename = "directory:read")]
    DirectoryRead,
    /// Trigger Google syncs.
    #[serde(rename = "google:sync")]
    GoogleSync,
    /// Users, keys, agents, devices, audit log, settings.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] =
        [Scope::ContactsRead, Scope::ContactsWrite, Scope::DirectoryRead, Scope::GoogleSync, Scope::Admin];

    /// The scopes an agent's key gets when none are named.
    pub const AGENT_DEFAULT: [Scope; 2] = [Scope::ContactsRead, Scope::ContactsWrite];

    /// The scope's name as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::DirectoryRead => "directory:read",
            Scope::GoogleSync => "google:sync",
            Scope::Admin => "admin",
        }
    }

    fn grants(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (Scope::ContactsRead, Permission::ContactsRead)
                | (Scope::ContactsWrite, Permission::ContactsWrite)
                | (Scope::DirectoryRead, Permission::DirectoryRead)
                | (Scope::GoogleSync, Permission::GoogleSync)
                | (Scope::Admin, Permission::Admin)
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            format!("unknown scope '{}'; expected one of {}", s.trim(), Scope::ALL.map(Scope::as_str).join(", "))
        })
    }
}

/// A non-empty, duplicate-free, ordered set of scopes, stored as a space-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Builds a set from scopes; `None` when empty.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Option<Self> {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        (!v.is_empty()).then_some(Self(v))
    }

    /// Every scope.
    pub fn all() -> Self {
        Self(Scope::ALL.to_vec())
    }

    /// Parses a list of scope names (from JSON, the CLI's comma list, or the stored space-separated form).
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let scopes = items
            .into_iter()
            .flat_map(|s| s.split([',', ' ']))
            .filter(|s| !s.trim().is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(scopes).ok_or_else(|| "must name at least one scope".to_owned())
    }

    /// Whether the set grants `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.0.iter().any(|s| s.grants(permission))
    }

    /// The scopes, sorted.
    pub fn scopes(&self) -> &[Scope] {
        &self.0
    }

    /// The stored form: names separated by single spaces.
    pub fn to_stored(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// An action class that a role or a scope may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read contacts.
    ContactsRead,
    /// Write contacts.
    ContactsWrite,
    /// Read phone directories.
    DirectoryRead,
    /// Trigger Google syncs.
    GoogleSync,
    /// Manage users, keys, agents, settings.
    Admin,
    /// Workspace ownership.
    Owner,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grow_in_power() {
        assert!(Role::Viewer.allows(Permission::ContactsRead));
        assert!(!Role::Viewer.allows(Permission::ContactsWrite));
        assert!(Role::Member.allows(Permission::ContactsWrite));
        assert!(!Role::Member.allows(Permission::Admin));
        assert!(Role::Admin.allows(Permission::Admin));
        assert!(!Role::Admin.allows(Permission::Owner));
        assert!(Role::Owner.allows(Permission::Owner));
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn scope_sets_parse_and_grant() {
        let s = ScopeSet::parse(["contacts:write, contacts:read", "contacts:read"]).unwrap();
        assert_eq!(s.to_stored(), "contacts:read contacts:write");
        assert!(s.allows(Permission::ContactsWrite));
        assert!(!s.allows(Permission::Admin));
        assert!(ScopeSet::parse(["nope"]).unwrap_err().contains("unknown scope 'nope'"));
        assert!(ScopeSet::parse([""]).is_err());
        assert!(!ScopeSet::all().allows(Permission::Owner), "no key is ever an owner");
        assert_eq!(ScopeSet::parse([ScopeSet::all().to_stored().as_str()]).unwrap(), ScopeSet::all());
    }
}
