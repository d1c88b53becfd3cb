//! The real client over real HTTP against the in-process Google emulator: OAuth with PKCE, token sessions,
//! People sync and writes, retries and Calendar. Each test starts its own emulator, so they run in parallel
//! without sharing accounts, faults or counters.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use google_emulator::{
    CALENDAR_SCOPE, CONTACTS_SCOPE, Emulator, EmulatorConfig, Fault, FaultKind, RunningEmulator,
    TokenSet as IssuedTokens,
};
use serde_json::json;
use switchboard_google::calendar::{Event, EventDateTime, FreeBusyRequest, ListEvents, TimePeriod};
use switchboard_google::oauth::{AuthorizationRequest, Pkce, random_url_safe, scope};
use switchboard_google::people::{ListConnections, Name, Person};
use switchboard_google::{AccessToken, ClientConfig, GoogleClient, Session, TokenSet};

const ANN: &str = "ann@example.com";
/// Never contacted: the test reads the emulator's 302 instead of following it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/google/callback";

// ---- helpers ---------------------------------------------------------------------------------------------

/// An emulator with Ann's account. `delay_factor` scales its Retry-After values and injected latency.
async fn emulator(delay_factor: f64) -> RunningEmulator {
    let config = EmulatorConfig { delay_factor, seed_accounts: vec![ANN.into()], ..Default::default() };
    Emulator::start(config).await.expect("emulator starts")
}

/// Patient enough for a loaded CI machine, quick to retry: 3 attempts, 10 ms first backoff.
fn fast_config(emu: &RunningEmulator) -> ClientConfig {
    let mut config = ClientConfig::new("id", "secret").with_base_url(emu.base_url());
    config.timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    config.max_attempts = 3;
    config.initial_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(40);
    config.max_retry_after = Duration::from_secs(5);
    config
}

fn client(emu: &RunningEmulator) -> GoogleClient {
    GoogleClient::new(fast_config(emu)).expect("client builds")
}

/// Tokens as the emulator issues them for Ann (as if she had consented to `scopes`).
fn issue(emu: &RunningEmulator, scopes: &[&str]) -> IssuedTokens {
    emu.control().issue_tokens(ANN, scopes).expect("tokens issued")
}

/// What our store would hold for `issued`, with the access token expiring `expires_in` from now.
fn stored(issued: &IssuedTokens, expires_in: TimeDelta) -> TokenSet {
    TokenSet {
        refresh_token: issued.refresh_token.clone().expect("issue_tokens grants offline access"),
        access_token: Some(AccessToken { token: issued.access_token.clone(), expires_at: Utc::now() + expires_in }),
        scope: Some(issued.scope.clone()),
    }
}

/// A session for Ann with a fresh access token for `scopes`.
fn session(emu: &RunningEmulator, scopes: &[&str]) -> Session {
    Session::new(stored(&issue(emu, scopes), TimeDelta::hours(1)))
}

fn requests(emu: &RunningEmulator, method: &str) -> u64 {
    emu.control().counters().requests(method)
}

fn person(given: &str, family: &str) -> Person {
    let name = Name { given_name: Some(given.into()), family_name: Some(family.into()), ..Name::default() };
    Person { names: vec![name], ..Person::default() }
}

fn given_name(person: &Person) -> Option<&str> {
    person.primary_name()?.given_name.as_deref()
}

/// A fixed hour in the future, in whole seconds (freeBusy answers in seconds).
fn slot() -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(2031, 3, 4, 10, 0, 0).unwrap();
    (start, start + TimeDelta::hours(1))
}

fn event(id: &str, summary: &str) -> Event {
    let (start, end) = slot();
    let mut event = Event {
        id: Some(id.into()),
        summary: Some(summary.into()),
        start: Some(EventDateTime::at(start)),
        end: Some(EventDateTime::at(end)),
        ..Event::default()
    };
    event.set_private_property("switchboardBooking", "b-1");
    event
}

