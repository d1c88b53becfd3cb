//! Google Contacts sync against the project's Google emulator (crates/google-emulator): connecting an account
//! through the real OAuth redirect flow, full and incremental inbound sync, outbound pushes without echoes,
//! merges, expired tokens, per-field conflicts, Google's failures, a sync stopped mid-run, and two instances.

use crate::helpers::{Backend, TestApp, http};
use crate::socket_client::SocketClient;
use google_emulator::{ConsentPlan, Emulator, EmulatorConfig, Fault, FaultKind, RunningEmulator};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_server::google::links;
use switchboard_store::db_run;
use tokio::time::Instant;

crate::db_tests!(
    full_sync_pages_in_and_keeps_tokens_encrypted,
    changes_flow_both_ways_exactly_once,
    a_merge_in_google_keeps_one_contact,
    an_expired_token_reconciles_without_new_versions,
    edits_on_both_sides_merge_per_field,
    rate_limits_outages_and_timeouts_are_survived,
    a_refused_grant_stops_the_account_until_reconnected,
    a_sync_stopped_mid_run_redoes_one_page,
    the_cli_syncs_with_a_progress_bar,
    connecting_checks_who_what_and_the_consent,
    accounts_refresh_and_disconnect,
    pushes_keep_to_the_quota_and_skip_refused_contacts,
    contacts_already_here_are_linked_not_duplicated,
    a_refused_saved_page_starts_the_listing_over,
);

const EMAIL: &str = "ann@example.com";
const WAIT: Duration = Duration::from_secs(30);
const REDIRECT: &str = "http://switchboard.test/api/v1/auth/google/callback";

/// The server and the emulator, with one Google account connected through the OAuth flow.
struct Rig {
    app: TestApp,
    emu: RunningEmulator,
    account: String,
}

async fn emulator(delay_factor: f64) -> RunningEmulator {
    let config = EmulatorConfig { delay_factor, seed_accounts: vec![EMAIL.into()], ..Default::default() };
    Emulator::start(config).await.expect("emulator starts")
}

fn google_config(config: &mut switchboard_server::Config, emu: &RunningEmulator) {
    config.google.client_id = Some("test-client.apps.googleusercontent.com".into());
    config.google.client_secret = Some(switchboard_server::config::secrets::SecretValue::new("test-secret".into()));
    config.google.redirect_url = Some(REDIRECT.into());
    config.google.base_url = Some(emu.base_url());
    // Syncs run when a test triggers them (and once after connecting), not on their own.
    config.google.sync_interval = Duration::from_secs(3600);
    config.google.writes_per_minute = 0;
    config.google.request_timeout = Duration::from_secs(2);
    config.google.lease = Duration::from_secs(2);
}

impl Rig {
    /// Seeds `people` generated people, starts the server, connects the account and waits for the first sync.
    async fn start(backend: Backend, people: usize) -> Rig {
        let emu = emulator(0.001).await;
        emu.control().generate_people(EMAIL, people).unwrap();
        let app = TestApp::spawn_with(backend, |c| google_config(c, &emu)).await;
        let account = connect(&app, &emu, None).await["id"].as_str().unwrap().to_owned();
        let rig = Rig { app, emu, account };
        rig.wait_run().await;
        rig
    }

