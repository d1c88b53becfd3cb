//! Socket.IO at `/socket.io/` (protocol v5, today's `socket.io-client` 4.x), with socketioxide.
//!
//! - Handshake: `auth: {api_key, agent_code, device_id}` or `auth: {token}` (a user's access token);
//!   clients that cannot set `auth` may send the same as headers (`Authorization`, `X-API-Key`,
//!   `X-Agent-Code`, `X-Device-Id`) or query parameters. A bad credential or an inactive agent is a
//!   connect error whose message says why (`INVALID_API_KEY: The API key is not valid`).
//! - The socket joins its workspace, agent and device rooms and receives `authenticated` with
//!   `{device_id, agent_code, current_version}`.
//! - Every committed change goes to the workspace room except the device that made it, as
//!   `contact_created` / `contact_updated` / `contact_deleted` with `{contact, version, created_by}`
//!   (the seed-001 flat contact).
//! - `sync` with a version (a number or `{version, limit}`) acks the delta page, the same `data` as
//!   `GET /api/sync/delta`.

use super::DeviceKey;
use crate::auth::principal::{AgentClaim, authenticate_api_key, authenticate_token};
use crate::auth::{Actor, Principal};
use crate::contacts::agent::FlatContact;
use crate::error::AppError;
use crate::feed::ChangeOp;
use crate::feed::tail::{Feed, FeedEvent};
use crate::state::AppState;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use std::sync::Arc;
use switchboard_domain::{Permission, WorkspaceId};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// What a connected socket is, kept in its extensions.
#[derive(Clone)]
struct Session {
    principal: Principal,
    device: Option<DeviceKey>,
}

/// A connect error: its text is the message the client's `connect_error` shows.
#[derive(Debug)]
struct ConnectRefused(String);

impl std::fmt::Display for ConnectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AppError> for ConnectRefused {
    fn from(e: AppError) -> Self {
        let body = e.body();
        ConnectRefused(format!("{}: {}", body.error_code, body.error))
    }
}

/// The Socket.IO layer and its handle.
pub fn layer(state: AppState) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder().with_state(state).build_layer();
    io.ns("/", on_connect.with(authenticate));
    (layer, io)
}

fn workspace_room(ws: WorkspaceId) -> String {
    format!("ws:{}", ws.0)
}

/// The room of one device: changes it made are not echoed back to it.
fn device_room(ws: WorkspaceId, agent_code: &str, device: &str) -> String {
    format!("device:{}:{agent_code}:{device}", ws.0)
}

/// The credential from `auth`, else headers, else the query string.
async fn authenticate(
    socket: SocketRef,
    State(state): State<AppState>,
    TryData(auth): TryData<Value>,
) -> Result<(), ConnectRefused> {
    let auth = auth.unwrap_or(Value::Null);
    let parts = socket.req_parts();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let find = |auth_key: &str, header: &str| -> Option<String> {
        auth.get(auth_key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| parts.headers.get(header).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .or_else(|| query.iter().find(|(k, _)| k == auth_key).map(|(_, v)| v.clone()))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let bearer = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|v| v.trim().to_owned());
    let api_key = find("api_key", "x-api-key").or_else(|| bearer.clone().filter(|b| b.starts_with("sk_")));
    let token = find("token", "x-access-token").or_else(|| bearer.filter(|b| !b.starts_with("sk_")));
    let (agent_code, device_id) = (find("agent_code", "x-agent-code"), find("device_id", "x-device-id"));
    let principal = match (api_key, token) {
        (Some(key), _) => {
            let claim = AgentClaim { code: agent_code.as_deref(), device: device_id.as_deref() };
            authenticate_api_key(&state, &key, claim).await?
        }
        (None, Some(token)) => authenticate_token(&state, &token).await?,
        (None, None) => {
            return Err(ConnectRefused(
                "AUTHENTICATION_REQUIRED: send auth: {api_key, agent_code, device_id} or auth: {token}".into(),
            ));
        }
    };
    principal.require(Permission::ContactsRead)?;
    let device = match &principal.actor {
        Actor::ApiKey { agent: Some(agent), device: Some(d), .. } => {
            Some((principal.workspace_id, agent.id, d.as_str().to_owned()))
        }
        _ => None,
    };
    socket.extensions.insert(Session { principal, device });
    Ok(())
}

async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    let Some(session) = socket.extensions.get::<Session>() else { return };
    let ws = session.principal.workspace_id;
    socket.join(workspace_room(ws));
    let (agent_code, device_id) = match &session.principal.actor {
        Actor::ApiKey { agent, device, .. } => {
            (agent.as_ref().map(|a| a.code.clone()), device.as_ref().map(|d| d.as_str().to_owned()))
        }
        Actor::User { .. } => (None, None),
    };
    if let Some(code) = &agent_code {
        socket.join(format!("agent:{}:{code}", ws.0));
        if let Some(device) = &device_id {
            socket.join(device_room(ws, code, device));
        }
    }
    if let Some(key) = &session.device {
        state.connections.open(key.clone());
        state.usage.touch_agent(ws, key.1, Some(&key.2));
    }
    let current_version = current_version(&state, ws).await.unwrap_or_default();
    let _ = socket.emit(
        "authenticated",
        &json!({"device_id": device_id, "agent_code": agent_code, "current_version": current_version}),
    );
    socket.on("sync", on_sync);
    socket.on_disconnect(async |socket: SocketRef, State(state): State<AppState>| {
        if let Some(Session { device: Some(key), .. }) = socket.extensions.get::<Session>() {
            state.connections.close(&key);
        }
    });
}

