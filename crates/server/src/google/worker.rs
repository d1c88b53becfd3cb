//! When accounts sync: every account on its interval (and when triggered) runs inbound then outbound;
//! contact changes wake an outbound-only push for their workspace's accounts. Each account runs under a
//! database lease, so with several instances one syncs an account at a time, and a crashed holder's lease
//! simply runs out. On one instance, an account's runs never overlap either.

use super::people::{inbound, outbound};
use super::state::{self, PEOPLE};
use super::{AccountRun, SyncError, accounts};
use crate::state::AppState;
use chrono::Utc;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::WorkspaceId;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Inbound (full when asked or needed) then outbound.
    Sync { full: bool },
    /// Only push local changes.
    Push,
}

/// How often due accounts are looked for when nothing wakes the worker.
const TICK: Duration = Duration::from_secs(1);

/// Runs until `stop`: starts due syncs and pushes, each account at most once at a time on this instance.
pub async fn run(app: AppState, stop: CancellationToken) {
    let running: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let mut tasks = JoinSet::new();
    let mut feed = app.feed.subscribe();
    let mut pending_push: HashSet<WorkspaceId> = HashSet::new();
    let mut push_all = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = app.google.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            event = feed.recv() => {
                match event {
                    Ok(e) if !e.origin.starts_with("google:") => { pending_push.insert(e.workspace); }
                    Ok(_) => {}
                    // Missed events: push every workspace's accounts (each cursor makes it exact).
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => push_all = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
                // Collect the rest of a burst before starting pushes.
                tokio::time::sleep(Duration::from_millis(20)).await;
                while let Ok(e) = feed.try_recv() {
                    if !e.origin.starts_with("google:") {
                        pending_push.insert(e.workspace);
                    }
                }
            }
        }
        while tasks.try_join_next().is_some() {}
        if !app.google.is_configured() {
            pending_push.clear();
            continue;
        }
        // (account, what to run, the workspace whose changes it pushes)
        let mut starts: Vec<(Uuid, Mode, Option<WorkspaceId>)> = Vec::new();
        match state::due(&app.db, PEOPLE, Utc::now()).await {
            Ok(due) => starts.extend(due.into_iter().map(|id| (id, Mode::Sync { full: false }, None))),
            Err(e) => tracing::warn!(error = %e, "cannot read due Google syncs"),
        }
        if push_all || !pending_push.is_empty() {
            match state::active(&app.db, PEOPLE).await {
                Ok(active) => {
                    for (account, ws) in active {
                        let wanted = push_all || pending_push.contains(&WorkspaceId(ws));
                        if wanted && !starts.iter().any(|(a, _, _)| *a == account) {
                            starts.push((account, Mode::Push, Some(WorkspaceId(ws))));
                        }
                    }
                    pending_push.clear();
                    push_all = false;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read Google accounts"),
            }
        }
        for (account, mode, ws) in starts {
            if !running.lock().expect("running lock").insert(account) {
                // Its run may have read the feed before these changes: push again once it is done.
                pending_push.extend(ws);
                continue;
            }
            let (app, running) = (app.clone(), running.clone());
            tasks.spawn(async move {
                if let Err(e) = sync_account(&app, account, mode).await {
                    tracing::debug!(account = %account, error = %e, "Google sync did not run");
                }
                running.lock().expect("running lock").remove(&account);
            });
        }
    }
    tasks.shutdown().await;
}

/// Runs one account now (the worker, the CLI): takes the lease, syncs, records the outcome, gives the lease
/// back. Returns the inbound report when there was an inbound pass.
pub async fn sync_account(app: &AppState, account: Uuid, mode: Mode) -> Result<Option<inbound::Report>, SyncError> {
    sync_account_with(app, account, mode, None).await
}

/// [`sync_account`], telling `progress` after each inbound page.
pub async fn sync_account_with(
    app: &AppState,
    account: Uuid,
    mode: Mode,
    progress: Option<&(dyn Fn(super::Progress) + Sync)>,
) -> Result<Option<inbound::Report>, SyncError> {
    let holder = app.instance_id;
    let lease = app.config.google.lease;
    if !state::acquire(&app.db, account, PEOPLE, holder, lease).await? {
        return Err(SyncError::LeaseLost);
    }
    let result = run_locked(app, account, mode, holder, progress).await;
    if let Err(e) = &result {
        record_failure(app, account, e).await;
    }
    state::release(&app.db, account, PEOPLE, holder).await?;
    result
}

async fn run_locked(
    app: &AppState,
    account: Uuid,
    mode: Mode,
    holder: Uuid,
    progress: Option<&(dyn Fn(super::Progress) + Sync)>,
) -> Result<Option<inbound::Report>, SyncError> {
    let Some((ws, account)) = accounts::find(&app.db, account).await? else { return Ok(None) };
    if account.status != "active" {
        return Ok(None);
    }
    let session = app.google.session(&app.db, account.id).await?;
    let policy = crate::contacts::phone_policy(app, ws).await?;
    let ctx = AccountRun { app, account, ws, session, policy, holder, progress };
    let report = match mode {
        Mode::Sync { full } => Some(inbound::run(&ctx, full).await?),
        Mode::Push => {
            // Before the first full sync has linked Google's people (and matched those already here),
            // pushing would create them in Google a second time; that sync pushes when it is done.
            let synced_once =
                state::get(&app.db, ctx.account.id, PEOPLE).await?.is_some_and(|s| s.last_full_sync_at.is_some());
            if !synced_once {
                return Ok(None);
            }
            None
        }
    };
    outbound::push(&ctx).await?;
    if ctx.account.last_error.is_some() {
        accounts::set_last_error(&app.db, ctx.account.id, None).await?;
    }
    Ok(report)
}

/// Shows why a run stopped and when it is retried: a refused grant stops the account until it is
/// reconnected; rate limits and outages retry after Google's `Retry-After` or a minute.
async fn record_failure(app: &AppState, account: Uuid, error: &SyncError) {
    let (message, retry_in) = match error {
        SyncError::LeaseLost => return,
        SyncError::Google(e) if e.is_invalid_grant() => {
            app.google.forget(account);
            let message = accounts::REAUTH_MESSAGE;
            if let Err(e) = accounts::mark_reauth_required(&app.db, account, message).await {
                tracing::error!(error = %e, "cannot record a Google account's refused grant");
            }
            (message.to_owned(), Duration::from_secs(3600))
        }
        SyncError::Google(e) if e.is_insufficient_scope() => (
            "Google did not grant access to contacts: reconnect and allow contacts".to_owned(),
            Duration::from_secs(3600),
        ),
        SyncError::Google(e) => (e.to_string(), e.retry_after().unwrap_or(Duration::from_secs(60))),
        other => (other.to_string(), Duration::from_secs(60)),
    };
    tracing::warn!(account = %account, "Google sync stopped: {message}");
    let counts = state::get(&app.db, account, PEOPLE).await.ok().flatten().map(|s| s.counts.0).unwrap_or_default();
    let next = Utc::now() + chrono::Duration::from_std(retry_in).unwrap_or_default();
    if let Err(e) = state::fail_run(&app.db, account, &message, &counts, next).await {
        tracing::error!(error = %e, "cannot record a Google sync failure");
    }
    if let Err(e) = accounts::set_last_error(&app.db, account, Some(&message)).await {
        tracing::error!(error = %e, "cannot record a Google sync failure");
    }
}
