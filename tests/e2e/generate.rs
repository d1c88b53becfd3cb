//! `switchboard admin generate-contacts`: generated contacts go straight through the store (no change-feed
//! rows), with every derived column filled, and devices still download them with delta sync from 0.

use crate::db_tests;
use crate::helpers::{Backend, TestApp};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;
use switchboard_store::db_run;

db_tests!(generated_contacts_are_complete_and_sync_from_zero);

const COUNT: i64 = 2_000;

fn generate(config: &switchboard_server::Config, workspace: &str, seed: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--data-dir")
        .arg(&config.data_dir)
        .arg("--database-url")
        .arg(&config.database_url)
        .args(["admin", "generate-contacts", "--workspace", workspace, "--count", &COUNT.to_string(), "--seed", seed])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "generate-contacts failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Given name, family name, company and the raw numbers of each contact of a workspace, in version order.
async fn people(
    db: &switchboard_store::Db,
    ws: uuid::Uuid,
) -> Vec<(Option<String>, Option<String>, Option<String>, String)> {
    db_run!(db, pool => sqlx::query_as(
        "SELECT given_name, family_name, company, CAST(phones AS TEXT) FROM contacts WHERE workspace_id = $1 \
         AND created_by = 'generate-contacts' ORDER BY version",
    ).bind(ws).fetch_all(pool).await)
    .unwrap()
}

async fn generated_contacts_are_complete_and_sync_from_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (api_key, slug, ws) = (app.api_key.clone(), app.workspace_slug.clone(), app.workspace_id);
    // One contact through the API first: generated versions follow it.
    let r = app.post("/api/v1/contacts", &api_key, &json!({"given_name": "Before"})).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let config = app.config.clone();
    // Generated versions have no feed rows, which a running server's in-memory window would not see:
    // generate with the server stopped, as the documentation says.
    app.stop().await;
    let out = generate(&config, &slug, "7");
    assert!(out.contains(&format!("generated {COUNT} contacts in {slug}")), "{out}");

    let mut app = TestApp::start(config.clone()).await.unwrap();
    app.api_key = api_key;
    app.workspace_id = ws;
    assert_eq!(app.workspace_version().await, COUNT + 1);
    let count = |sql: &'static str| {
        let db = app.db.clone();
        async move { db_run!(&db, pool => sqlx::query_scalar::<_, i64>(sql).bind(ws).fetch_one(pool).await).unwrap() }
    };
    assert_eq!(count("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1").await, COUNT + 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM changes WHERE workspace_id = $1").await,
        1,
        "no feed rows for generated contacts"
    );
    assert_eq!(count("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND sort_key IS NULL").await, 0);
    let named = count("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND family_key IS NOT NULL").await;
    assert!(named > COUNT * 9 / 10, "family keys: {named}");
    assert!(count("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND given_key IS NOT NULL").await > COUNT / 2);
    let emails = count("SELECT COUNT(*) FROM contact_emails WHERE workspace_id = $1").await;
    assert!(emails > COUNT / 5, "emails: {emails}");

    // Every number's row: the reversed digits filled, and the same numbers as the contact's list.
    let phones: Vec<(String, Option<String>)> = db_run!(&app.db, pool => sqlx::query_as(
        "SELECT digits, digits_rev FROM contact_phones WHERE workspace_id = $1",
    ).bind(ws).fetch_all(pool).await)
    .unwrap();
    assert!(phones.len() as i64 >= COUNT && phones.len() as i64 <= 3 * COUNT, "{} numbers", phones.len());
    for (digits, reversed) in &phones {
        assert_eq!(reversed.clone(), Some(digits.chars().rev().collect::<String>()), "{digits}");
    }

    // A device downloads everything from version 0, in version order.
    let key = app.agent_key("GEN").await;
    let (mut version, mut ids, mut listed_numbers, mut last) = (0, HashSet::new(), 0, 0);
    let mut sample = None;
    loop {
        let r: Value = app
            .get(&format!("/api/v1/sync/delta?version={version}&limit=1000"), &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in r["changes"].as_array().unwrap() {
            let v = c["version"].as_i64().unwrap();
            assert!(v > last, "version order");
            last = v;
            assert!(ids.insert(c["id"].as_str().unwrap().to_owned()));
            let numbers = c["phones"].as_array().unwrap();
            assert!(c["given_name"] == "Before" || (1..=3).contains(&numbers.len()), "{c}");
            listed_numbers += numbers.len();
            if v == COUNT / 2 {
                sample = Some(c.clone());
            }
        }
        version = r["next_version"].as_i64().unwrap();
        if !r["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(ids.len() as i64, COUNT + 1);
    assert_eq!(version, COUNT + 1);
    assert_eq!(listed_numbers, phones.len());

    // Caller lookup finds a generated contact by its number.
    let sample = sample.unwrap();
    let e164 = sample["phones"][0]["e164"].as_str().unwrap();
    let r: Value = app
        .get(&format!("/api/v1/lookup?phone={}", e164.replace('+', "%2B")), &app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["matches"].as_array().unwrap().iter().any(|m| m["contact"]["id"] == sample["id"]), "{r}");

    // The same seed gives the same contacts in another workspace; another seed other ones.
    let other = |name: &'static str| {
        let config = config.clone();
        async move {
            let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .arg("--data-dir")
                .arg(&config.data_dir)
                .arg("--database-url")
                .arg(&config.database_url)
                .args(["admin", "create-workspace", "--name", name])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    other("Copy A").await;
    other("Copy B").await;
    generate(&config, "copy-a", "7");
    generate(&config, "copy-b", "8");
    let ws_of = |slug: &'static str| {
        let db = app.db.clone();
        async move {
            db_run!(&db, pool => sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM workspaces WHERE slug = $1")
                .bind(slug).fetch_one(pool).await)
            .unwrap()
        }
    };
    let original = people(&app.db, ws).await;
    assert_eq!(original.len() as i64, COUNT);
    assert_eq!(people(&app.db, ws_of("copy-a").await).await, original, "same seed, same contacts");
    assert_ne!(people(&app.db, ws_of("copy-b").await).await, original, "another seed");
    app.stop().await;
}