async fn current_version(state: &AppState, ws: WorkspaceId) -> Result<i64, AppError> {
    let mut pooled = state.db.acquire().await?;
    Ok(crate::feed::current_version(&mut pooled.conn(), ws).await?)
}

/// `sync`: the delta page after the given version, in the ack.
async fn on_sync(socket: SocketRef, State(state): State<AppState>, TryData(data): TryData<Value>, ack: AckSender) {
    let Some(session) = socket.extensions.get::<Session>() else { return };
    let data = data.unwrap_or(Value::Null);
    let version = data.as_i64().or_else(|| data.get("version").and_then(Value::as_i64)).unwrap_or(0);
    let limit = data.get("limit").and_then(Value::as_i64).unwrap_or(crate::sync::DEFAULT_PAGE);
    let query = crate::sync::DeltaQuery { version: Some(version), limit: Some(limit) };
    // A `sync` costs what a REST delta costs, so it counts against the same per-credential limit.
    let allowed = state
        .limits
        .check_credential(session.principal.credential_id())
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs });
    let answer = match allowed.and_then(|()| query.parse()) {
        Ok((version, limit)) => crate::sync::routes::flat_delta(&state, &session.principal, version, limit).await,
        Err(e) => Err(e),
    };
    let reply = match answer {
        Ok(page) => json!({"success": true, "data": page}),
        Err(e) => serde_json::to_value(e.body()).unwrap_or_default(),
    };
    let _ = ack.send(&reply);
}

/// Emits every committed change to the sockets of its workspace on this instance, until `stop`.
pub async fn fan_out(io: SocketIo, feed: Arc<Feed>, stop: CancellationToken) {
    let mut events = feed.subscribe();
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break,
            e = events.recv() => e,
        };
        match event {
            Ok(event) => emit(&io, &event).await,
            Err(RecvError::Lagged(missed)) => {
                // Events were dropped (e.g. a large import faster than the sockets drain). Rather than leave
                // clients silently behind, disconnect them: they reconnect and catch up by delta sync,
                // which is what the seed-001 clients do on every reconnect.
                tracing::warn!(missed, "realtime fan-out fell behind; disconnecting sockets so they resync");
                if let Err(e) = io.disconnect().await {
                    tracing::warn!(error = %e, "could not disconnect lagging sockets");
                }
            }
            Err(RecvError::Closed) => break,
        }
    }
}

async fn emit(io: &SocketIo, event: &FeedEvent) {
    let name = match event.op {
        ChangeOp::Create => "contact_created",
        ChangeOp::Update => "contact_updated",
        ChangeOp::Delete => "contact_deleted",
    };
    let payload = json!({
        "contact": FlatContact::from(&*event.contact),
        "version": event.version,
        "created_by": event.author,
    });
    let to = io.to(workspace_room(event.workspace));
    let to = match &event.device {
        Some(device) => to.except(device_room(event.workspace, &event.author, device)),
        None => to,
    };
    if let Err(e) = to.emit(name, &payload).await {
        tracing::warn!(error = %e, "could not emit a change to sockets");
    }
}
