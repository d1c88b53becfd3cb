//! Authentication: passwords, access and refresh tokens, API keys, and the [`Principal`] extractor.
pub mod cache;
pub mod jwt;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod tokens;
pub mod usage;

pub use principal::{Actor, AgentRef, Principal};
