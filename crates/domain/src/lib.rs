//! Plain types and rules of switchboard. No I/O lives here: every value that reaches a service has been
//! parsed into one of these types at the edge, so invalid input cannot travel further.

mod access;
mod contact;
pub mod directory;
mod ids;
pub mod lookup;
mod names;
pub mod phone;
mod text;

pub use access::{Permission, Role, Scope, ScopeSet};
pub use contact::{ContactFields, ContactPatch, EmailEntry, Field, Merge, PhoneEntry, merge};
pub use ids::{AgentId, ApiKeyId, DeviceId, RefreshTokenId, UserId, WorkspaceId};
pub use lookup::{ExtensionMatch, LookupKey, Match, MatchKind, Ranked, StoredNumber};
pub use names::{AgentCode, DeviceCode, Email, PersonName, Slug, WorkspaceName};
pub use phone::{ParsedPhone, PhonePolicy, Region};
pub use text::fold;

/// A rejected input value: which field, and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The request field that was rejected, as the client named it.
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

impl FieldError {
    /// A field error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}