/// reqwest is built here with `rustls-no-provider`, so even a plain-HTTP client needs a TLS config to start;
/// this one (ring, no roots) is never used against the emulator's http:// origin.
fn plain_http_tls() -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// Runs the browser leg of the OAuth flow: GETs the authorization URL without following redirects (the
/// emulator consents at once and 302s to the callback) and returns the callback's query.
async fn authorize(client: &GoogleClient, pkce: &Pkce, state: &str) -> HashMap<String, String> {
    let scopes = [scope::CONTACTS, scope::CALENDAR];
    let url = client.authorization_url(&AuthorizationRequest {
        redirect_uri: REDIRECT_URI,
        scopes: &scopes,
        state,
        code_challenge: &pkce.challenge,
        login_hint: Some(ANN),
        include_granted_scopes: false,
    });
    let browser = reqwest::Client::builder()
        .tls_backend_preconfigured(plain_http_tls())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.expect("authorization endpoint answers");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let location = reqwest::Url::parse(location).unwrap();
    location.query_pairs().into_owned().collect()
}

// ---- OAuth -----------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_code_exchange_with_pkce() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let pkce = Pkce::generate();
    let state = random_url_safe(16);

    let callback = authorize(&client, &pkce, &state).await;
    assert_eq!(callback["state"], state, "state is echoed back");
    let tokens = client.exchange_code(&callback["code"], &pkce.verifier, REDIRECT_URI).await.unwrap();
    assert!(tokens.refresh_token.is_some(), "access_type=offline + prompt=consent gives a refresh token");
    assert!(tokens.has_scope(scope::CONTACTS) && tokens.has_scope(scope::CALENDAR), "{:?}", tokens.scope);
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, Some(3599));

    // The tokens work on the API.
    let session = Session::from_token_response(&tokens).unwrap();
    client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_wrong_verifier_is_invalid_grant() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let pkce = Pkce::generate();
    let callback = authorize(&client, &pkce, "s").await;

    let other = Pkce::generate();
    let err = client.exchange_code(&callback["code"], &other.verifier, REDIRECT_URI).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_refresh_and_revoke() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let pkce = Pkce::generate();
    let callback = authorize(&client, &pkce, "s").await;
    let granted = client.exchange_code(&callback["code"], &pkce.verifier, REDIRECT_URI).await.unwrap();
    let refresh_token = granted.refresh_token.clone().unwrap();

    // A refresh answers a new access token and, as Google does, no refresh token.
    let refreshed = client.refresh(&refresh_token).await.unwrap();
    assert_ne!(refreshed.access_token, granted.access_token);
    assert_eq!(refreshed.refresh_token, None);
    assert!(refreshed.has_scope(scope::CONTACTS));

    // A session that refreshes keeps the refresh token it had.
    let session = Session::new(TokenSet { refresh_token: refresh_token.clone(), access_token: None, scope: None });
    let access = client.access_token(&session).await.unwrap();
    let tokens = session.tokens().await;
    assert_eq!(tokens.refresh_token, refresh_token);
    assert_eq!(tokens.access_token.unwrap().token, access);
    assert!(tokens.scope.unwrap().contains(scope::CONTACTS), "scope taken from the refresh answer");

    // Revoking kills the grant: the refresh token is dead, and so is the access token it issued (the
    // client's refresh after the 401 fails, and that is what the caller sees).
    client.revoke(&refresh_token).await.unwrap();
    let err = client.refresh(&refresh_token).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    let err = client.list_connections(&session, &ListConnections::full_sync()).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
}

