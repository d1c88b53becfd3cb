//! End-to-end tests: each starts the real server on a random port with a fresh database and talks HTTP.
//! Tests that touch storage run twice, on SQLite and on PostgreSQL (`<name>::sqlite`, `<name>::postgres`).

mod helpers;

mod agent_api;
mod auth;
mod bootstrap;
mod cli;
mod concurrency;
mod contacts;
mod credentials;
mod directory;
mod errors;
mod generate;
mod google;
mod isolation;
mod lookup;
mod ops;
mod realtime;
mod schema;
mod socket_client;
mod storage;
mod sync;
