//! An in-memory, multi-account emulator of Google OAuth, People API v1 and Calendar API v3,
//! answering with Google's documented shapes and error envelopes, plus a control API
//! (`/_emulator/…` over HTTP, [`Control`] in-process) to seed data and inject faults.
//!
//! One origin serves every Google path (`/o/oauth2/v2/auth`, `/token`, `/revoke`,
//! `/oauth2/v3/userinfo`, `/v1/people/…`, `/calendar/v3/…`), so a client needs one base URL.
//!
//! Semantics worth knowing (see `shared/reference/google-apis.md` for the sources):
//! - **Sync tokens (People)** stand for a position in the account's change log. An incremental
//!   list returns every person changed since, once, in its latest state (deleted ones as
//!   `{resourceName, etag, metadata: {deleted: true, …}}`). `nextSyncToken` only on the last
//!   page and only with `requestSyncToken=true`. Tokens expire 7 days (emulator clock) after
//!   the full sync their chain began with, or at once by [`Control::expire_sync_tokens`];
//!   expired, unknown and corrupted tokens all get Google's HTTP 400 EXPIRED_SYNC_TOKEN body.
//!   A listing's ids are fixed by its first call and its final token points at the change log
//!   as of that call, so edits made while a client pages come again in the next sync.
//! - **Merge** ([`Control::merge`]): the merged person disappears without a tombstone; the
//!   survivor gets a new etag, phones/emails unioned (deduplicated by canonical number /
//!   lower-cased address), other fields it lacked, and `metadata.previousResourceNames`
//!   (shown only in incremental sync results, and only when `metadata` is in `personFields`).
//! - **canonicalForm** is deliberately simple: set only for `+` and 8–15 digits, or a US number
//!   of 10 digits (11 with a leading 1), after dropping spaces, dashes, dots and parentheses.
//! - **Retry-After** is scaled by the delay factor; below one second it is a decimal such as
//!   `0.05` (an emulator-only leniency; Google sends whole seconds).
//! - **Faults** without `only_for` hit People and Calendar methods, not the OAuth endpoints;
//!   `InvalidGrant` only hits `/token`.
//! - **Write quota** (per user per scaled minute) covers createContact/updateContact/
//!   deleteContact (429 RESOURCE_EXHAUSTED RATE_LIMIT_EXCEEDED) and Calendar writes
//!   (403 usageLimits/userRateLimitExceeded), both with `Retry-After`.
//! - **OAuth**: a refresh token only with `access_type=offline`, and again for an account that
//!   already has one only with `prompt=consent` (as Google). Tokens issued by
//!   [`Control::issue_tokens`] may be refreshed by any client id unless one is configured.
//! - **Calendar**: only each account's primary calendar; `timeZone` is ignored (all-day dates
//!   are UTC days) and recurring events are not expanded. `If-Match` on patch, update and delete
//!   is checked against the event's etag (`*` and lists too): a stale one is 412 conditionNotMet.

mod auth;
mod calendar;
mod config;
mod control;
mod errors;
mod faults;
mod oauth;
mod people;
mod quota;
mod state;

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::EmulatorConfig;
pub use control::{Control, ControlError, Counters};
pub use faults::{Fault, FaultKind};
pub use oauth::grants::TokenSet;
pub use state::{ConsentPlan, Emulator};

/// The scope the People API needs for reads and writes.
pub const CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts";
/// The Calendar scope that covers events and freeBusy.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// Every Google path plus the control API, counted and fault-injected by one middleware.
pub fn router(emulator: Emulator) -> Router {
    Router::new()
        .merge(oauth::router())
        .merge(people::router())
        .merge(calendar::router())
        .merge(control::http::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(emulator.clone(), faults::middleware))
        .with_state(emulator)
}

/// Unknown paths get the 404 of the API they fall under.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if path.starts_with("/calendar/") {
        errors::calendar::not_found().into_response()
    } else if path.starts_with("/v1/") {
        errors::people::not_found().into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 with a random port.
    pub async fn start(config: EmulatorConfig) -> io::Result<RunningEmulator> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts an emulator on `addr`.
    pub async fn start_on(config: EmulatorConfig, addr: SocketAddr) -> io::Result<RunningEmulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let emulator = Emulator::new(config);
        let app = router(emulator.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        });
        tracing::info!(%addr, "google emulator listening");
        Ok(RunningEmulator { addr, emulator, stop: Some(stop), task: Some(task) })
    }

    /// The typed control API on this emulator's state.
    pub fn control(&self) -> Control {
        Control::new(self.clone())
    }
}

/// A serving emulator; dropping it stops the server.
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Emulator,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` (no trailing slash): the base URL for every Google path.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn control(&self) -> Control {
        self.emulator.control()
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Serves until `signal` resolves (the binary passes Ctrl-C), then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
