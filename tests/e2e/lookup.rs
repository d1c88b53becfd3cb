//! Caller lookup by phone number: `GET /api/v1/lookup` and the seed path `GET /api/search`, against a
//! workspace seeded through the public API. Every written form of a number finds the same contact; bad
//! input is a clear 4xx naming `phone`; deleted contacts and other workspaces' contacts never match.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_domain::{ScopeSet, WorkspaceId};
use switchboard_server::{api_keys, workspaces};
use switchboard_store::db_run;

db_tests!(
    every_format_finds_the_same_contacts,
    bad_input_is_a_clear_error_and_lookup_needs_contacts_read,
    the_minimum_digits_follow_the_workspace_setting,
    lookups_read_through_a_pool_of_generic_plans,
);

/// Creates a contact through the API; returns its id.
async fn seed(app: &TestApp, key: &str, given: &str, family: &str, phones: &[&str]) -> String {
    let phones: Vec<Value> = phones.iter().map(|p| json!({"value": p, "type": "work"})).collect();
    let body = json!({"given_name": given, "family_name": family, "phones": phones});
    let r = app.post("/api/v1/contacts", key, &body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{given} {family}: {}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// `GET path?phone=<phone>` (encoded) with `key`.
async fn get(app: &TestApp, path: &str, key: &str, phone: &str) -> reqwest::Response {
    let encoded: String = phone
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    app.client.get(app.url(&format!("{path}?phone={encoded}"))).bearer_auth(key).send().await.unwrap()
}

/// The lookup answer (asserting 200), and the seed path's answer for the same input, which must list the
/// same matches.
async fn lookup(app: &TestApp, key: &str, phone: &str) -> Value {
    let r = get(app, "/api/v1/lookup", key, phone).await;
    assert_eq!(r.status(), 200, "{phone:?}: {}", r.text().await.unwrap());
    let v1: Value = r.json().await.unwrap();
    let r = get(app, "/api/search", key, phone).await;
    assert_eq!(r.status(), 200, "{phone:?}: {}", r.text().await.unwrap());
    let seed: Value = r.json().await.unwrap();
    assert_eq!(seed["success"], true);
    assert_eq!(seed["data"], v1["matches"], "{phone:?}: /api/search lists the same matches");
    assert_eq!(v1["best"], v1["matches"].get(0).cloned().unwrap_or(Value::Null), "{phone:?}");
    v1
}

/// (display name, match kind, extension match) of each match, best first.
fn summary(answer: &Value) -> Vec<(String, String, String)> {
    answer["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["contact"]["display_name"].as_str().unwrap().to_owned(),
                m["match"].as_str().unwrap().to_owned(),
                m["extension_match"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const ANN: &str = "Ann Main";
const BOB: &str = "Bob Desk";
const CAL: &str = "Cal Other";
const DEE: &str = "Dee London";
const EVA: &str = "Eva Berlin";
const FAY: &str = "Fay Paris";
const GUS: &str = "Gus Delhi";
const HAL: &str = "Hal Reception";
const IVY: &str = "Ivy Backoffice";
const KIM: &str = "Kim Two";
const MAX: &str = "Max Mexico";

// Match kinds and extension matches, as the answer spells them.
const E: &str = "exact";
const N: &str = "national";
const T: &str = "trailing";
const I: &str = "internal";
const SAME: &str = "exact";
const ONLY: &str = "number_only";

/// The matches an input must give, best first: (display name, match kind, extension match).
type Expected = &'static [(&'static str, &'static str, &'static str)];

/// Seeds the bootstrap workspace (region US). Contacts are created in this order, so their ids (UUIDv7)
/// break ties in this order too.
async fn seed_workspace(app: &TestApp) {
    let k = &app.api_key;
    seed(app, k, "Ann", "Main", &["+1 415 555 0100"]).await;
    seed(app, k, "Bob", "Desk", &["(415) 555-0100 ext. 12"]).await;
    seed(app, k, "Cal", "Other", &["212-555-0100"]).await;
    seed(app, k, "Dee", "London", &["+44 20 7946 0958"]).await;
    seed(app, k, "Eva", "Berlin", &["+49 30 901820"]).await;
    seed(app, k, "Fay", "Paris", &["+33 6 12 34 56 78"]).await;
    seed(app, k, "Gus", "Delhi", &["+91 98765 43210"]).await;
    seed(app, k, "Hal", "Reception", &["204"]).await;
    seed(app, k, "Ivy", "Backoffice", &["2040"]).await;
    seed(app, k, "Kim", "Two", &["+1 917 555 0142", "+1 305 555 0177"]).await;
    // Same national number as Ann's under Mexico's country code.
    seed(app, k, "Max", "Mexico", &["+52 415 555 0100"]).await;
    // Deleted contacts: one shares Ann's number, one has a number nobody else has.
    for (given, phone) in [("Old", "+1 415 555 0100"), ("Zed", "+1 650 555 0199")] {
        let id = seed(app, k, given, "Gone", &[phone]).await;
        let r = app.delete(&format!("/api/v1/contacts/{id}"), k).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
}

async fn every_format_finds_the_same_contacts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_workspace(&app).await;

    // A second workspace with Ann's number and one of its own.
    let b = workspaces::create(&app.db, "Other Business", None).await.unwrap();
    let (_, b_key) = api_keys::create(&app.db, WorkspaceId(b.id), "b", &ScopeSet::all(), None, None).await.unwrap();
    seed(&app, &b_key, "Bee", "Elsewhere", &["+1 415 555 0100"]).await;
    seed(&app, &b_key, "Only", "Bee", &["+1 718 555 0123"]).await;

    let us_main: Expected = &[(ANN, E, SAME), (BOB, E, ONLY), (MAX, N, SAME)];
    let desk_12: Expected = &[(BOB, E, SAME), (ANN, E, ONLY), (MAX, N, ONLY)];
    let local: Expected = &[(ANN, T, SAME), (CAL, T, SAME), (MAX, T, SAME), (BOB, T, ONLY)];
    let none: Expected = &[];
    let table: Vec<(&str, Expected)> = vec![
        // United States, every way of writing it.
        ("+1 (415) 555-0100", us_main),
        ("415-555-0100", us_main),
        ("415.555.0100", us_main),
        ("(415) 555 0100", us_main),
        ("4155550100", us_main),
        ("14155550100", us_main),
        ("1-415-555-0100", us_main),
        ("+14155550100", us_main),
        ("  +1 415 555 0100  ", us_main),
        ("+1\u{00A0}415\u{2011}555\u{2011}0100", us_main),
        ("011 1 415 555 0100", us_main),
        ("00 1 415 555 0100", us_main),
        ("001-415-555-0100", us_main),
        ("tel:+1-415-555-0100", us_main),
        ("TEL:+14155550100", us_main),
        ("sip:+14155550100@pbx.example.com;user=phone", us_main),
        ("sips:+14155550100@pbx.example.com", us_main),
        ("212 555 0100", &[(CAL, E, SAME)]),
        ("+1 212-555-0100", &[(CAL, E, SAME)]),
        ("305.555.0177", &[(KIM, E, SAME)]),
        // Numbers with an extension: the same extension first, then the number without one; never another.
        ("+1 415 555 0100 ext 12", desk_12),
        ("415-555-0100 x12", desk_12),
        ("(415) 555-0100 extension 12", desk_12),
        ("tel:+1-415-555-0100;ext=12", desk_12),
        ("sip:+14155550100;ext=12@pbx.example.com", desk_12),
        ("+1 415 555 0100 ext 99", &[(ANN, E, ONLY), (MAX, N, ONLY)]),
        // Local numbers without the area code: every number ending with the seven digits.
        ("555-0100", local),
        ("555 0100", local),
        ("5550100", local),
        ("1-555-0100", local),
        ("tel:555-0100", local),
        ("555-0100 ext 12", &[(BOB, T, SAME), (ANN, T, ONLY), (CAL, T, ONLY), (MAX, T, ONLY)]),
        // United Kingdom.
        ("+44 20 7946 0958", &[(DEE, E, SAME)]),
        ("011 44 20 7946 0958", &[(DEE, E, SAME)]),
        ("00 44 20 7946 0958", &[(DEE, E, SAME)]),
        ("0044 20 7946 0958", &[(DEE, E, SAME)]),
        ("+44 (0)20 7946 0958", &[(DEE, E, SAME)]),
        ("tel:+44-20-7946-0958", &[(DEE, E, SAME)]),
        ("020 7946 0958", &[(DEE, N, SAME)]),
        ("2079460958", &[(DEE, N, SAME)]),
        ("44 20 7946 0958", &[(DEE, T, SAME)]),
        ("7946 0958", &[(DEE, T, SAME)]),
        // Germany.
        ("+49 30 901820", &[(EVA, E, SAME)]),
        ("0049 30 901820", &[(EVA, E, SAME)]),
        ("011 49 30 901820", &[(EVA, E, SAME)]),
        ("030 901820", &[(EVA, N, SAME)]),
        // France.
        ("+33 6 12 34 56 78", &[(FAY, E, SAME)]),
        ("0033 6 12 34 56 78", &[(FAY, E, SAME)]),
        ("+33 (0)6 12 34 56 78", &[(FAY, E, SAME)]),
        ("06 12 34 56 78", &[(FAY, N, SAME)]),
        // India.
        ("+91 98765 43210", &[(GUS, E, SAME)]),
        ("0091 98765 43210", &[(GUS, E, SAME)]),
        ("011 91 98765 43210", &[(GUS, E, SAME)]),
        ("98765-43210", &[(GUS, N, SAME)]),
        ("tel:+91-98765-43210", &[(GUS, E, SAME)]),
        // Internal extensions match the same extension only.
        ("204", &[(HAL, I, SAME)]),
        ("20-4", &[(HAL, I, SAME)]),
        ("sip:204@pbx.example.com", &[(HAL, I, SAME)]),
        ("2040", &[(IVY, I, SAME)]),
        ("205", none),
        ("0100", none),
        // Deleted contacts never match; neither do other workspaces' contacts.
        ("+1 650 555 0199", none),
        ("650-555-0199", none),
        ("555-0199", none),
        ("+1 718 555 0123", none),
        ("555-0123", none),
        // Valid input that matches nothing: a six-digit internal extension, a number nobody has.
        ("55-0100", none),
        ("+1 415 555 0199", none),
    ];
    assert!(table.len() >= 40);
    for (input, expected) in &table {
        let answer = lookup(&app, &app.api_key, input).await;
        let want: Vec<(String, String, String)> =
            expected.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
        assert_eq!(summary(&answer), want, "{input:?}: {answer}");
    }

    // The answer in detail: what the input was read as, the matched number, the shared digits.
    let answer = lookup(&app, &app.api_key, "tel:+1-305-555-0177").await;
    assert_eq!(
        answer["query"],
        json!({"e164": "+13055550177", "national": "3055550177", "trailing": "3055550177", "internal": null,
               "extension": null, "min_digits": 7})
    );
    let best = &answer["best"];
    assert_eq!(best["contact"]["given_name"], "Kim");
    assert_eq!(best["matched_number"]["raw"], "+1 305 555 0177", "the second number matched");
    assert_eq!(best["matched_number"]["e164"], "+13055550177");
    assert_eq!(best["matched_digits"], 11);
    let answer = lookup(&app, &app.api_key, "555-0100").await;
    assert_eq!(answer["best"]["matched_digits"], 7);
    let answer = lookup(&app, &app.api_key, "+52 415 555 0100").await;
    assert_eq!(summary(&answer)[0].0, MAX);
    assert_eq!(answer["matches"][1]["match"], "national");
    assert_eq!(answer["matches"][1]["matched_digits"], 10);

    // An unencoded `+` (as PBX URL templates send it) is still a `+`.
    for path in ["/api/v1/lookup?phone=+442079460958", "/api/v1/lookup?phone=tel:+442079460958"] {
        let answer: Value = app.get(path, &app.api_key).send().await.unwrap().json().await.unwrap();
        assert_eq!(summary(&answer), [(DEE.to_owned(), "exact".to_owned(), "exact".to_owned())], "{path}");
    }
    // Paths with a trailing slash are the same endpoints.
    let r = app.get("/api/v1/lookup/?phone=204", &app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The other workspace sees its own contacts only.
    let answer = lookup(&app, &b_key, "415-555-0100").await;
    assert_eq!(summary(&answer), [("Bee Elsewhere".to_owned(), "exact".to_owned(), "exact".to_owned())]);
    let answer = lookup(&app, &b_key, "555-0123").await;
    assert_eq!(summary(&answer), [("Only Bee".to_owned(), "trailing".to_owned(), "exact".to_owned())]);
    for phone in ["+44 20 7946 0958", "204", "555-0100 ext 12"] {
        let answer = lookup(&app, &b_key, phone).await;
        assert!(
            summary(&answer).iter().all(|(name, _, _)| name.starts_with("Bee") || name.starts_with("Only")),
            "{phone:?}: {answer}"
        );
    }
    // A contact deleted later stops matching at once.
    let ann = lookup(&app, &app.api_key, "+14155550100").await["best"]["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/api/v1/contacts/{ann}"), &app.api_key).send().await.unwrap().status(), 204);
    let answer = lookup(&app, &app.api_key, "+14155550100").await;
    assert_eq!(summary(&answer)[0].0, BOB);
    assert!(summary(&answer).iter().all(|(name, _, _)| name != ANN));
}

async fn bad_input_is_a_clear_error_and_lookup_needs_contacts_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app, &app.api_key, "Ann", "Main", &["+1 415 555 0100"]).await;
    let k = &app.api_key;

    for input in [
        "",
        "   ",
        "hello",
        "415-555-CALL",
        "1-800-FLOWERS",
        "!!!",
        "+",
        "--",
        "sip:alice@example.com",
        "12345678901234567890",
        "☎ 415 555 0100",
        "1",
        "1234567",
        "+1 555",
        "00 44 207",
        "555-0100 ext 12a",
    ] {
        let r = get(&app, "/api/v1/lookup", k, input).await;
        assert_eq!(r.status(), 422, "{input:?}");
        let body = assert_error(r, 422, "VALIDATION_FAILED").await;
        assert_eq!(body["fields"][0]["field"], "phone", "{input:?}: {body}");
        assert!(body["fields"][0]["message"].as_str().is_some_and(|m| !m.is_empty()));
        // The seed path answers 400, with the same body.
        let seed = assert_error(get(&app, "/api/search", k, input).await, 400, "VALIDATION_FAILED").await;
        assert_eq!(seed["fields"], body["fields"], "{input:?}");
    }
    // Too few digits for a number, too many for an internal extension: says so.
    let body = assert_error(get(&app, "/api/v1/lookup", k, "1234567").await, 422, "VALIDATION_FAILED").await;
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("at least 7 digits"), "{body}");

    // No `phone` at all: 400 naming it, on both paths.
    for path in ["/api/v1/lookup", "/api/search", "/api/v1/lookup?number=4155550100", "/api/search?q=1"] {
        let body = assert_error(app.get(path, k).send().await.unwrap(), 400, "INVALID_QUERY").await;
        assert_eq!(body["fields"][0]["field"], "phone", "{path}");
    }

    // Credentials: none is 401; a key without contacts:read is 403; contacts:read is enough.
    for path in ["/api/v1/lookup?phone=204", "/api/search?phone=204"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_error(r, 401, "AUTHENTICATION_REQUIRED").await;
    }
    let (_, sync_only) = app.create_key(json!({"name": "sync", "scopes": ["google:sync"]})).await;
    let (_, reader) = app.create_key(json!({"name": "reader", "scopes": ["contacts:read"]})).await;
    for path in ["/api/v1/lookup", "/api/search"] {
        assert_error(get(&app, path, &sync_only, "4155550100").await, 403, "INSUFFICIENT_PERMISSION").await;
        assert_eq!(get(&app, path, &reader, "4155550100").await.status(), 200);
    }
    // A signed-in user (any role) may look up too.
    let (token, _) = app.owner_tokens().await;
    assert_eq!(get(&app, "/api/v1/lookup", &token, "4155550100").await.status(), 200);

    // Both paths are documented under the `lookup` tag.
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/lookup", "/api/search"] {
        assert_eq!(doc["paths"][path]["get"]["tags"], json!(["lookup"]), "{path}");
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        assert!(params.iter().any(|p| p["name"] == "phone"), "{path}");
    }
    assert!(doc["tags"].as_array().unwrap().iter().any(|t| t["name"] == "lookup"));
    app.stop().await;

    // Rate limited like every authenticated route.
    let app = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(&app, "/api/v1/lookup", &app.api_key, "204").await.status().as_u16());
    }
    assert_eq!(&statuses[..3], [200, 200, 200]);
    let r = get(&app, "/api/search", &app.api_key, "204").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "RATE_LIMITED").await;
}

