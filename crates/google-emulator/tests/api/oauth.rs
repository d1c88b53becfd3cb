//! OAuth: consent redirect, code exchange with PKCE, refresh, revoke, errors.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use google_emulator::{CONTACTS_SCOPE, ConsentPlan, EmulatorConfig};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Reply, TestEmu, USER};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9MhZ3eXPVvc8QkR7aT4yYX2bWpQ";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Runs the consent step; returns the redirect's query parameters.
async fn authorize(t: &TestEmu, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut params = vec![
        ("client_id", "client-1"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email https://www.googleapis.com/auth/contacts"),
        ("state", "st-123"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("login_hint", USER),
    ];
    params.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    params.extend_from_slice(extra);
    let response = t.http.get(t.url("/o/oauth2/v2/auth")).query(&params).send().await.unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    Url::parse(&location).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn token(t: &TestEmu, form: &[(&str, &str)]) -> Reply {
    crate::reply(t.http.post(t.url("/token")).form(form).send().await.unwrap()).await
}

async fn exchange(t: &TestEmu, code: &str, verifier: Option<&str>) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", "client-1"),
        ("client_secret", "secret"),
        ("redirect_uri", REDIRECT),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    token(t, &form).await
}

fn revoked() -> Value {
    json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." })
}

#[tokio::test]
async fn code_flow_with_pkce_refresh_and_revoke() {
    let t = TestEmu::start().await;
    let pkce = [("code_challenge", challenge(VERIFIER)), ("code_challenge_method", "S256".into())];
    let pkce: Vec<(&str, &str)> = pkce.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // A wrong verifier fails, and burns the code.
    let q = authorize(&t, &pkce).await;
    assert_eq!(q["state"], "st-123");
    assert!(q["scope"].contains(CONTACTS_SCOPE) && q["scope"].contains("userinfo.email"));
    let r = exchange(&t, &q["code"], Some("wrong-verifier-wrong-verifier-wrong-verifier-1")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_grant");
    let r = exchange(&t, &q["code"], Some(VERIFIER)).await;
    assert_eq!(r.body["error"], "invalid_grant", "codes are single-use");

    // Missing verifier when a challenge was given.
    let q = authorize(&t, &pkce).await;
    let r = exchange(&t, &q["code"], None).await;
    assert_eq!(r.body["error"], "invalid_grant");

    let q = authorize(&t, &pkce).await;
    let r = exchange(&t, &q["code"], Some(VERIFIER)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["expires_in"], 3599);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["scope"].as_str().unwrap().split(' ').any(|s| s == CONTACTS_SCOPE));
    assert!(r.body["id_token"].is_string(), "openid was requested");
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let list = "/v1/people/me/connections?personFields=names";
    assert_eq!(t.call_as(&access, Method::GET, list, None).await.status, 200);

    // Refresh: a new access token, and no refresh_token in the answer.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", "client-1"),
        ("client_secret", "s"),
    ];
    let r = token(&t, &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("refresh_token").is_none());
    assert_eq!(r.body["expires_in"], 3599);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(access2, access);
    assert_eq!(t.call_as(&access2, Method::GET, list, None).await.status, 200);

    // Revoke (token in the query): refresh → invalid_grant, access tokens → 401.
    let r = crate::reply(t.http.post(t.url("/revoke")).query(&[("token", &refresh)]).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    let r = token(&t, &form).await;
    assert_eq!((r.status.as_u16(), r.body), (400, revoked()));
    assert_eq!(t.call_as(&access2, Method::GET, list, None).await.status, 401);
    let r = crate::reply(t.http.post(t.url("/revoke")).form(&[("token", &refresh)]).send().await.unwrap()).await;
    assert_eq!(r.status, 400, "already revoked");
}

#[tokio::test]
async fn refresh_tokens_only_offline_and_on_consent() {
    let t = TestEmu::start().await;
    let q = authorize(&t, &[("access_type", "online")]).await;
    let r = exchange(&t, &q["code"], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("refresh_token").is_none(), "online access: no refresh token");

    let q = authorize(&t, &[]).await;
    assert!(exchange(&t, &q["code"], None).await.body["refresh_token"].is_string());
    // Already consented offline, no prompt=consent: Google sends no new refresh token.
    let q = authorize(&t, &[("prompt", "select_account")]).await;
    assert!(exchange(&t, &q["code"], None).await.body.get("refresh_token").is_none());
    let q = authorize(&t, &[]).await;
    assert!(exchange(&t, &q["code"], None).await.body["refresh_token"].is_string());
}

#[tokio::test]
async fn token_endpoint_errors() {
    let t = TestEmu::with(EmulatorConfig {
        client_id: Some("client-1".into()),
        client_secret: Some("secret".into()),
        ..EmulatorConfig::default()
    })
    .await;
    t.control().add_account(USER);
    let q = authorize(&t, &[]).await;

    let r = exchange(&t, &q["code"], None).await;
    let (access, refresh) = (r.body["access_token"].as_str().unwrap(), r.body["refresh_token"].as_str().unwrap());
    assert!(!access.is_empty());

    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "other"),
            ("client_secret", "secret"),
        ],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (401, Some("invalid_client")));
    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "client-1"),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (401, Some("invalid_client")));
    let r = token(&t, &[("grant_type", "password"), ("client_id", "client-1"), ("client_secret", "secret")]).await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "1//bogus"),
            ("client_id", "client-1"),
            ("client_secret", "secret"),
        ],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.body), (400, revoked()));

    // Client credentials by HTTP Basic work too.
    let r = crate::reply(
        t.http
            .post(t.url("/token"))
            .basic_auth("client-1", Some("secret"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // redirect_uri must match the one of the consent.
    let q = authorize(&t, &[]).await;
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("client_id", "client-1"),
            ("client_secret", "secret"),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "redirect_uri_mismatch");

    // The control API's revoke_grants: refresh → invalid_grant.
    t.control().revoke_grants(USER).unwrap();
    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "client-1"),
            ("client_secret", "secret"),
        ],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.body), (400, revoked()));

    // An unknown client is refused on the consent screen, without a redirect.
    let r = t
        .http
        .get(t.url("/o/oauth2/v2/auth"))
        .query(&[
            ("client_id", "evil"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", CONTACTS_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn consent_plan_denial_and_bad_requests() {
    let t = TestEmu::start().await;
    let cal = "https://www.googleapis.com/auth/calendar.events";
    t.control().set_next_consent(ConsentPlan { grant_scopes: Some(vec![CONTACTS_SCOPE.into()]), ..Default::default() });
    let q = authorize(&t, &[("scope", &format!("{CONTACTS_SCOPE} {cal}"))]).await;
    assert_eq!(q["scope"], CONTACTS_SCOPE, "the user unticked calendar");
    let r = exchange(&t, &q["code"], None).await;
    assert_eq!(r.body["scope"], CONTACTS_SCOPE);

    t.control().set_next_consent(ConsentPlan { deny: true, ..Default::default() });
    let q = authorize(&t, &[]).await;
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));

    let q = authorize(&t, &[("response_type", "token")]).await;
    assert_eq!(q["error"], "unsupported_response_type");

    let r = t
        .http
        .get(t.url("/o/oauth2/v2/auth"))
        .query(&[("client_id", "c"), ("redirect_uri", REDIRECT), ("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "scope is required");
    let r = t
        .http
        .get(t.url("/o/oauth2/v2/auth"))
        .query(&[("client_id", "c"), ("redirect_uri", "ftp://x"), ("response_type", "code"), ("scope", CONTACTS_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "redirect_uri must be http(s)");
}

#[tokio::test]
async fn consent_page_when_auto_consent_is_off() {
    let t = TestEmu::with(EmulatorConfig { auto_consent: false, ..EmulatorConfig::default() }).await;
    let params = [
        ("client_id", "client-1"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", CONTACTS_SCOPE),
        ("state", "s1"),
    ];
    let page = t.http.get(t.url("/o/oauth2/v2/auth")).query(&params).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains(USER) && html.contains(CONTACTS_SCOPE));
    let request = html.split("name=\"request\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let allow = t
        .http
        .post(t.url("/o/oauth2/v2/auth/consent"))
        .form(&[("request", request.as_str()), ("decision", "allow"), ("scope", CONTACTS_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(allow.status(), 302);
    let location = allow.headers()["location"].to_str().unwrap();
    assert!(location.contains("code=") && location.contains("state=s1"), "{location}");

    let page = t.http.get(t.url("/o/oauth2/v2/auth")).query(&params).send().await.unwrap().text().await.unwrap();
    let request = page.split("name=\"request\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let deny = t
        .http
        .post(t.url("/o/oauth2/v2/auth/consent"))
        .form(&[("request", request.as_str()), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    let location = deny.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=access_denied") && location.contains("state=s1"), "{location}");
}