    /// The account's sync status.
    async fn status(&self) -> Value {
        let r = self
            .app
            .get(&format!("/api/v1/connected-accounts/{}/sync", self.account), &self.app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Waits until no run is requested or running, and returns the status.
    async fn wait_run(&self) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.status().await;
            let done = s["run_id"].is_null() && s["status"] != "syncing" && !s["last_full_sync_at"].is_null();
            if done || s["status"] == "error" {
                return s;
            }
            assert!(Instant::now() < deadline, "the sync did not finish: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Triggers a sync and waits for it; fails on a sync error.
    async fn sync(&self, full: bool) -> Value {
        let r = self.app.post("/api/v1/sync/google", &self.app.api_key, &json!({"full": full})).send().await.unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let s = self.wait_run().await;
        assert_ne!(s["status"], "error", "{s}");
        s
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        db_run!(&self.app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
    }

    /// The contact linked to a Google person.
    async fn contact_of(&self, resource_name: &str) -> Option<Value> {
        let id: Option<uuid::Uuid> = db_run!(&self.app.db, pool => sqlx::query_scalar(
            "SELECT entity_id FROM external_links WHERE remote_id = $1",
        ).bind(resource_name).fetch_optional(pool).await)
        .unwrap();
        let r = self.app.get(&format!("/api/v1/contacts/{}", id?), &self.app.api_key).send().await.unwrap();
        if r.status() != 200 {
            return None;
        }
        Some(r.json().await.unwrap())
    }

    /// Waits until `check` holds for the person in Google.
    async fn wait_person(&self, resource_name: &str, check: impl Fn(Option<&Value>) -> bool) -> Option<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let p = self.emu.control().get_person(EMAIL, resource_name).unwrap();
            if check(p.as_ref()) {
                return p;
            }
            assert!(Instant::now() < deadline, "Google never reached the expected state: {p:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn requests(&self, method: &str) -> u64 {
        self.emu.control().counters().requests(method)
    }
}

/// Connects the emulator's account the way a browser does: start, follow Google's consent redirect, land on
/// the callback. Returns the callback's JSON (the connected account).
async fn connect(app: &TestApp, emu: &RunningEmulator, scopes: Option<&str>) -> Value {
    let query = scopes.map(|s| format!("?scopes={s}")).unwrap_or_default();
    let r = app.get(&format!("/api/v1/auth/google{query}"), &app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let url = r.json::<Value>().await.unwrap()["authorization_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&emu.base_url()), "{url}");
    let browser = http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = browser.get(&url).send().await.unwrap();
    assert_eq!(consent.status(), 302, "{}", consent.text().await.unwrap());
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let back = reqwest::Url::parse(&location).unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    // The browser arrives at our callback with Google's query string.
    let callback = app.url(&format!("/api/v1/auth/google/callback?{}", back.query().unwrap()));
    let r = browser.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn full_sync_pages_in_and_keeps_tokens_encrypted(backend: Backend) {
    let rig = Rig::start(backend, 2_500).await;
    let s = rig.status().await;
    assert_eq!(s["counts"]["in"]["created"], 2_500, "{s}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 2_500);
    assert_eq!(rig.count("SELECT COUNT(*) FROM external_links WHERE remote_id IS NOT NULL").await, 2_500);
    assert_eq!(rig.requests("people.connections.list"), 3, "pages of 1,000");
    assert!(!s["last_full_sync_at"].is_null());

    // Nothing changed in Google: an incremental sync writes nothing.
    let before = rig.app.workspace_version().await;
    let s = rig.sync(false).await;
    assert!(!s["last_incremental_sync_at"].is_null());
    assert_eq!(rig.app.workspace_version().await, before);

    // Tokens at rest are sealed: neither token's text is in the row, and the rows are not interchangeable.
    let (refresh, access): (Vec<u8>, Vec<u8>) = db_run!(&rig.app.db, pool => sqlx::query_as(
        "SELECT refresh_token_enc, access_token_enc FROM connected_accounts",
    ).fetch_one(pool).await)
    .unwrap();
    for sealed in [&refresh, &access] {
        assert_eq!(sealed[0], 1, "sealed format version");
        assert!(sealed.len() > 1 + 24 + 16);
        assert!(!sealed.windows(3).any(|w| w == b"1//"), "a Google refresh token starts with 1//");
        assert!(!sealed.windows(5).any(|w| w == b"ya29."), "a Google access token starts with ya29.");
    }
    let listed: Value =
        rig.app.get("/api/v1/connected-accounts", &rig.app.api_key).send().await.unwrap().json().await.unwrap();
    let text = listed.to_string();
    assert!(!text.contains("token_enc") && !text.contains("1//"), "{text}");
    assert_eq!(listed[0]["account_email"], EMAIL);
    assert_eq!(listed[0]["contacts_sync"]["linked_contacts"], 2_500);
}

async fn changes_flow_both_ways_exactly_once(backend: Backend) {
    let rig = Rig::start(backend, 3).await;
    let control = rig.emu.control();
    let people = control.list_people(EMAIL).unwrap();
    let name = |i: usize| people[i]["resourceName"].as_str().unwrap().to_owned();
    let key = rig.app.agent_key("AG1").await;
    let mut device = SocketClient::connect(
        &format!("http://{}", rig.app.addr),
        json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": "phone-1"}}),
    );
    device.expect_event("authenticated", WAIT).await;

    // Edits "as the user in Google" reach the contacts, and the devices at once.
    let created = control
        .create_person(EMAIL, json!({"names": [{"givenName": "Zed", "familyName": "New"}], "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}]}))
        .unwrap();
    control
        .update_person(EMAIL, &name(0), json!({"names": [{"givenName": "Renamed", "familyName": "Person"}]}))
        .unwrap();
    control.delete_person(EMAIL, &name(1)).unwrap();
    rig.sync(false).await;
    let e = device.expect_event("contact_created", WAIT).await;
    assert_eq!(e["args"][0]["contact"]["first_name"], "Zed");
    assert_eq!(e["args"][0]["created_by"], format!("google:{EMAIL}"));
    let e = device.expect_event("contact_updated", WAIT).await;
    assert_eq!(e["args"][0]["contact"]["first_name"], "Renamed");
    device.expect_event("contact_deleted", WAIT).await;
    let zed = rig.contact_of(created["resourceName"].as_str().unwrap()).await.expect("linked");
    assert_eq!(zed["phones"][0]["e164"], "+442079460958");
    assert!(rig.contact_of(&name(1)).await.is_none(), "deleted in Google, deleted here");

    // A local edit reaches Google exactly once; its echo in the next incremental sync changes nothing.
    let ann = rig.contact_of(&name(0)).await.unwrap();
    let r = rig
        .app
        .patch(
            &format!("/api/v1/contacts/{}", ann["id"].as_str().unwrap()),
            &rig.app.api_key,
            &json!({"job_title": "CEO"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    rig.wait_person(&name(0), |p| p.is_some_and(|p| p["organizations"][0]["title"] == "CEO")).await;
    assert_eq!(rig.requests("people.updateContact"), 1);
    let before = rig.app.workspace_version().await;
    rig.sync(false).await;
    assert_eq!(rig.app.workspace_version().await, before, "our own write came back and was skipped");
    assert_eq!(rig.requests("people.updateContact"), 1, "no ping-pong");

    // A contact created here is created in Google once, tagged with our id; deleting it deletes the person.
    let r = rig
        .app
        .post(
            "/api/v1/contacts",
            &rig.app.api_key,
            &json!({"given_name": "Local", "emails": [{"address": "local@example.com"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let local: Value = r.json().await.unwrap();
    let local_id = local["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + WAIT;
    let remote = loop {
        let remote: Option<String> = db_run!(&rig.app.db, pool => sqlx::query_scalar(
            "SELECT remote_id FROM external_links WHERE entity_id = $1",
        ).bind(uuid::Uuid::parse_str(&local_id).unwrap()).fetch_optional(pool).await)
        .unwrap()
        .flatten();
        if let Some(r) = remote {
            break r;
        }
        assert!(Instant::now() < deadline, "the local contact never reached Google");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let person = control.get_person(EMAIL, &remote).unwrap().unwrap();
    assert_eq!(person["emailAddresses"][0]["value"], "local@example.com");
    assert_eq!(rig.requests("people.createContact"), 1);
    let before = rig.app.workspace_version().await;
    rig.sync(false).await;
    assert_eq!(rig.app.workspace_version().await, before, "the created person's echo is skipped");
    rig.app.delete(&format!("/api/v1/contacts/{local_id}"), &rig.app.api_key).send().await.unwrap();
    rig.wait_person(&remote, |p| p.is_none()).await;
    assert_eq!(rig.requests("people.deleteContact"), 1);
    assert_eq!(control.list_people(EMAIL).unwrap().len(), 3, "Zed and two of the three originals");
}

async fn a_merge_in_google_keeps_one_contact(backend: Backend) {
    let rig = Rig::start(backend, 2).await;
    let control = rig.emu.control();
    let people = control.list_people(EMAIL).unwrap();
    let (a, b) = (people[0]["resourceName"].as_str().unwrap(), people[1]["resourceName"].as_str().unwrap());
    assert!(rig.contact_of(a).await.is_some() && rig.contact_of(b).await.is_some());
    let kept = rig.contact_of(a).await.unwrap()["id"].clone();
    control.merge(EMAIL, a, b).unwrap();
    rig.sync(false).await;
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 1);
    let survivor = rig.contact_of(a).await.expect("the survivor stays linked");
    assert_eq!(survivor["id"], kept, "the survivor's contact is kept");
    assert_eq!(survivor["phones"].as_array().unwrap().len(), 2, "with the merged numbers");
    assert!(rig.contact_of(b).await.is_none());
}

async fn an_expired_token_reconciles_without_new_versions(backend: Backend) {
    let rig = Rig::start(backend, 50).await;
    let control = rig.emu.control();
    let before = rig.app.workspace_version().await;
    let lists = rig.requests("people.connections.list");
    control.expire_sync_tokens(EMAIL).unwrap();
    let s = rig.sync(false).await;
    assert_eq!(rig.app.workspace_version().await, before, "a reconcile over unchanged people writes nothing");
    assert_eq!(rig.requests("people.connections.list"), lists + 2, "the refused incremental, then the full sync");
    assert!(s["last_full_sync_at"].as_str() > Some(""));

    // Deleted in Google while the token was expired: the full sync's reconcile retires the contact.
    let gone = control.list_people(EMAIL).unwrap()[7]["resourceName"].as_str().unwrap().to_owned();
    control.delete_person(EMAIL, &gone).unwrap();
    control.expire_sync_tokens(EMAIL).unwrap();
    rig.sync(false).await;
    assert_eq!(rig.app.workspace_version().await, before + 1, "exactly the one tombstone");
    assert!(rig.contact_of(&gone).await.is_none());
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 49);
}

async fn edits_on_both_sides_merge_per_field(backend: Backend) {
    let rig = Rig::start(backend, 1).await;
    let control = rig.emu.control();
    let name = control.list_people(EMAIL).unwrap()[0]["resourceName"].as_str().unwrap().to_owned();
    let id = rig.contact_of(&name).await.unwrap()["id"].as_str().unwrap().to_owned();
    // Stop pushes so both sides hold an unsynced edit: the local edit is made while Google refuses writes.
    control.inject_fault(Fault::new(FaultKind::ServerError, 50).only_for("people.updateContact"));
    let r = rig
        .app
        .patch(
            &format!("/api/v1/contacts/{id}"),
            &rig.app.api_key,
            &json!({"job_title": "Local title", "nickname": "Locally"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Later, in Google: a different field, and one of the same fields.
    control
        .update_person(
            EMAIL,
            &name,
            json!({"biographies": [{"value": "Google notes"}], "nicknames": [{"value": "Googly"}]}),
        )
        .unwrap();
    control.clear_faults();
    rig.sync(false).await;
    let c = rig.contact_of(&name).await.unwrap();
    assert_eq!(c["notes"], "Google notes", "changed only in Google: Google's");
    assert_eq!(c["job_title"], "Local title", "changed only here: ours");
    assert_eq!(c["nickname"], "Googly", "changed on both sides: the later edit (Google's) wins");
    rig.wait_person(&name, |p| p.is_some_and(|p| p["organizations"][0]["title"] == "Local title")).await;
    let p = control.get_person(EMAIL, &name).unwrap().unwrap();
    assert_eq!(p["biographies"][0]["value"], "Google notes");
    assert_eq!(p["nicknames"][0]["value"], "Googly");
}

async fn rate_limits_outages_and_timeouts_are_survived(backend: Backend) {
    let emu = emulator(0.001).await;
    emu.control().generate_people(EMAIL, 1_200).unwrap();
    // A storm of 429s with Retry-After, then 500s, on the list calls of the first sync: four refusals in a
    // row, within the client's five attempts.
    emu.control().inject_fault(
        Fault::new(FaultKind::TooManyRequests { retry_after_secs: 2 }, 2).only_for("people.connections.list"),
    );
    emu.control().inject_fault(Fault::new(FaultKind::ServerError, 2).only_for("people.connections.list"));
    let app = TestApp::spawn_with(backend, |c| google_config(c, &emu)).await;
    let account = connect(&app, &emu, None).await["id"].as_str().unwrap().to_owned();
    let rig = Rig { app, emu, account };
    let s = rig.wait_run().await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 1_200);
    assert_eq!(rig.requests("people.connections.list"), 2 + 4, "two pages, four refusals retried");

    // More refusals than one call's attempts: the run stops with the error shown, keeps its place, and the
    // next run resumes.
    rig.emu.control().inject_fault(Fault::new(FaultKind::ServiceUnavailable, 5).only_for("people.connections.list"));
    rig.emu
        .control()
        .update_person(
            EMAIL,
            rig.emu.control().list_people(EMAIL).unwrap()[1]["resourceName"].as_str().unwrap(),
            json!({"nicknames": [{"value": "Later"}]}),
        )
        .unwrap();
    let r = rig.app.post("/api/v1/sync/google", &rig.app.api_key, &json!({})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let s = rig.wait_run().await;
    assert_eq!(s["status"], "error", "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("503"), "{s}");
    assert!(!s["next_run_at"].is_null());
    rig.sync(false).await;
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE nickname = 'Later'").await, 1);

    // 5 s latency (unscaled) against a 2 s timeout: the call times out, is retried, and succeeds.
    rig.emu.control().set_delay_factor(1.0);
    rig.emu.control().inject_fault(Fault::new(FaultKind::Latency { ms: 5_000 }, 1).only_for("people.connections.list"));
    rig.emu
        .control()
        .update_person(
            EMAIL,
            rig.emu.control().list_people(EMAIL).unwrap()[0]["resourceName"].as_str().unwrap(),
            json!({"nicknames": [{"value": "Slow"}]}),
        )
        .unwrap();
    let started = Instant::now();
    rig.sync(false).await;
    assert!(started.elapsed() >= Duration::from_secs(2), "the slow answer was waited for up to the timeout");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE nickname = 'Slow'").await, 1);
}

async fn a_refused_grant_stops_the_account_until_reconnected(backend: Backend) {
    let rig = Rig::start(backend, 5).await;
    let control = rig.emu.control();
    control.revoke_grants(EMAIL).unwrap();
    control.expire_access_tokens(EMAIL).unwrap();
    let r = rig.app.post("/api/v1/sync/google", &rig.app.api_key, &json!({})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let deadline = Instant::now() + WAIT;
    let s = loop {
        let s = rig.status().await;
        if s["reauth_required"] == true {
            break s;
        }
        assert!(Instant::now() < deadline, "never marked reauth_required: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(s["last_error"].as_str().unwrap().contains("reconnect"), "{s}");
    assert!(s["next_run_at"].is_null(), "no runs until reconnected");
    let r = rig.app.post("/api/v1/sync/google", &rig.app.api_key, &json!({})).send().await.unwrap();
    assert_eq!(r.status(), 409, "nothing to sync while the only account needs reconnecting");

    // Reconnecting the same Google account resumes it (same account row, new grant).
    control.create_person(EMAIL, json!({"names": [{"givenName": "After"}]})).unwrap();
    let again = connect(&rig.app, &rig.emu, None).await;
    assert_eq!(again["id"].as_str(), Some(rig.account.as_str()));
    assert_eq!(again["status"], "active");
    let s = rig.sync(false).await;
    assert_eq!(s["reauth_required"], false);
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE given_name = 'After'").await, 1);
}

async fn a_sync_stopped_mid_run_redoes_one_page(backend: Backend) {
    let emu = emulator(1.0).await;
    emu.control().generate_people(EMAIL, 2_500).unwrap();
    // Page two (fetched while page one is applied) takes four seconds: the server is stopped while it is in
    // flight, after page one is committed.
    emu.control().inject_fault(Fault::new(FaultKind::Latency { ms: 10 }, 1).only_for("people.connections.list"));
    emu.control().inject_fault(Fault::new(FaultKind::Latency { ms: 4_000 }, 1).only_for("people.connections.list"));
    let app = TestApp::spawn_with(backend, |c| {
        google_config(c, &emu);
        c.google.request_timeout = Duration::from_secs(10);
    })
    .await;
    let config = app.config.clone();
    let account = connect(&app, &emu, None).await["id"].as_str().unwrap().to_owned();
    let rig = Rig { app, emu, account };
    let deadline = Instant::now() + WAIT;
    while rig.count("SELECT COUNT(*) FROM sync_states WHERE run_page_token IS NOT NULL").await < 1
        || rig.requests("people.connections.list") < 2
    {
        assert!(Instant::now() < deadline, "page one never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts").await, 1_000, "stopped before page two was applied");
    let Rig { app, emu, account } = rig;
    let api_key = app.api_key.clone();
    app.stop().await;
    assert_eq!(emu.control().counters().requests("people.connections.list"), 2, "page two was asked for");

    // A new instance takes over once the stopped one's lease runs out, and resumes at page two.
    let mut app = TestApp::start(config).await.unwrap();
    app.api_key = api_key;
    let rig = Rig { app, emu, account };
    let s = rig.wait_run().await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts").await, 2_500, "no duplicates");
    assert_eq!(rig.count("SELECT COUNT(*) FROM external_links").await, 2_500);
    assert_eq!(rig.requests("people.connections.list"), 4, "pages one, two (stopped), two again, three");
}

/// With several instances on PostgreSQL, one syncs an account at a time: both are asked, one full sync
/// happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_sync_one_account_at_once() {
    let emu = emulator(1.0).await;
    emu.control().generate_people(EMAIL, 2_500).unwrap();
    emu.control().inject_fault(Fault::new(FaultKind::Latency { ms: 300 }, 3).only_for("people.connections.list"));
    // Leases long enough that neither runs out here: this is about exclusion, not takeover.
    let a = TestApp::spawn_with(Backend::Postgres, |c| {
        google_config(c, &emu);
        c.google.lease = Duration::from_secs(30);
    })
    .await;
    let b = TestApp::start(a.config.clone()).await.unwrap();
    let account = connect(&a, &emu, None).await["id"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        let r = app.post("/api/v1/sync/google", &a.api_key, &json!({})).send().await.unwrap();
        assert_eq!(r.status(), 202);
    }
    let rig = Rig { app: a, emu, account };
    let s = rig.wait_run().await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts").await, 2_500);
    assert_eq!(rig.requests("people.connections.list"), 3, "one full sync of three pages, by one instance");
    b.stop().await;
}

async fn the_cli_syncs_with_a_progress_bar(backend: Backend) {
    let rig = Rig::start(backend, 10).await;
    rig.emu.control().create_person(EMAIL, json!({"names": [{"givenName": "Cli", "familyName": "Made"}]})).unwrap();
    let out = cli(&rig, &[]).await;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{:?} {text}", out.status);
    assert!(text.contains("incremental sync: 1 created"), "{text}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE given_name = 'Cli'").await, 1);

    let out = cli(&rig, &["--full"]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("full sync: 0 created, 0 updated, 0 deleted, 11 unchanged"), "{text}");

    let out = cli(&rig, &["--account", "nobody@example.com"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active Google account nobody@example.com"));
}

/// Runs `switchboard sync google ARGS` on the rig's database and emulator.
async fn cli(rig: &Rig, args: &[&str]) -> std::process::Output {
    let c = rig.app.config.clone();
    let base = rig.emu.base_url();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["sync", "google"])
            .args(&args)
            .env("SWITCHBOARD_DATA_DIR", &c.data_dir)
            .env("DATABASE_URL", &c.database_url)
            .env("SWITCHBOARD_GOOGLE_CLIENT_ID", c.google.client_id.as_deref().unwrap())
            .env("SWITCHBOARD_GOOGLE_CLIENT_SECRET", "test-secret")
            .env("SWITCHBOARD_GOOGLE_REDIRECT_URL", REDIRECT)
            .env("SWITCHBOARD_GOOGLE_BASE_URL", base)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Follows Google's consent redirect for an authorization URL; returns the callback's query string.
async fn consent(url: &str) -> String {
    let browser = http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let location = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    location.query().unwrap().to_owned()
}

async fn start_url(app: &TestApp, credential: &str, query: &str) -> String {
    let r = app.get(&format!("/api/v1/auth/google{query}"), credential).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["authorization_url"].as_str().unwrap().to_owned()
}

async fn connecting_checks_who_what_and_the_consent(backend: Backend) {
    let emu = emulator(0.001).await;
    let app = TestApp::spawn_with(backend, |c| google_config(c, &emu)).await;
    let callback = |query: &str| app.client.get(app.url(&format!("/api/v1/auth/google/callback?{query}")));

    // Only admins connect accounts.
    let (_, password) = app.create_member("member@example.com", "member").await;
    let r = app.login("member@example.com", &password).await;
    let member_token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let r = app.get("/api/v1/auth/google", &member_token).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The URL asks for offline access with PKCE and a sealed state; `?redirect=true` sends the browser there.
    let url = start_url(&app, &app.api_key, "?scopes=contacts,calendar").await;
    let parsed = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert!(q["scope"].contains("auth/contacts") && q["scope"].contains("auth/calendar"), "{}", q["scope"]);
    let browser = http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(app.url("/api/v1/auth/google?redirect=true")).bearer_auth(&app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&emu.base_url()));
    let r = app.get("/api/v1/auth/google?scopes=drive", &app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // A declined consent, a forged state and a replayed code are refused and store nothing.
    emu.control().set_next_consent(ConsentPlan { deny: true, ..Default::default() });
    let query = consent(&start_url(&app, &app.api_key, "").await).await;
    let r = callback(&query).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "GOOGLE_CONSENT_DENIED");
    let query = consent(&start_url(&app, &app.api_key, "").await).await;
    let forged = query.replace("state=", "state=x");
    let r = callback(&forged).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "GOOGLE_STATE_INVALID");
    let accounts: Value =
        app.get("/api/v1/connected-accounts", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(accounts, json!([]), "nothing stored");

    // The user unticks contacts: the account is connected for the calendar and says contacts do not sync.
    emu.control().set_next_consent(ConsentPlan {
        grant_scopes: Some(vec!["openid".into(), "email".into(), google_emulator::CALENDAR_SCOPE.into()]),
        ..Default::default()
    });
    let query = consent(&start_url(&app, &app.api_key, "?scopes=contacts,calendar").await).await;
    let r = callback(&query).header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("ann@example.com is connected"));
    let r = callback(&query).send().await.unwrap();
    assert_eq!(r.status(), 400, "a code works once");
    assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "GOOGLE_EXCHANGE_FAILED");
    let accounts: Value =
        app.get("/api/v1/connected-accounts", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(accounts[0]["contacts_sync"], Value::Null);
    assert!(accounts[0]["warnings"][0].as_str().unwrap().contains("did not grant access to contacts"), "{accounts}");
    assert!(!accounts[0]["scopes"].as_str().unwrap().contains("auth/contacts"));
    let r = app.post("/api/v1/sync/google", &app.api_key, &json!({})).send().await.unwrap();
    assert_eq!(r.status(), 409, "no account syncs contacts");

    // Reconnecting with contacts granted starts the sync on the same account row.
    let again = connect(&app, &emu, Some("contacts,calendar")).await;
    assert_eq!(again["id"], accounts[0]["id"]);
    let status: Value = app.get("/api/status", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["data"]["google"][0]["account_email"], EMAIL, "{status}");
}

async fn accounts_refresh_and_disconnect(backend: Backend) {
    let rig = Rig::start(backend, 3).await;
    let refreshed: Value = rig
        .app
        .post("/dashboard/api/calendar/refresh-tokens", &rig.app.api_key, &json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed[0]["status"], "refreshed", "{refreshed}");
    assert!(!refreshed[0]["expires_at"].is_null());

    // Settings: push only labelled contacts; a label is required for that.
    let path = format!("/api/v1/connected-accounts/{}", rig.account);
    let r = rig.app.patch(&path, &rig.app.api_key, &json!({"push": "label"})).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let r = rig.app.patch(&path, &rig.app.api_key, &json!({"push": "label", "label": "google"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r =
        rig.app.post("/api/v1/contacts", &rig.app.api_key, &json!({"given_name": "Unlabelled"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = rig
        .app
        .post("/api/v1/contacts", &rig.app.api_key, &json!({"given_name": "Labelled", "labels": ["google"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let deadline = Instant::now() + WAIT;
    while rig.requests("people.createContact") < 1 {
        assert!(Instant::now() < deadline, "the labelled contact never reached Google");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rig.sync(false).await;
    let names: Vec<String> = rig
        .emu
        .control()
        .list_people(EMAIL)
        .unwrap()
        .iter()
        .map(|p| p["names"][0]["givenName"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(names.contains(&"Labelled".to_owned()) && !names.contains(&"Unlabelled".to_owned()), "{names:?}");

    // Disconnecting revokes the grant at Google and forgets tokens, state and links; contacts stay.
    let r = rig.app.delete(&path, &rig.app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(rig.requests("oauth.revoke"), 1);
    assert_eq!(rig.count("SELECT COUNT(*) FROM connected_accounts").await, 0);
    assert_eq!(rig.count("SELECT COUNT(*) FROM external_links").await, 0);
    assert_eq!(rig.count("SELECT COUNT(*) FROM sync_states").await, 0);
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 5);
    let r = rig.app.get(&format!("{path}/sync"), &rig.app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A sync still running for the account cannot leave a link behind: links have no foreign key (ADR 0007),
    // and a write of links checks the account once, under lock, before inserting any.
    let account: uuid::Uuid = rig.account.parse().unwrap();
    let contact: uuid::Uuid = db_run!(&rig.app.db, pool => sqlx::query_scalar("SELECT id FROM contacts LIMIT 1")
        .fetch_one(pool).await)
    .unwrap();
    let late = links::Link {
        account_id: account,
        entity_id: contact,
        remote_id: Some("people/c1".into()),
        remote_etag: None,
        synced: None,
        seen_run: None,
        last_synced_at: None,
        error: None,
    };
    let ws = switchboard_domain::WorkspaceId(rig.app.workspace_id);
    let err = links::write_alone(&rig.app.db, ws, &[links::LinkWrite::Upsert(Box::new(late))]).await.unwrap_err();
    assert!(matches!(err, sqlx::Error::RowNotFound), "{err:?}");
    assert_eq!(rig.count("SELECT COUNT(*) FROM external_links").await, 0);
}

async fn pushes_keep_to_the_quota_and_skip_refused_contacts(backend: Backend) {
    let rig = Rig::start(backend, 0).await;
    let control = rig.emu.control();
    // Google allows 5 writes per (scaled: 1.2 s) minute; 12 new contacts still arrive, each exactly once.
    control.set_delay_factor(0.02);
    control.set_write_quota(Some(5));
    // Google refuses one create for good: that contact is marked failed, the others carry on.
    control.inject_fault(Fault::new(FaultKind::BadRequest, 1).only_for("people.createContact"));
    for i in 0..12 {
        let r = rig
            .app
            .post("/api/v1/contacts", &rig.app.api_key, &json!({"given_name": format!("Local{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let deadline = Instant::now() + WAIT;
    // Google has a person before the server has recorded its link (written once the answer is back): wait for both.
    while control.list_people(EMAIL).unwrap().len() < 11 || rig.status().await["linked_contacts"] != 11 {
        assert!(Instant::now() < deadline, "pushes stalled: {:?}", rig.status().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = rig.status().await;
    assert_eq!(s["failed_contacts"], 1, "{s}");
    assert_eq!(s["linked_contacts"], 11, "{s}");
    let rejected: u64 = control.counters().quota_rejected.values().sum();
    assert!(rejected > 0, "the quota was reached and waited out");
    let mut names: Vec<String> = control
        .list_people(EMAIL)
        .unwrap()
        .iter()
        .map(|p| p["names"][0]["givenName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 11, "no duplicates");
    let error: Option<String> = db_run!(&rig.app.db, pool => sqlx::query_scalar(
        "SELECT error FROM external_links WHERE error IS NOT NULL",
    ).fetch_one(pool).await)
    .unwrap();
    assert!(error.unwrap().contains("400"));
}

async fn contacts_already_here_are_linked_not_duplicated(backend: Backend) {
    let emu = emulator(0.001).await;
    let control = emu.control();
    control
        .seed_people(
            EMAIL,
            vec![
                json!({"names": [{"givenName": "Ann", "familyName": "Lee"}], "emailAddresses": [{"value": "ann@lee.example"}]}),
                json!({"names": [{"givenName": "Bo", "familyName": "Chan"}], "phoneNumbers": [{"value": "+1 415 555 0101"}]}),
                json!({"names": [{"givenName": "Cy", "familyName": "Dee"}], "phoneNumbers": [{"value": "+1 415 555 0102"}]}),
            ],
        )
        .unwrap();
    let app = TestApp::spawn_with(backend, |c| google_config(c, &emu)).await;
    // Already here before the account is connected: Ann by email (with a title Google lacks), Bo by number and
    // name; the number of Cy but another name (a shared line: not the same person); and someone only here.
    for body in [
        json!({"given_name": "ann", "family_name": "LEE", "job_title": "CTO", "emails": [{"address": "ann@lee.example"}]}),
        json!({"given_name": "Bo", "family_name": "Chan", "phones": [{"value": "+1 415 555 0101"}]}),
        json!({"given_name": "Reception", "phones": [{"value": "+1 415 555 0102"}]}),
        json!({"given_name": "Only", "family_name": "Here"}),
    ] {
        let r = app.post("/api/v1/contacts", &app.api_key, &body).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    let account = connect(&app, &emu, None).await["id"].as_str().unwrap().to_owned();
    let rig = Rig { app, emu, account };
    rig.wait_run().await;
    assert_eq!(
        rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await,
        5,
        "Ann and Bo matched, Cy new"
    );
    let people = rig.emu.control().list_people(EMAIL).unwrap();
    let ann = people.iter().find(|p| p["emailAddresses"][0]["value"] == "ann@lee.example").unwrap();
    let local_ann = rig.contact_of(ann["resourceName"].as_str().unwrap()).await.unwrap();
    assert_eq!(local_ann["given_name"], "Ann", "Google's spelling of the name");
    assert_eq!(local_ann["job_title"], "CTO", "a field Google lacks is kept");
    // The contacts only here reach Google once each; nothing is duplicated there.
    let deadline = Instant::now() + WAIT;
    while rig.emu.control().list_people(EMAIL).unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "local contacts never reached Google");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let people = rig.emu.control().list_people(EMAIL).unwrap();
    assert_eq!(people.len(), 5, "Ann, Bo, Cy, Reception, Only Here");
    let ann = people.iter().find(|p| p["emailAddresses"][0]["value"] == "ann@lee.example").unwrap();
    rig.wait_person(ann["resourceName"].as_str().unwrap(), |p| {
        p.is_some_and(|p| p["organizations"][0]["title"] == "CTO")
    })
    .await;
}

async fn a_refused_saved_page_starts_the_listing_over(backend: Backend) {
    let rig = Rig::start(backend, 30).await;
    let before = rig.app.workspace_version().await;
    // A run stopped long ago: its saved page token has since expired at Google.
    let run = uuid::Uuid::now_v7();
    db_run!(&rig.app.db, pool => sqlx::query(
        "UPDATE sync_states SET run_id = $1, run_full = $2, run_page_token = 'stale-page-token', run_started_at = $3",
    ).bind(run).bind(true).bind(chrono::Utc::now()).execute(pool).await.map(|_| ()))
    .unwrap();
    let lists = rig.requests("people.connections.list");
    let s = rig.sync(false).await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(rig.requests("people.connections.list"), lists + 2, "the refused page, then the listing again");
    assert_eq!(rig.app.workspace_version().await, before, "the pages already applied change nothing");
    assert_eq!(rig.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, 30);
}