async fn the_minimum_digits_follow_the_workspace_setting(backend: Backend) {
    // No settings cache, so the change below applies to the next request.
    let app = TestApp::spawn_with(backend, |c| c.credential_cache_ttl = Duration::ZERO).await;
    seed(&app, &app.api_key, "Ann", "Main", &["+1 415 555 0100"]).await;
    seed(&app, &app.api_key, "Dee", "London", &["+44 20 7946 0958"]).await;
    let k = &app.api_key;
    assert_eq!(summary(&lookup(&app, k, "555-0100").await).len(), 1);
    assert_eq!(summary(&lookup(&app, k, "7946 0958").await).len(), 1);

    set_settings(&app, json!({"default_region": "US", "lookup_min_digits": 10})).await;
    // Seven or eight digits are now too few; ten are enough; exact matches are whole numbers.
    for input in ["555-0100", "7946 0958"] {
        let body = assert_error(get(&app, "/api/v1/lookup", k, input).await, 422, "VALIDATION_FAILED").await;
        assert!(body["fields"][0]["message"].as_str().unwrap().contains("at least 10 digits"), "{body}");
    }
    let answer = lookup(&app, k, "020 7946 0958").await;
    assert_eq!(summary(&answer), [("Dee London".to_owned(), "national".to_owned(), "exact".to_owned())]);
    assert_eq!(answer["query"]["min_digits"], 10);
    set_settings(&app, json!({"default_region": "US", "lookup_min_digits": 15})).await;
    let answer = lookup(&app, k, "+14155550100").await;
    assert_eq!(summary(&answer), [("Ann Main".to_owned(), "exact".to_owned(), "exact".to_owned())]);
    let r = get(&app, "/api/v1/lookup", k, "020 7946 0958").await;
    assert_error(r, 422, "VALIDATION_FAILED").await;
    // Out of range (hand-edited): the default.
    set_settings(&app, json!({"default_region": "US", "lookup_min_digits": 3})).await;
    assert_eq!(lookup(&app, k, "555-0100").await["query"]["min_digits"], 7);
    // The region setting applies to lookups too: a UK workspace reads national UK numbers.
    set_settings(&app, json!({"default_region": "GB"})).await;
    let answer = lookup(&app, k, "020 7946 0958").await;
    assert_eq!(summary(&answer), [("Dee London".to_owned(), "exact".to_owned(), "exact".to_owned())]);
    let answer = lookup(&app, k, "001 415 555 0100").await;
    assert_eq!(summary(&answer), [("Ann Main".to_owned(), "exact".to_owned(), "exact".to_owned())]);
}

