//! `/token` (authorization_code with PKCE, refresh_token), `/revoke` and userinfo.

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::grants::TokenSet;
use super::param;
use crate::auth::{AuthFailure, authorize};
use crate::errors::{ApiError, json_ok, oauth};
use crate::state::{Emulator, World};

type Params = Vec<(String, String)>;

pub(crate) async fn token(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(oauth::invalid_request("Request body must be application/x-www-form-urlencoded."));
    };
    let (client_id, client_secret) = client_credentials(&headers, &form);
    let config = emu.config();
    let Some(client_id) = client_id else {
        return Err(oauth::invalid_request("Could not determine client ID from request."));
    };
    if config.client_id.as_ref().is_some_and(|id| *id != client_id) {
        return Err(oauth::invalid_client("The OAuth client was not found."));
    }
    if config.client_secret.as_ref().is_some_and(|s| Some(s) != client_secret.as_ref()) {
        return Err(oauth::invalid_client("Unauthorized"));
    }
    let mut world = emu.lock();
    let tokens = match param(&form, "grant_type") {
        Some("authorization_code") => exchange_code(&mut world, &form, &client_id)?,
        Some("refresh_token") => refresh(&mut world, &form, &client_id)?,
        Some(other) => {
            return Err(ApiError::oauth(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")));
        }
        None => return Err(oauth::invalid_request("Missing required parameter: grant_type")),
    };
    let mut response = json_ok(tokens);
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Client id and secret from the form, or from HTTP Basic (both are allowed by Google).
fn client_credentials(headers: &HeaderMap, form: &Params) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(i, p)| (i.to_owned(), p.to_owned())));
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (param(form, "client_id").map(str::to_owned), param(form, "client_secret").map(str::to_owned)),
    }
}

fn exchange_code(world: &mut World, form: &Params, client_id: &str) -> Result<Value, ApiError> {
    let code = param(form, "code").ok_or_else(|| oauth::invalid_request("Missing required parameter: code"))?;
    // Codes are single-use: removed before any check, so a failed attempt burns it too.
    let now = world.now();
    let grant = world.oauth.codes.remove(code).ok_or_else(|| oauth::invalid_grant("Bad Request"))?;
    if grant.expires <= now || grant.client_id != client_id {
        return Err(oauth::invalid_grant("Bad Request"));
    }
    if param(form, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(ApiError::oauth(400, "redirect_uri_mismatch", "Bad Request"));
    }
    if let Some((challenge, method)) = &grant.challenge {
        let verifier = param(form, "code_verifier").ok_or_else(|| oauth::invalid_grant("Missing code verifier."))?;
        let computed = match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.to_owned(),
        };
        if computed != *challenge {
            return Err(oauth::invalid_grant("Invalid code verifier."));
        }
    }
    // Google sends a refresh token on the first offline consent, or again with prompt=consent.
    let offline = grant.offline && (grant.prompt_consent || !world.oauth.has_live_refresh(&grant.email, client_id));
    let World { oauth, rng, .. } = world;
    let set = oauth.issue(rng, now, &grant.email, client_id, grant.scopes.clone(), offline);
    let mut body = serde_json::to_value(&set).unwrap_or_default();
    if grant.scopes.iter().any(|s| s == "openid") {
        let profile_id = world.accounts.get(&grant.email).map(|a| a.profile_id.clone()).unwrap_or_default();
        body["id_token"] = json!(id_token(&grant.email, &profile_id, client_id, now));
    }
    Ok(body)
}

fn refresh(world: &mut World, form: &Params, client_id: &str) -> Result<Value, ApiError> {
    let token = param(form, "refresh_token")
        .ok_or_else(|| oauth::invalid_request("Missing required parameter: refresh_token"))?;
    let now = world.now();
    let World { oauth, rng, .. } = world;
    let set: TokenSet = oauth.refresh(rng, now, token, client_id).ok_or_else(oauth::invalid_grant_revoked)?;
    if let Some(asked) = param(form, "scope") {
        let granted: Vec<&str> = set.scope.split(' ').collect();
        if asked.split_whitespace().any(|s| !granted.contains(&s)) {
            return Err(ApiError::oauth(400, "invalid_scope", "Some requested scopes were invalid."));
        }
    }
    Ok(serde_json::to_value(&set).unwrap_or_default())
}

/// An unsigned-in-spirit id_token: clients read its claims, nobody here verifies it.
fn id_token(email: &str, sub: &str, client_id: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let header = json!({ "alg": "RS256", "kid": "google-emulator", "typ": "JWT" });
    let claims = json!({
        "iss": "https://accounts.google.com",
        "azp": client_id,
        "aud": client_id,
        "sub": sub,
        "email": email,
        "email_verified": true,
        "iat": now.timestamp(),
        "exp": now.timestamp() + super::grants::ACCESS_TOKEN_SECS,
    });
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", part(&header), part(&claims), URL_SAFE_NO_PAD.encode("emulator"))
}

/// `POST /revoke?token=…` (or the token in a form body); GET is accepted too.
pub(crate) async fn revoke(State(emu): State<Emulator>, Query(query): Query<Params>, body: Bytes) -> Response {
    let form: Params = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let token = param(&query, "token").or_else(|| param(&form, "token")).unwrap_or_default().to_owned();
    if emu.lock().oauth.revoke_token(&token) {
        json_ok(json!({}))
    } else {
        ApiError::oauth(400, "invalid_token", "Token expired or revoked").into_response()
    }
}

/// OpenID userinfo (`www.googleapis.com/oauth2/v3/userinfo`), for clients that ask who consented.
pub(crate) async fn userinfo(State(emu): State<Emulator>, headers: HeaderMap) -> Result<Response, ApiError> {
    let world = emu.lock();
    let email = authorize(&world, &headers, "oauth.userinfo").map_err(|failure| match failure {
        AuthFailure::Scope => ApiError::oauth(403, "insufficient_scope", "Insufficient Permission"),
        _ => ApiError::oauth(401, "invalid_request", "Invalid Credentials"),
    })?;
    let sub = world.accounts.get(&email).map(|a| a.profile_id.clone()).unwrap_or_default();
    Ok(json_ok(json!({ "sub": sub, "email": email, "email_verified": true })))
}
