//! The switchboard server: configuration, the axum application and its feature folders.
//!
//! Each feature folder (`auth`, `users`, `api_keys`, `agents`, `workspaces`, `contacts`, `feed`, `sync`,
//! `ops`) owns its routes,
//! its service functions and the SQL they run. `app` wires them into one router behind the shared HTTP
//! edge (`http`).

pub mod agents;
pub mod api_keys;
pub mod app;
pub mod auth;
pub mod config;
pub mod contacts;
pub mod directory;
pub mod error;
pub mod feed;
pub mod google;
pub mod http;
pub mod logging;
pub mod lookup;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod realtime;
pub mod state;
pub mod sync;
pub mod users;
pub mod workspaces;

pub use app::Application;
pub use config::{Config, ConfigOverrides};
