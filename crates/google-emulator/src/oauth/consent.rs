//! `/o/oauth2/v2/auth`: validates the request, picks the consenting account, then either
//! consents at once (auto-consent) or serves an Allow/Deny page whose form posts to
//! `/o/oauth2/v2/auth/consent`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::grants::{AuthCode, PendingConsent};
use super::{param, with_query};
use crate::auth::{is_known_scope, normalize_scope};
use crate::state::{ConsentPlan, Emulator, World};

type Params = Vec<(String, String)>;

pub(crate) async fn authorize(State(emu): State<Emulator>, Query(params): Query<Params>) -> Response {
    let auto = emu.config().auto_consent;
    let mut world = emu.lock();
    let plan = world.next_consent.take().unwrap_or_default();
    let request = match validate(&emu, &world, &params, &plan) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if auto {
        let granted = match &plan.grant_scopes {
            Some(only) => {
                let only: Vec<String> = only.iter().map(|s| normalize_scope(s)).collect();
                request.scopes.iter().filter(|s| only.contains(s)).cloned().collect()
            }
            None => request.scopes.clone(),
        };
        return redirect(&complete(&mut world, request, granted, plan.deny));
    }
    let id = world.rng.token(24);
    world.oauth.pending.insert(id.clone(), request.clone());
    Html(consent_page(&id, &request)).into_response()
}

pub(crate) async fn decide(State(emu): State<Emulator>, Form(form): Form<Params>) -> Response {
    let mut world = emu.lock();
    let Some(request) = param(&form, "request").and_then(|id| world.oauth.pending.remove(id)) else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_request", "Unknown or already answered consent request.");
    };
    let deny = param(&form, "decision") != Some("allow");
    let ticked: Vec<&str> = form.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()).collect();
    let granted = request.scopes.iter().filter(|s| ticked.contains(&s.as_str())).cloned().collect();
    redirect(&complete(&mut world, request, granted, deny))
}

/// Checks the authorization request the way Google's consent screen does; an `Err` is the
/// page (or error redirect) to answer with.
fn validate(
    emu: &Emulator,
    world: &World,
    params: &Params,
    plan: &ConsentPlan,
) -> Result<PendingConsent, Box<Response>> {
    let config = emu.config();
    let client_id = param(params, "client_id").unwrap_or_default();
    if client_id.is_empty() || config.client_id.as_deref().is_some_and(|id| id != client_id) {
        return Err(boxed_page(StatusCode::UNAUTHORIZED, "invalid_client", "The OAuth client was not found."));
    }
    let redirect_uri = param(params, "redirect_uri").unwrap_or_default();
    let allowed = match &config.redirect_uris {
        Some(list) => list.iter().any(|u| u == redirect_uri),
        None => redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://"),
    };
    if !allowed {
        return Err(boxed_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "The redirect URI in the request does not match the ones authorized for the OAuth client.",
        ));
    }
    let state = param(params, "state").map(str::to_owned);
    if param(params, "response_type") != Some("code") {
        let mut pairs = vec![("error", "unsupported_response_type")];
        pairs.extend(state.as_deref().map(|s| ("state", s)));
        return Err(Box::new(redirect(&with_query(redirect_uri, &pairs))));
    }
    let requested: Vec<String> =
        param(params, "scope").unwrap_or_default().split_whitespace().map(normalize_scope).collect();
    if requested.is_empty() {
        return Err(boxed_page(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: scope"));
    }
    if let Some(bad) = requested.iter().find(|s| !is_known_scope(s)) {
        return Err(boxed_page(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("Some requested scopes were invalid. {{invalid=[{bad}]}}"),
        ));
    }
    let challenge = match (param(params, "code_challenge"), param(params, "code_challenge_method")) {
        (None, _) => None,
        (Some(c), None | Some("plain")) => Some((c.to_owned(), "plain".to_owned())),
        (Some(c), Some("S256")) => Some((c.to_owned(), "S256".to_owned())),
        (Some(_), Some(_)) => {
            return Err(boxed_page(StatusCode::BAD_REQUEST, "invalid_request", "Invalid code_challenge_method."));
        }
    };
    let email = pick_account(emu, world, params, plan).ok_or_else(|| {
        boxed_page(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The emulator has no account to consent with (add one through the control API).",
        )
    })?;
    let mut scopes = requested;
    if param(params, "include_granted_scopes") == Some("true") {
        scopes.extend(world.oauth.granted_scopes(&email, client_id));
    }
    scopes.sort();
    scopes.dedup();
    let prompt = param(params, "prompt").unwrap_or_default();
    Ok(PendingConsent {
        email,
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state,
        scopes,
        challenge,
        offline: param(params, "access_type") == Some("offline"),
        prompt_consent: prompt.split_whitespace().any(|p| p == "consent"),
    })
}

/// The one-shot plan's account, else `login_hint` if it names an account, else the default.
fn pick_account(emu: &Emulator, world: &World, params: &Params, plan: &ConsentPlan) -> Option<String> {
    if let Some(email) = &plan.email {
        return world.account_key(email);
    }
    param(params, "login_hint")
        .and_then(|hint| world.account_key(hint))
        .or_else(|| emu.config().default_account.as_deref().and_then(|e| world.account_key(e)))
        .or_else(|| world.accounts.keys().next().cloned())
}

/// Issues the code (or the denial) and returns the redirect target.
fn complete(world: &mut World, request: PendingConsent, granted: Vec<String>, deny: bool) -> String {
    let state = request.state.clone();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if deny {
        pairs.push(("error", "access_denied".into()));
    } else {
        let code = format!("4/0{}", world.rng.token(40));
        let scope = granted.join(" ");
        let expires = world.now() + chrono::Duration::seconds(super::grants::CODE_SECS);
        world.oauth.codes.insert(
            code.clone(),
            AuthCode {
                client_id: request.client_id,
                redirect_uri: request.redirect_uri.clone(),
                email: request.email,
                scopes: granted,
                challenge: request.challenge,
                offline: request.offline,
                prompt_consent: request.prompt_consent,
                expires,
            },
        );
        pairs.push(("code", code));
        pairs.push(("scope", scope));
    }
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_query(&request.redirect_uri, &borrowed)
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error {code}: {error}</title></head>\
         <body><h1>Access blocked: Authorization Error</h1><p>{description}</p><p>Error {code}: {error}</p></body></html>",
        code = status.as_u16(),
        error = escape(error),
        description = escape(description),
    );
    (status, Html(body)).into_response()
}

fn boxed_page(status: StatusCode, error: &str, description: &str) -> Box<Response> {
    Box::new(error_page(status, error, description))
}

fn consent_page(id: &str, request: &PendingConsent) -> String {
    let scopes: String = request
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li><label><input type=\"checkbox\" name=\"scope\" value=\"{0}\" checked> {0}</label></li>",
                escape(s)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in - Google Accounts (emulator)</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">\
         <h1>{client} wants access to your Google Account</h1><p>Signed in as <b>{email}</b></p>\
         <form method=\"post\" action=\"/o/oauth2/v2/auth/consent\"><input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <ul>{scopes}</ul>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button> \
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button></form></body></html>",
        client = escape(&request.client_id),
        email = escape(&request.email),
        id = escape(id),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
