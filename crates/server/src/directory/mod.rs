//! Desk-phone directories: read-only directory tokens (`tokens`, admin API in `token_routes`), how phones
//! present them (`access`), and the vendor documents served from the same contacts (`routes`; the
//! renderers are pure functions in `switchboard_domain::directory`). See docs/phones.md.

pub mod access;
pub mod cisco;
pub mod routes;
pub mod store;
pub mod token_routes;
pub mod tokens;