/// Writes the bootstrap workspace's settings JSON (there is no settings API yet).
async fn set_settings(app: &TestApp, settings: Value) {
    let id = app.workspace_id;
    db_run!(&app.db, pool => sqlx::query("UPDATE workspaces SET settings = $1 WHERE id = $2")
        .bind(sqlx::types::Json(settings)).bind(id).execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
}

/// On PostgreSQL lookups and directories read through their own pool, whose connections plan each statement
/// once (ADR 0009); the main pool plans as PostgreSQL chooses. On SQLite they share the main pool.
async fn lookups_read_through_a_pool_of_generic_plans(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    match backend {
        Backend::Postgres => {
            let mode = |db: &switchboard_store::Db| {
                let db = db.clone();
                async move {
                    db_run!(&db, pool => sqlx::query_scalar::<_, String>("SHOW plan_cache_mode").fetch_one(pool).await)
                        .unwrap()
                }
            };
            assert_eq!(mode(&app.lookup_db).await, "force_generic_plan");
            assert_eq!(mode(&app.db).await, "auto");
        }
        Backend::Sqlite => {
            let (switchboard_store::Db::Sqlite(main), switchboard_store::Db::Sqlite(lookups)) =
                (&app.db, &app.lookup_db)
            else {
                panic!("SQLite pools");
            };
            assert_eq!(main.connect_options().get_filename(), lookups.connect_options().get_filename());
            assert_eq!(app.lookup_db.stats().max, app.db.stats().max, "the same pool");
        }
    }
    // And a lookup through it answers.
    let id = seed(&app, &app.api_key, "Ann", "Lee", &["+1 415 555 0100"]).await;
    let r: Value = app.get("/api/v1/lookup?phone=4155550100", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["best"]["contact"]["id"], id, "{r}");
}
