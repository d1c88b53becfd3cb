//! Conformance: Google's official Python client (google-api-python-client, pinned in
//! tests/python/requirements.txt) against the emulator.

use std::path::PathBuf;
use std::process::Command;

use google_emulator::CONTACTS_SCOPE;
use serde_json::json;

use crate::{TestEmu, USER};

fn python() -> PathBuf {
    if let Ok(path) = std::env::var("GOOGLE_EMULATOR_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/.venv/bin/python");
    assert!(
        venv.exists(),
        "missing {}: run scripts/test (it creates the virtualenv), or by hand: python3 -m venv {} && {} -m pip install -r {}; \
         or set GOOGLE_EMULATOR_PYTHON to a python with google-api-python-client installed",
        venv.display(),
        venv.parent().unwrap().parent().unwrap().display(),
        venv.display(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt").display(),
    );
    venv
}

#[tokio::test]
async fn official_python_client() {
    let python = python();
    let t = TestEmu::start().await;
    let people: Vec<_> = (0..25)
        .map(|i| json!({ "names": [{ "givenName": format!("Py{i}"), "familyName": "Client" }], "phoneNumbers": [{ "value": format!("+1 415 555 {:04}", i) }] }))
        .collect();
    t.control().seed_people(USER, people).unwrap();
    let tokens = t.control().issue_tokens(USER, &[CONTACTS_SCOPE]).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/conformance.py");
    let base_url = t.running.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(&script)
            .arg(&base_url)
            .env("EMULATOR_ACCOUNT", USER)
            .env("EMULATOR_REFRESH_TOKEN", tokens.refresh_token.unwrap())
            .env("EMULATOR_EXPECTED_PEOPLE", "25")
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python conformance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.contains("conformance: ok"), "{stdout}");
    let counters = t.control().counters();
    assert!(counters.requests("oauth.token") >= 1, "google-auth refreshed through /token");
    assert!(counters.requests("people.connections.list") >= 5);
}