// ---- Session ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_refreshes_a_token_about_to_expire_before_calling() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let issued = issue(&emu, &[CONTACTS_SCOPE]);
    // 30 s left is inside the one-minute margin, though the emulator would still accept it.
    let session = Session::new(stored(&issued, TimeDelta::seconds(30)));

    client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
    assert_eq!(requests(&emu, "oauth.token"), 1, "refreshed once, up front");
    assert_eq!(requests(&emu, "people.connections.list"), 1, "no 401 round trip");

    let saved = session.take_refreshed().await.expect("new tokens to persist");
    let access = saved.access_token.unwrap();
    assert_ne!(access.token, issued.access_token);
    assert!(access.expires_at > Utc::now() + TimeDelta::minutes(55));
    assert_eq!(Some(saved.refresh_token), issued.refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_refreshes_once_after_401() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let issued = issue(&emu, &[CONTACTS_SCOPE]);
    let session = Session::new(stored(&issued, TimeDelta::hours(1)));
    assert!(session.take_refreshed().await.is_none(), "stored tokens are not new");

    // Our clock says the token is good for an hour; Google disagrees.
    assert_eq!(emu.control().expire_access_tokens(ANN).unwrap(), 1);
    let page = client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
    assert_eq!(page.connections.len(), 0);
    assert_eq!(requests(&emu, "people.connections.list"), 2, "401, then the retry with the new token");
    assert_eq!(requests(&emu, "oauth.token"), 1);

    let saved = session.take_refreshed().await.expect("the refreshed tokens");
    assert_ne!(saved.access_token.unwrap().token, issued.access_token);
    assert_eq!(Some(saved.refresh_token), issued.refresh_token);
    assert!(session.take_refreshed().await.is_none(), "taken once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_refresh() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = Session::new(stored(&issue(&emu, &[CONTACTS_SCOPE]), TimeDelta::seconds(5)));
    let params = ListConnections::full_sync();

    let (a, b, c, d) = tokio::join!(
        client.list_connections(&session, &params),
        client.list_connections(&session, &params),
        client.list_connections(&session, &params),
        client.list_connections(&session, &params),
    );
    for result in [a, b, c, d] {
        result.unwrap();
    }
    assert_eq!(requests(&emu, "oauth.token"), 1);
    assert_eq!(requests(&emu, "people.connections.list"), 4);
}

// ---- People ----------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_full_sync_pages_then_incremental() {
    let emu = emulator(0.001).await;
    let control = emu.control();
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);
    control.generate_people(ANN, 250).unwrap();

    // Full sync, 100 a page: 100 + 100 + 50, the sync token only on the last page.
    let first = ListConnections { page_size: Some(100), ..ListConnections::full_sync() };
    let mut pages = vec![client.list_connections(&session, &first).await.unwrap()];
    while let Some(token) = pages.last().unwrap().next_page_token.clone() {
        assert!(pages.len() < 10, "paging does not end");
        pages.push(client.list_connections(&session, &first.with_page_token(token)).await.unwrap());
    }
    let sizes: Vec<usize> = pages.iter().map(|p| p.connections.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(pages[..2].iter().all(|p| p.next_sync_token.is_none()));
    assert_eq!(pages[0].total_items, Some(250));
    let sync_token = pages[2].next_sync_token.clone().expect("sync token on the last page");
    let names: Vec<String> =
        pages.iter().flat_map(|p| &p.connections).filter_map(|p| p.resource_name.clone()).collect();
    assert_eq!(names.len(), 250);

    // The user creates, edits and deletes in Google; the incremental sync returns exactly those three.
    let created = control.create_person(ANN, json!({ "names": [{ "givenName": "Newcomer" }] })).unwrap();
    let created = created["resourceName"].as_str().unwrap().to_owned();
    control.update_person(ANN, &names[0], json!({ "names": [{ "givenName": "Renamed" }] })).unwrap();
    control.delete_person(ANN, &names[1]).unwrap();

    let changes = client.list_connections(&session, &ListConnections::incremental(&sync_token)).await.unwrap();
    let by_name: HashMap<&str, &Person> =
        changes.connections.iter().map(|p| (p.resource_name.as_deref().unwrap(), p)).collect();
    assert_eq!(by_name.len(), 3, "{:?}", by_name.keys());
    assert_eq!(given_name(by_name[created.as_str()]), Some("Newcomer"));
    assert_eq!(given_name(by_name[names[0].as_str()]), Some("Renamed"));
    assert!(by_name[names[1].as_str()].is_deleted(), "deleted ones come with metadata.deleted");
    assert!(!by_name[names[0].as_str()].is_deleted());

    // Nothing changed since: an empty page and another token.
    let next_token = changes.next_sync_token.expect("incremental answers a new sync token");
    let quiet = client.list_connections(&session, &ListConnections::incremental(&next_token)).await.unwrap();
    assert!(quiet.connections.is_empty());

    // Google expires the tokens: the client says "full sync".
    control.expire_sync_tokens(ANN).unwrap();
    let err = client.list_connections(&session, &ListConnections::incremental(&next_token)).await.unwrap_err();
    assert!(err.is_expired_sync_token(), "{err:?}");
    assert_eq!(err.status(), Some(400), "People answers 400 FAILED_PRECONDITION, not 410");
    assert!(!err.is_etag_mismatch() && !err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_contact_writes_and_etags() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);

    let mut ada = person("Ada", "Lovelace");
    ada.set_client_data("switchboardContact", "c-1");
    let created = client.create_contact(&session, &ada, "").await.unwrap();
    let name = created.resource_name.clone().expect("resource name");
    let etag = created.etag.clone().expect("etag");
    assert_eq!(given_name(&created), Some("Ada"));

    let read = client.get_person(&session, &name, "names,clientData,metadata").await.unwrap();
    assert_eq!(read.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(read.client_data_value("switchboardContact"), Some("c-1"));

    // An update carrying the etag we read succeeds and moves the etag on.
    let change = Person { etag: Some(etag.clone()), ..person("Augusta Ada", "King") };
    let updated = client.update_contact(&session, &name, &change, "names", "names").await.unwrap();
    assert_eq!(given_name(&updated), Some("Augusta Ada"));
    let new_etag = updated.etag.clone().expect("etag");
    assert_ne!(new_etag, etag);

    // The old etag is now stale.
    let stale = Person { etag: Some(etag), ..person("Lost", "Update") };
    let err = client.update_contact(&session, &name, &stale, "names", "").await.unwrap_err();
    assert!(err.is_etag_mismatch(), "{err:?}");
    assert!(!err.is_expired_sync_token());
    let unchanged = client.get_person(&session, &name, "names").await.unwrap();
    assert_eq!(given_name(&unchanged), Some("Augusta Ada"));

    client.delete_contact(&session, &name).await.unwrap();
    let err = client.get_person(&session, &name, "names").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = client.delete_contact(&session, &name).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_missing_person_is_not_found() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);
    let err = client.get_person(&session, "people/c999999999", "names").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_with_calendar_only_token_is_insufficient_scope() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CALENDAR_SCOPE]);
    let err = client.list_connections(&session, &ListConnections::full_sync()).await.unwrap_err();
    assert!(err.is_insufficient_scope(), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert!(!err.is_retryable() && !err.is_rate_limited());
    assert_eq!(requests(&emu, "oauth.token"), 0, "a 403 is not a reason to refresh");
}

