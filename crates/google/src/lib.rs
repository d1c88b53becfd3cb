//! Google People, Calendar and OAuth: typed wire structs and one async client.
//!
//! The wire types ([`people`], [`calendar`], [`oauth`]) are plain serde structs in Google's camelCase that
//! work in both directions, so the emulator can use them too. [`GoogleClient`] sends every call with
//! timeouts, retries (429, 5xx, rate-limit 403, timeouts; exponential backoff with full jitter, or the
//! server's `Retry-After`) and refreshes a [`Session`]'s access token a minute before it expires. Errors are
//! one [`GoogleError`] with the predicates the sync workers branch on.

pub mod calendar;
mod client;
pub mod error;
pub mod oauth;
pub mod people;

pub use client::{AccessToken, ClientConfig, GoogleClient, REFRESH_MARGIN, Session, TokenSet};
pub use error::{ErrorBody, GoogleError};
