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
            Errors share one body: {success: false, error_code, error, detail, fields, request_id}.",
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in, token refresh, the current principal"),
        (name = "users", description = "Workspace members (admin)"),
        (name = "api-keys", description = "API keys (admin)"),
        (name = "agents", description = "Field agents (admin)"),
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
