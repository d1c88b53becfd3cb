//! `switchboard admin …`: direct management in the database, for first setup and recovery. Keys and
//! passwords created here are printed once.

use anyhow::Context;
use clap::Subcommand;
use switchboard_domain::{AgentCode, Email, PersonName, Role, Scope, ScopeSet, WorkspaceId};
use switchboard_server::Config;
use switchboard_server::app::connect_and_migrate;
use switchboard_server::error::AppError;
use switchboard_server::pagination::{ListQuery, PageRequest};
use switchboard_server::{agents, api_keys, directory, users, workspaces};

/// Admin subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a workspace.
    CreateWorkspace {
        /// Display name.
        #[arg(long)]
        name: String,
        /// URL-safe short name [default: derived from the name]
        #[arg(long)]
        slug: Option<String>,
    },
    /// List workspaces.
    ListWorkspaces,
    /// Add a user to a workspace (creating the user when the email is new; prints a generated password).
    CreateUser {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// Login email.
        #[arg(long)]
        email: String,
        /// viewer, member, admin or owner.
        #[arg(long, default_value = "member")]
        role: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Create an API key (prints the key once).
    CreateApiKey {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// What uses the key.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: contacts:read, contacts:write, directory:read, google:sync, admin
        /// [default with --agent: contacts:read,contacts:write]
        #[arg(long)]
        scopes: Option<String>,
        /// Bind the key to this agent code.
        #[arg(long)]
        agent: Option<String>,
    },
    /// List a workspace's API keys (never their secrets).
    ListApiKeys {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
    },
    /// Revoke an API key by id or prefix.
    RevokeApiKey {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// Key id, or the prefix shown in lists.
        #[arg(long)]
        key: String,
    },
    /// Create a read-only directory token for desk phones and PBXs (prints the token and its URLs once).
    CreateDirectoryToken {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// What uses the token ("Front desk phones").
        #[arg(long)]
        name: String,
        /// Comma-separated labels: list only contacts with one of them [default: every contact]
        #[arg(long, value_delimiter = ',')]
        labels: Vec<String>,
        /// Entry cap for a vendor that downloads the whole book, as vendor=N (yealink, grandstream, snom,
        /// poly; default 1000 each); repeat for several.
        #[arg(long = "cap", value_name = "VENDOR=N")]
        caps: Vec<String>,
        /// This server's address, to print complete URLs [default: print paths]
        #[arg(long)]
        base_url: Option<String>,
    },
    /// List a workspace's directory tokens (never the tokens themselves).
    ListDirectoryTokens {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a directory token by id.
    RevokeDirectoryToken {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// Token id (from list-directory-tokens).
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Create an agent.
    CreateAgent {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// Unique agent code.
        #[arg(long)]
        code: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Deactivate an agent: all of its keys get 403 from then on.
    DeactivateAgent {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// Agent code.
        #[arg(long)]
        code: String,
    },
    /// Insert generated contacts for benchmarks and demos, straight through the store: names, 1-3 numbers,
    /// companies, emails, labels. No change-feed rows are written (no history or realtime events): run it
    /// while no server serves the workspace, or restart the servers afterwards.
    GenerateContacts {
        /// Workspace slug or id.
        #[arg(long)]
        workspace: String,
        /// How many contacts.
        #[arg(long)]
        count: u64,
        /// The same seed gives the same contacts (ids and timestamps aside).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(fields) | AppError::Conflict { fields, .. } if !fields.is_empty() => {
            anyhow::anyhow!("{}", fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        }
        AppError::NotFound => anyhow::anyhow!("not found"),
        other => anyhow::anyhow!("{other}"),
    }
}

fn field(e: switchboard_domain::FieldError) -> anyhow::Error {
    anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message)
}

/// Runs an admin command.
pub async fn run(cmd: AdminCommand, config: &Config) -> anyhow::Result<()> {
    let db = connect_and_migrate(config).await?;
    let workspace = |slug: String| {
        let db = db.clone();
        async move {
            workspaces::resolve(&db, &slug)
                .await
                .map_err(|_| anyhow::anyhow!("no workspace '{slug}' (try `admin list-workspaces`)"))
        }
    };
    match cmd {
        AdminCommand::CreateWorkspace { name, slug } => {
            let ws = workspaces::create(&db, &name, slug.as_deref()).await.map_err(explain)?;
            println!("created workspace {} (slug {}, id {})", ws.name, ws.slug, ws.id);
        }
        AdminCommand::ListWorkspaces => {
            for ws in workspaces::list_all(&db).await? {
                println!("{}  {:<24} {}", ws.id, ws.slug, ws.name);
            }
        }
        AdminCommand::CreateUser { workspace: w, email, role, name } => {
            let ws = workspace(w).await?;
            let new = users::NewMember {
                email: Email::parse("email", &email).map_err(field)?,
                name: PersonName::parse("name", &name).map_err(field)?,
                role: role.parse::<Role>().map_err(|m| anyhow::anyhow!("--role: {m}"))?,
                password: None,
            };
            let (member, password) = users::create_member(&db, WorkspaceId(ws.id), new).await.map_err(explain)?;
            println!("added {} to {} as {}", member.email, ws.slug, member.role);
            match password {
                Some(p) => println!("password (shown once): {p}"),
                None => println!("existing user: their password is unchanged"),
            }
        }
        AdminCommand::CreateApiKey { workspace: w, name, scopes, agent } => {
            let ws = workspace(w).await?;
            let name = api_keys::parse_name(&name).map_err(field)?;
            let agent = agent.map(|c| AgentCode::parse("agent", &c)).transpose().map_err(field)?;
            let scopes = match (scopes, &agent) {
                (Some(s), _) => ScopeSet::parse([s.as_str()]).map_err(|m| anyhow::anyhow!("--scopes: {m}"))?,
                (None, Some(_)) => ScopeSet::new(Scope::AGENT_DEFAULT).expect("non-empty"),
                (None, None) => anyhow::bail!("--scopes is required for keys not bound to an agent"),
            };
            let (record, key) = api_keys::create(&db, WorkspaceId(ws.id), &name, &scopes, agent.as_ref(), None)
                .await
                .map_err(explain)?;
            println!("created API key {} ({}) with scopes: {}", record.name, record.id, record.scopes);
            println!("key (shown once): {key}");
        }
        AdminCommand::ListApiKeys { workspace: w } => {
            let ws = workspace(w).await?;
            let mut query = ListQuery { limit: Some(200), cursor: None };
            loop {
                let page = PageRequest::parse(&query).map_err(explain)?;
                let result = api_keys::list(&db, WorkspaceId(ws.id), &page, "").await.map_err(explain)?;
                for k in &result.results {
                    let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                    println!(
                        "{}  sk_{}_…  {:<8} {:<24} agent={:<10} scopes={} last_used={}",
                        k.id,
                        k.prefix,
                        state,
                        k.name,
                        k.agent_code.as_deref().unwrap_or("-"),
                        k.scopes,
                        k.last_used_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
                    );
                }
                match result.next.as_deref().and_then(|n| n.split("cursor=").nth(1)) {
                    Some(c) => query.cursor = Some(c.to_owned()),
                    None => break,
                }
            }
        }
        AdminCommand::RevokeApiKey { workspace: w, key } => {
            let ws = workspace(w).await?;
            let wanted = key.trim().trim_start_matches("sk_").trim_end_matches("_…").to_owned();
            let page = PageRequest::parse(&ListQuery { limit: Some(200), cursor: None }).map_err(explain)?;
            let mut found = None;
            let mut result = api_keys::list(&db, WorkspaceId(ws.id), &page, "").await.map_err(explain)?;
            loop {
                if let Some(k) = result.results.iter().find(|k| k.id.to_string() == wanted || k.prefix == wanted) {
                    found = Some(k.id);
                    break;
                }
                let Some(c) = result.next.as_deref().and_then(|n| n.split("cursor=").nth(1)) else { break };
                let page =
                    PageRequest::parse(&ListQuery { limit: Some(200), cursor: Some(c.to_owned()) }).map_err(explain)?;
                result = api_keys::list(&db, WorkspaceId(ws.id), &page, "").await.map_err(explain)?;
            }
            let id = found.with_context(|| format!("no API key '{key}' in workspace {}", ws.slug))?;
            let k = api_keys::revoke(&db, WorkspaceId(ws.id), id.into()).await.map_err(explain)?;
            println!("revoked {} (sk_{}_…); running servers stop accepting it within 5 seconds", k.name, k.prefix);
        }
        AdminCommand::CreateDirectoryToken { workspace: w, name, labels, caps, base_url } => {
            let ws = workspace(w).await?;
            let mut spec = directory::tokens::TokenSpec { name, labels, ..Default::default() };
            for cap in caps {
                let (vendor, n) = cap.split_once('=').with_context(|| format!("--cap {cap}: expected VENDOR=N"))?;
                let n: u32 = n.trim().parse().with_context(|| format!("--cap {cap}: N must be a number"))?;
                spec.caps.insert(vendor.trim().to_lowercase(), n);
            }
            let (record, token) =
                directory::tokens::create(&db, WorkspaceId(ws.id), &spec, "cli").await.map_err(explain)?;
            println!("created directory token {} ({})", record.name, record.id);
            println!("token (shown once): {token}");
            let base = base_url.as_deref().unwrap_or("").trim_end_matches('/');
            for (vendor, path) in directory::token_routes::paths_for(&token) {
                println!("  {vendor:<12} {base}{path}");
            }
        }
        AdminCommand::ListDirectoryTokens { workspace: w } => {
            let ws = workspace(w).await?;
            let mut query = ListQuery { limit: Some(200), cursor: None };
            loop {
                let page = PageRequest::parse(&query).map_err(explain)?;
                let result = directory::tokens::list(&db, WorkspaceId(ws.id), &page, "").await.map_err(explain)?;
                for t in &result.results {
                    let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                    let labels = if t.labels.is_empty() { "all".to_owned() } else { t.labels.join(",") };
                    println!("{}  {}…  {:<8} {:<24} labels={labels}", t.id, t.hint, state, t.name);
                }
                match result.next.as_deref().and_then(|n| n.split("cursor=").nth(1)) {
                    Some(c) => query.cursor = Some(c.to_owned()),
                    None => break,
                }
            }
        }
        AdminCommand::RevokeDirectoryToken { workspace: w, id } => {
            let ws = workspace(w).await?;
            let t = directory::tokens::revoke(&db, WorkspaceId(ws.id), id).await.map_err(explain)?;
            println!("revoked directory token {} ({}); running servers refuse it within 5 seconds", t.name, t.id);
        }
        AdminCommand::CreateAgent { workspace: w, code, name } => {
            let ws = workspace(w).await?;
            let code = AgentCode::parse("code", &code).map_err(field)?;
            let name = PersonName::parse("name", &name).map_err(field)?;
            let a = agents::create(&db, WorkspaceId(ws.id), &code, &name).await.map_err(explain)?;
            println!("created agent {} ({})", a.code, a.id);
        }
        AdminCommand::DeactivateAgent { workspace: w, code } => {
            let ws = workspace(w).await?;
            let code = AgentCode::parse("code", &code).map_err(field)?;
            let agent = agents::find_by_code(&db, WorkspaceId(ws.id), &code)
                .await
                .map_err(explain)?
                .with_context(|| format!("no agent '{}' in workspace {}", code.as_str(), ws.slug))?;
            agents::update(&db, WorkspaceId(ws.id), agent.id.into(), None, Some(false)).await.map_err(explain)?;
            println!("deactivated agent {}; its keys get 403 within 5 seconds", code.as_str());
        }
        AdminCommand::GenerateContacts { workspace: w, count, seed } => {
            let ws = workspace(w).await?;
            let started = std::time::Instant::now();
            let reported = std::cell::Cell::new(0);
            let progress = |done: u64| {
                if done / 100_000 > reported.get() {
                    reported.set(done / 100_000);
                    println!("  {done} contacts ({:.1} s)", started.elapsed().as_secs_f64());
                }
            };
            let n = switchboard_server::contacts::generate::generate(&db, WorkspaceId(ws.id), count, seed, progress)
                .await
                .map_err(explain)?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "generated {n} contacts in {} in {seconds:.1} s ({:.0} contacts/s); no change-feed rows were written",
                ws.slug,
                n as f64 / seconds.max(0.001)
            );
        }
    }
    db.close().await;
    Ok(())
}