// ---- Retries ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_429_is_waited_out() {
    // 0.2: Retry-After "1" arrives as "0.2", far above the 10 ms backoff, so the elapsed time shows which
    // of the two the client waited.
    let emu = emulator(0.2).await;
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);
    let fault = Fault::new(FaultKind::TooManyRequests { retry_after_secs: 1 }, 2);
    emu.control().inject_fault(fault.only_for("people.connections.list"));

    let started = Instant::now();
    client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400), "waited 2 x 200 ms: {:?}", started.elapsed());
    assert_eq!(requests(&emu, "people.connections.list"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);
    emu.control().inject_fault(Fault::new(FaultKind::ServerError, 2).only_for("people"));

    client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
    assert_eq!(requests(&emu, "people.connections.list"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_max_attempts() {
    let emu = emulator(0.001).await;
    let control = emu.control();
    let client = client(&emu);
    let session = session(&emu, &[CONTACTS_SCOPE]);
    let params = ListConnections::full_sync();

    control.inject_fault(Fault::new(FaultKind::ServiceUnavailable, 10).only_for("people.connections.list"));
    let err = client.list_connections(&session, &params).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert!(err.is_retryable(), "retryable, but the attempts are spent");
    assert_eq!(requests(&emu, "people.connections.list"), 3, "max_attempts");

    control.clear_faults();
    control.reset_counters();
    control.inject_fault(Fault::new(FaultKind::ServerError, 10).only_for("people.connections.list"));
    let err = client.list_connections(&session, &params).await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert_eq!(requests(&emu, "people.connections.list"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_beyond_the_cap_is_returned_at_once() {
    let emu = emulator(1.0).await;
    let mut config = fast_config(&emu);
    config.max_retry_after = Duration::from_secs(1);
    let client = GoogleClient::new(config).unwrap();
    let session = session(&emu, &[CONTACTS_SCOPE]);
    emu.control().inject_fault(Fault::new(FaultKind::TooManyRequests { retry_after_secs: 30 }, 1));

    let started = Instant::now();
    let err = client.list_connections(&session, &ListConnections::full_sync()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "did not wait: {:?}", started.elapsed());
    assert!(err.is_rate_limited(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "so the caller can reschedule");
    assert_eq!(requests(&emu, "people.connections.list"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_attempt_is_retried() {
    let emu = emulator(1.0).await;
    let mut config = fast_config(&emu);
    config.timeout = Duration::from_millis(300);
    let client = GoogleClient::new(config).unwrap();
    let session = session(&emu, &[CONTACTS_SCOPE]);
    let latency = Fault::new(FaultKind::Latency { ms: 1500 }, 1).only_for("people.connections.list");
    emu.control().inject_fault(latency);

    let started = Instant::now();
    client.list_connections(&session, &ListConnections::full_sync()).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "the first attempt ran into the timeout: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "and was not waited out: {elapsed:?}");
    assert_eq!(requests(&emu, "people.connections.list"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_at_the_token_endpoint() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let refresh_token = issue(&emu, &[CONTACTS_SCOPE]).refresh_token.unwrap();
    emu.control().inject_fault(Fault::new(FaultKind::InvalidGrant, 1).only_for("/token"));

    let err = client.refresh(&refresh_token).await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    assert_eq!(requests(&emu, "oauth.token"), 1, "invalid_grant is final, not retried");
    // The fault is spent and the token itself was fine.
    client.refresh(&refresh_token).await.unwrap();
}

// ---- Calendar --------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_insert_get_patch() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CALENDAR_SCOPE]);
    let (start, end) = slot();

    let inserted = client.insert_event(&session, "primary", &event("sb0booking0001", "Consultation")).await.unwrap();
    assert_eq!(inserted.id.as_deref(), Some("sb0booking0001"), "our id is kept");
    assert_eq!(inserted.status.as_deref(), Some("confirmed"));

    let read = client.get_event(&session, "primary", "sb0booking0001").await.unwrap();
    assert_eq!(read.summary.as_deref(), Some("Consultation"));
    assert_eq!(read.private_property("switchboardBooking"), Some("b-1"));
    assert_eq!(read.start.unwrap().date_time.map(|t| t.to_utc()), Some(start));
    assert_eq!(read.end.unwrap().date_time.map(|t| t.to_utc()), Some(end));

    let change = Event { summary: Some("Consultation (moved room)".into()), ..Event::default() };
    let patched = client.patch_event(&session, "primary", "sb0booking0001", &change, None).await.unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Consultation (moved room)"));
    assert_eq!(patched.private_property("switchboardBooking"), Some("b-1"), "patch keeps what it does not name");
    assert_ne!(patched.etag, inserted.etag);

    // A patch conditioned on the etag read before someone else's change fails (412) and changes nothing.
    let late = Event { summary: Some("Consultation (late edit)".into()), ..Event::default() };
    let stale = inserted.etag.as_deref();
    let err = client.patch_event(&session, "primary", "sb0booking0001", &late, stale).await.unwrap_err();
    assert_eq!(err.status(), Some(412), "{err:?}");
    assert!(err.is_etag_mismatch() && !err.is_retryable(), "{err:?}");
    let read = client.get_event(&session, "primary", "sb0booking0001").await.unwrap();
    assert_eq!(read.summary.as_deref(), Some("Consultation (moved room)"));
    let current = read.etag.as_deref();
    let patched = client.patch_event(&session, "primary", "sb0booking0001", &late, current).await.unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Consultation (late edit)"), "the current etag applies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_duplicate_insert_is_409() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CALENDAR_SCOPE]);
    let booking = event("sb0booking0002", "Consultation");

    client.insert_event(&session, "primary", &booking).await.unwrap();
    // A retried insert with the same id must not create a second event.
    let err = client.insert_event(&session, "primary", &booking).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err:?}");
    assert!(err.body().unwrap().has_reason("duplicate"));
    assert!(!err.is_retryable() && !err.is_etag_mismatch());
    assert_eq!(emu.control().list_events(ANN).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_sync_shows_cancellations_and_expires() {
    let emu = emulator(0.001).await;
    let control = emu.control();
    let client = client(&emu);
    let session = session(&emu, &[CALENDAR_SCOPE]);
    client.insert_event(&session, "primary", &event("sb0booking0003", "Consultation")).await.unwrap();

    let full = client.list_events(&session, "primary", &ListEvents::default()).await.unwrap();
    let ids: Vec<_> = full.items.iter().filter_map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, ["sb0booking0003"]);
    let sync_token = full.next_sync_token.expect("sync token on the last page");

    client.delete_event(&session, "primary", "sb0booking0003").await.unwrap();
    let by_sync = ListEvents { sync_token: Some(sync_token), ..ListEvents::default() };
    let changes = client.list_events(&session, "primary", &by_sync).await.unwrap();
    assert_eq!(changes.items.len(), 1);
    assert_eq!(changes.items[0].id.as_deref(), Some("sb0booking0003"));
    assert!(changes.items[0].is_cancelled(), "the delete shows up as a cancelled event");
    // Deleting again: 410 `deleted`, which reads as not found.
    let err = client.delete_event(&session, "primary", "sb0booking0003").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    control.expire_calendar_sync_tokens(ANN).unwrap();
    let by_sync = ListEvents { sync_token: changes.next_sync_token, ..ListEvents::default() };
    assert!(by_sync.sync_token.is_some());
    let err = client.list_events(&session, "primary", &by_sync).await.unwrap_err();
    assert_eq!(err.status(), Some(410));
    assert!(err.is_expired_sync_token(), "{err:?}");
    assert!(!err.is_not_found(), "410 fullSyncRequired is not a deleted event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_free_busy() {
    let emu = emulator(0.001).await;
    let client = client(&emu);
    let session = session(&emu, &[CALENDAR_SCOPE]);
    let (start, end) = slot();
    client.insert_event(&session, "primary", &event("sb0booking0004", "Consultation")).await.unwrap();

    let query = FreeBusyRequest::new(start - TimeDelta::hours(2), end + TimeDelta::hours(2), ["primary"]);
    let answer = client.free_busy(&session, &query).await.unwrap();
    assert_eq!(answer.calendars["primary"].busy, [TimePeriod { start, end }]);
    assert!(answer.calendars["primary"].errors.is_empty());

    // A window that misses the event is free.
    let earlier = FreeBusyRequest::new(start - TimeDelta::hours(3), start, ["primary"]);
    let answer = client.free_busy(&session, &earlier).await.unwrap();
    assert!(answer.calendars["primary"].busy.is_empty());
}
