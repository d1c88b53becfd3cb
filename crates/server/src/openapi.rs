//! The OpenAPI document: generated from the handlers' annotations, plus the `/api/v1/auth` aliases.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The document's static parts.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "switchboard",
        description = "One source of truth for a business's contacts and appointments. \
            Errors share one body: {success: false, error_code, error, detail, fields, request_id}; version \
            conflicts (409) and failed If-Match (412) add `current`, the server's copy.\n\n\
            Realtime: Socket.IO (protocol v5, socket.io-client 4.x) at `/socket.io/`. Handshake with \
            `auth: {api_key, agent_code, device_id}` or `auth: {token}` (also as headers or query). The server \
            emits `authenticated` `{device_id, agent_code, current_version}`, then `contact_created`, \
            `contact_updated`, `contact_deleted` with `{contact, version, created_by}` (flat contact) for every \
            change except the device's own; emit `sync` with a version (or `{version, limit}`) to get the delta \
            page in the ack. Server-Sent Events: `GET /api/v1/events`.",
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in, token refresh, the current principal"),
        (name = "users", description = "Workspace members (admin)"),
        (name = "api-keys", description = "API keys (admin)"),
        (name = "agents", description = "Field agents (admin)"),
        (name = "contacts", description = "Contacts (canonical API)"),
        (name = "lookup", description = "Caller lookup by phone number, any format (contacts:read)"),
        (name = "agent", description = "The seed-001 agent API: flat contacts in {success, data}; validation errors are 400"),
        (name = "sync", description = "Delta sync, offline push, devices, statistics, events"),
        (name = "changes", description = "The change feed as audit log (admin)"),
        (name = "directory", description = "Desk-phone directories: directory tokens (admin) and the vendor XML documents phones read"),
        (name = "ops", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token from /api/v2/auth/login, or an API key (sk_…)"))
                    .build(),
            ),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// Adds `/api/v1/auth/*` as aliases of `/api/v2/auth/*` (same handlers).
pub fn add_auth_aliases(doc: &mut OpenApi) {
    let aliases: Vec<_> = doc
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            path.strip_prefix("/api/v2/auth/").map(|rest| (format!("/api/v1/auth/{rest}"), item.clone()))
        })
        .collect();
    for (path, item) in aliases {
        doc.paths.paths.insert(path, item);
    }
}
