//! Typed ids. Every id is a UUIDv7 (time-ordered, so indexes stay compact) and no two kinds of id can be
//! mixed up at compile time.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

typed_id!(
    /// A workspace: one tenant (one business).
    WorkspaceId,
    /// A user who signs in with email and password.
    UserId,
    /// An API key (its id, never its secret).
    ApiKeyId,
    /// A field agent, who authenticates with an API key bound to it.
    AgentId,
    /// A device row (an agent's phone or browser).
    DeviceId,
    /// One refresh token of a login session.
    RefreshTokenId,
);
