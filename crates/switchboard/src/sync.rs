//! `switchboard sync google`: runs Google Contacts syncs in this process, with a progress bar. It takes the
//! same per-account lease as the server's worker, so it never syncs an account a running server is syncing.

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard_server::google::worker::{Mode, sync_account_with};
use switchboard_server::google::{Progress, SyncError, accounts, state};
use switchboard_server::{Application, Config};

/// Sync subcommands.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Sync every active Google account that syncs contacts (or one): Google → contacts, then contacts →
    /// Google.
    Google {
        /// Download everything again and reconcile (tombstones contacts whose person is gone from Google).
        #[arg(long)]
        full: bool,
        /// Only this Google account (its email).
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
    },
}

/// Runs a sync subcommand.
pub async fn run(cmd: SyncCommand, config: Config) -> anyhow::Result<()> {
    let SyncCommand::Google { full, account } = cmd;
    let app = Application::worker_state(config).await.context("switchboard could not start")?;
    app.google.client().map_err(|e| anyhow::anyhow!("{e}"))?;
    let ids = state::active(&app.db, state::PEOPLE).await?;
    let mut synced = 0;
    for (id, _) in ids {
        let Some((_, acct)) = accounts::find(&app.db, id).await? else { continue };
        if account.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case(&acct.account_email)) {
            continue;
        }
        synced += 1;
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} people {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(acct.account_email.clone());
        let report = |p: Progress| {
            if let Some(total) = p.total {
                bar.set_length(u64::from(total));
            }
            bar.set_position(p.people);
            bar.set_message(format!("(page {})", p.pages));
        };
        let outcome = sync_account_with(&app, id, Mode::Sync { full }, Some(&report)).await;
        // The bar is drawn only on a terminal; the outcome is printed as a line either way.
        bar.finish_and_clear();
        let email = &acct.account_email;
        match outcome {
            Ok(Some(r)) => println!(
                "{email}: {} sync: {} created, {} updated, {} deleted, {} unchanged, {} failed ({} pages)",
                if r.full { "full" } else { "incremental" },
                r.counts.created,
                r.counts.updated,
                r.counts.deleted,
                r.unchanged,
                r.counts.failed,
                r.pages
            ),
            Ok(None) => println!("{email}: skipped (the account is not active)"),
            Err(SyncError::LeaseLost) => {
                println!("{email}: another instance is syncing this account now; try again shortly")
            }
            Err(e) => anyhow::bail!("{email}: {e}"),
        }
    }
    match (synced, account) {
        (0, Some(email)) => anyhow::bail!("no active Google account {email} syncs contacts here"),
        (0, None) => anyhow::bail!("no active Google account syncs contacts; connect one with GET /api/v1/auth/google"),
        _ => Ok(()),
    }
}
