//! Desk-phone directories over HTTP: directory tokens (API, revocation, the three ways a phone presents
//! one), Cisco pages walked by their Next/Previous soft keys (every document validated against our XSD
//! with xmllint), search, charsets, the whole-book vendors, and the PBX caller-name answer.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};
use switchboard_store::db_run;

db_tests!(
    tokens_are_admin_only_shown_once_and_revocable,
    a_token_works_in_the_path_the_query_and_basic_auth,
    cisco_pages_visit_every_entry_once_both_ways,
    paging_while_contacts_change_sees_stable_entries_once,
    cisco_search_letters_and_charsets,
    cisco_search_results_page_both_ways,
    whole_book_vendors_apply_labels_and_caps,
    cnam_answers_the_callers_name_as_text,
    directory_keys_of_older_rows_are_filled_at_startup,
);

const XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/directory/CiscoIPPhone.xsd");

/// Fails unless `doc` is valid against our Cisco schema (xmllint, installed by scripts/test).
fn assert_cisco_valid(doc: &[u8]) {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--schema", XSD, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint is needed (scripts/test installs libxml2-utils)");
    child.stdin.take().unwrap().write_all(doc).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Cisco document not valid: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(doc)
    );
}

/// Fails unless `doc` is well-formed XML.
fn assert_well_formed(doc: &[u8]) {
    let mut reader = Reader::from_reader(doc);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML ({e}):\n{}", String::from_utf8_lossy(doc)),
        }
        buf.clear();
    }
}

/// The text of every element named `name` inside each `parent`, in order: `[(child name → text)]`.
fn children(doc: &[u8], parent: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = Reader::from_reader(doc);
    let (mut out, mut current, mut field) = (Vec::new(), None::<BTreeMap<String, String>>, None::<String>);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            Event::Start(e) => {
                let tag = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if tag == parent {
                    current = Some(BTreeMap::new());
                } else if current.is_some() {
                    field = Some(tag);
                }
            }
            Event::Text(t) => {
                if let (Some(c), Some(f)) = (current.as_mut(), field.as_ref()) {
                    let text = t.decode().unwrap().into_owned();
                    let text = quick_xml::escape::unescape(&text).unwrap().into_owned();
                    c.entry(f.clone()).or_default().push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                if let (Some(c), Some(f)) = (current.as_mut(), field.as_ref()) {
                    let name = String::from_utf8(r.to_vec()).unwrap();
                    let text = quick_xml::escape::unescape(&format!("&{name};")).unwrap().into_owned();
                    c.entry(f.clone()).or_default().push_str(&text);
                }
            }
            Event::End(e) => {
                let tag = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if tag == parent {
                    out.extend(current.take());
                }
                field = None;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

fn soft_key(doc: &[u8], name: &str) -> Option<String> {
    children(doc, "SoftKeyItem").into_iter().find(|k| k.get("Name").map(String::as_str) == Some(name))?.remove("URL")
}

/// The path and query of an absolute URL the server generated.
fn path_of(url: &str) -> String {
    assert!(url.len() <= 256, "URL longer than Cisco's 256 characters: {url}");
    let rest = url.split_once("://").expect("absolute URL").1;
    rest[rest.find('/').unwrap()..].to_owned()
}

async fn create_token(app: &TestApp, body: Value) -> (String, String) {
    let r = app.post("/api/v1/directory-tokens", &app.api_key, &body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned())
}

async fn fetch(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// Creates contacts through the agent API's bulk endpoint: `(first, last, phones)`.
async fn seed(app: &TestApp, key: &str, people: &[(String, String, Vec<String>)]) -> Vec<String> {
    let items: Vec<Value> = people
        .iter()
        .map(|(first, last, phones)| {
            json!({"first_name": first, "last_name": last, "phone_primary": phones.first(), "phone_secondary": phones.get(1)})
        })
        .collect();
    let mut ids = Vec::new();
    for chunk in items.chunks(500) {
        let r = app.post("/api/contacts/bulk", key, &json!({"contacts": chunk})).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        for result in v["data"]["results"].as_array().unwrap() {
            assert_eq!(result["status"], "created", "{result}");
            ids.push(result["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

fn people(n: usize) -> Vec<(String, String, Vec<String>)> {
    (0..n)
        .map(|i| {
            let phones = match i % 3 {
                0 => vec![format!("+1 212 555 {:04}", i)],
                1 => vec![format!("+1 212 556 {:04}", i), format!("+1 212 557 {:04}", i)],
                _ => vec![format!("+1 212 558 {:04}", i)],
            };
            (format!("Person{:03}", (i * 37) % n), format!("Family{i}"), phones)
        })
        .collect()
}

/// Walks a Cisco directory by Next from `start`; returns every page's entries as (Name, Telephone).
async fn walk_next(app: &TestApp, start: &str) -> (Vec<Vec<(String, String)>>, Vec<String>) {
    let (mut pages, mut paths, mut path) = (Vec::new(), Vec::new(), Some(start.to_owned()));
    while let Some(p) = path {
        let (status, _, doc) = fetch(app, &p).await;
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&doc));
        assert_cisco_valid(&doc);
        let entries: Vec<(String, String)> = children(&doc, "DirectoryEntry")
            .into_iter()
            .map(|e| (e.get("Name").cloned().unwrap_or_default(), e.get("Telephone").cloned().unwrap_or_default()))
            .collect();
        assert!(entries.len() <= 32);
        pages.push(entries);
        paths.push(p);
        path = soft_key(&doc, "Next").map(|u| path_of(&u));
        assert!(pages.len() < 1_000, "Next never ends");
    }
    (pages, paths)
}

/// Previous from each page after the first leads to the page before it (as Next walked them).
async fn assert_previous_leads_back(app: &TestApp, pages: &[Vec<(String, String)>], paths: &[String]) {
    for i in 1..paths.len() {
        let (_, _, doc) = fetch(app, &paths[i]).await;
        let previous = soft_key(&doc, "Previous").expect("a Previous soft key after the first page");
        let (_, _, before) = fetch(app, &path_of(&previous)).await;
        assert_cisco_valid(&before);
        let got: Vec<(String, String)> = children(&before, "DirectoryEntry")
            .into_iter()
            .map(|e| (e["Name"].clone(), e["Telephone"].clone()))
            .collect();
        assert_eq!(got, pages[i - 1], "Previous of page {i}");
        let next = soft_key(&before, "Next").expect("the page before has a Next");
        assert_eq!(fetch(app, &path_of(&next)).await.2, doc, "Next of Previous of page {i} is page {i}");
    }
}

async fn tokens_are_admin_only_shown_once_and_revocable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.agent_key("AG1").await;
    let r = app.post("/api/v1/directory-tokens", &agent, &json!({"name": "Lobby"})).send().await.unwrap();
    assert_error(r, 403, "INSUFFICIENT_PERMISSION").await;
    let before = app.row_counts().await;
    let r = app
        .post(
            "/api/v1/directory-tokens",
            &app.api_key,
            &json!({"name": "Lobby", "caps": {"fax-o-matic": 3, "poly": 0}}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 422, "VALIDATION_FAILED").await;
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"caps.fax-o-matic") && fields.contains(&"caps.poly"), "{fields:?}");
    assert_eq!(app.row_counts().await, before, "a refused token writes nothing");

    let r = app
        .post(
            "/api/v1/directory-tokens",
            &app.api_key,
            &json!({"name": "Lobby", "labels": ["vip"], "caps": {"yealink": 50}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dt_") && token.len() < 40, "{token}");
    assert_eq!(created["paths"]["cisco"], format!("/d/{token}/directory.xml"));
    let id = created["id"].as_str().unwrap();

    let list: Value = app.get("/api/v1/directory-tokens", &app.api_key).send().await.unwrap().json().await.unwrap();
    let listed = &list["results"][0];
    assert_eq!(listed["labels"], json!(["vip"]));
    assert_eq!(listed["caps"], json!({"yealink": 50}));
    assert!(!list.to_string().contains(&token), "a list never shows the token");

    assert_eq!(fetch(&app, &format!("/d/{token}/directory.xml")).await.0, 200);
    let r = app.delete(&format!("/api/v1/directory-tokens/{id}"), &app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url(&format!("/d/{token}/directory.xml"))).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"switchboard\"");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(r.text().await.unwrap().len() < 80, "a phone-sized message");
}

async fn a_token_works_in_the_path_the_query_and_basic_auth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;
    for path in [format!("/d/{token}/directory.xml"), format!("/directory.xml?token={token}")] {
        let (status, ct, doc) = fetch(&app, &path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(ct, "text/xml; charset=utf-8");
        assert_cisco_valid(&doc);
    }
    let r = app.client.get(app.url("/directory.xml")).basic_auth("token", Some(&token)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/directory/yealink.xml")).basic_auth("token", Some(&token)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for path in [
        "/directory.xml".to_owned(),
        "/directory.xml?token=dt_nope".to_owned(),
        "/d/dt_nope/directory.xml".to_owned(),
        format!("/d/{token}x/directory.xml"),
    ] {
        let r = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"switchboard\"");
    }
    let r = app.client.get(app.url("/directory.xml")).basic_auth("token", Some("dt_wrong")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

async fn cisco_pages_visit_every_entry_once_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let book = people(100);
    seed(&app, &key, &book).await;
    let expected: usize = book.iter().map(|(_, _, p)| p.len()).sum();
    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;

    // A large directory opens on the menu: All, Search, A–Z, #.
    let (_, _, menu) = fetch(&app, &format!("/d/{token}/directory.xml")).await;
    assert_cisco_valid(&menu);
    let items = children(&menu, "MenuItem");
    assert_eq!(items.len(), 29);
    assert_eq!(items[0]["Name"], "All");
    let all = path_of(&items[0]["URL"]);

    let (pages, paths) = walk_next(&app, &all).await;
    let entries: Vec<(String, String)> = pages.iter().flatten().cloned().collect();
    assert_eq!(entries.len(), expected, "every number once");
    assert_eq!(entries.iter().collect::<HashSet<_>>().len(), expected, "no entry twice");
    assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == 32), "full pages until the last");
    let names: Vec<String> = entries.iter().map(|(n, _)| n.to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "directory order");
    // A contact with two numbers has two entries with type suffixes; numbers are dialable digits.
    assert!(entries.iter().all(|(_, t)| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())));
    assert!(entries.iter().any(|(n, _)| n.ends_with(')')), "type suffixes: {entries:?}");

    assert_previous_leads_back(&app, &pages, &paths).await;
    let (_, _, first) = fetch(&app, &paths[0]).await;
    assert!(soft_key(&first, "Previous").is_none());
    let keys: Vec<String> = children(&first, "SoftKeyItem").into_iter().map(|k| k["URL"].clone()).collect();
    for needed in ["SoftKey:Dial", "SoftKey:EditDial", "SoftKey:Exit"] {
        assert!(keys.iter().any(|k| k == needed), "{needed} in {keys:?}");
    }
    let (status, _, _) = fetch(&app, &format!("/d/{token}/directory.xml?p=not-a-cursor")).await;
    assert_eq!(status, 400);
}

async fn paging_while_contacts_change_sees_stable_entries_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let stable = seed(&app, &key, &people(90)).await;
    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;
    let stable_names: HashSet<String> = {
        let (pages, _) = walk_next(&app, &format!("/d/{token}/directory.xml?v=all")).await;
        pages.into_iter().flatten().map(|(n, _)| n).collect()
    };
    // Walk again while contacts are added before and after the cursor and others are deleted.
    let mut seen: Vec<String> = Vec::new();
    let mut path = Some(format!("/d/{token}/directory.xml?v=all"));
    let mut round = 0;
    while let Some(p) = path {
        let (_, _, doc) = fetch(&app, &p).await;
        assert_cisco_valid(&doc);
        seen.extend(children(&doc, "DirectoryEntry").into_iter().map(|e| e["Name"].clone()));
        path = soft_key(&doc, "Next").map(|u| path_of(&u));
        let extra = vec![
            (format!("Aaron{round}"), "Early".to_owned(), vec![format!("+1 646 555 {:04}", round)]),
            (format!("Zed{round}"), "Late".to_owned(), vec![format!("+1 646 556 {:04}", round)]),
        ];
        seed(&app, &key, &extra).await;
        app.delete(&format!("/api/contacts/{}", stable[round * 7]), &key).send().await.unwrap();
        round += 1;
    }
    let mut once = HashSet::new();
    for name in &seen {
        assert!(once.insert(name.clone()), "{name} seen twice");
    }
    let deleted: HashSet<usize> = (0..round).map(|r| r * 7).collect();
    let survivors = people(90)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !deleted.contains(i))
        .map(|(_, (first, last, _))| format!("{first} {last}"))
        .collect::<Vec<_>>();
    for name in stable_names.iter().filter(|n| survivors.iter().any(|s| n.starts_with(s.as_str()))) {
        assert!(once.contains(name), "{name} was present for the whole walk but not seen");
    }
}

async fn cisco_search_letters_and_charsets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let book = vec![
        ("Ann".to_owned(), "Lee".to_owned(), vec!["+1 415 555 0100".to_owned()]),
        ("Ánnika".to_owned(), "Östberg".to_owned(), vec!["+46 8 123 456 78".to_owned()]),
        ("Bob".to_owned(), "Annan".to_owned(), vec!["+1 415 555 0199".to_owned()]),
        ("Łukasz".to_owned(), "Zieliński".to_owned(), vec!["+48 22 123 45 67".to_owned()]),
        ("Carol".to_owned(), "<&\"'>".to_owned(), vec!["204".to_owned()]),
    ];
    seed(&app, &key, &book).await;
    let company = json!({"company": "Annex Ltd", "phones": [{"value": "+1 415 555 0142"}]});
    assert_eq!(app.post("/api/v1/contacts", &app.api_key, &company).send().await.unwrap().status(), 201);
    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;

    let (_, _, form) = fetch(&app, &format!("/d/{token}/search.xml")).await;
    assert_cisco_valid(&form);
    let inputs = children(&form, "InputItem");
    assert_eq!(inputs.len(), 2);
    let names = |doc: &[u8]| children(doc, "DirectoryEntry").into_iter().map(|e| e["Name"].clone()).collect::<Vec<_>>();
    // Name search: given, family or (for a company) display name prefix, case and accents ignored, in the
    // order of the matching name (ann, annan, annex ltd, annika); with a space, the whole name.
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?n=ann")).await;
    assert_cisco_valid(&doc);
    assert_eq!(names(&doc), vec!["Ann Lee", "Bob Annan", "Annex Ltd", "Ánnika Östberg"]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?n=Ann%20L")).await;
    assert_eq!(names(&doc), vec!["Ann Lee"]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?n=bob%20a")).await;
    assert_eq!(names(&doc), vec!["Bob Annan"]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?n=%C3%96st")).await;
    assert_eq!(names(&doc), vec!["Ánnika Östberg"]);
    // Number search: numbers starting with the digits, read as a national number (area code 415 → +1 415 …)
    // or as typed (an extension, or an international number), then numbers ending with them.
    let numbers = |doc: &[u8]| {
        children(doc, "DirectoryEntry")
            .into_iter()
            .map(|e| (e["Name"].clone(), e["Telephone"].clone()))
            .collect::<Vec<_>>()
    };
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=415")).await;
    assert_cisco_valid(&doc);
    assert_eq!(names(&doc), vec!["Ann Lee", "Annex Ltd", "Bob Annan"]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=0199")).await;
    assert_eq!(numbers(&doc), vec![("Bob Annan".to_owned(), "4155550199".to_owned())]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=01146")).await;
    assert_eq!(names(&doc), vec!["Ánnika Östberg"], "after the international prefix");
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=20")).await;
    assert_eq!(names(&doc), vec!["Carol <&\"'>"], "an extension by its first digits");
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=555-01")).await;
    assert_eq!(names(&doc), Vec::<String>::new(), "digits in the middle of a number are no match");
    // Letter group; hostile names escaped.
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?l=c")).await;
    assert_cisco_valid(&doc);
    assert_eq!(names(&doc), vec!["Carol <&\"'>"]);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?l=%23")).await;
    assert_eq!(names(&doc), Vec::<String>::new(), "every name here starts with a letter once folded");

    // An old 79x0 phone prefers ISO-8859-1.
    let r = app
        .client
        .get(app.url(&format!("/d/{token}/directory.xml?v=all")))
        .header("accept-charset", "iso-8859-1, utf-8;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/xml; charset=iso-8859-1");
    let doc = r.bytes().await.unwrap();
    assert!(
        doc.starts_with(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>")
            || doc.starts_with(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>")
    );
    assert!(doc.windows(6).any(|w| w == b"Lukasz"), "outside Latin-1 transliterated");
    assert!(doc.contains(&0xD6), "Ö stays one Latin-1 byte");
    assert_cisco_valid(&doc);
}

/// Search results longer than a page: a name search merges contacts matched by given and by family name
/// (each once, under its smallest matching name), a number search lists matching numbers only; both are
/// walked by Next and back by Previous.
async fn cisco_search_results_page_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let mut book = people(60); // family names Family0…Family59
    book.extend((0..30).map(|i| (format!("Fam{i:02}"), "Zed".to_owned(), vec![format!("+1 646 555 {:04}", i)])));
    book.extend((0..5).map(|i| (format!("Famous{i}"), "Family".to_owned(), vec![format!("+44 20 7946 {:04}", i)])));
    book.push(("Other".to_owned(), "Person".to_owned(), vec!["+1 212 999 0000".to_owned()]));
    // Starts and ends with 212: listed once, among the numbers that start with it.
    book.push(("Both".to_owned(), "Ends".to_owned(), vec!["+1 212 555 1212".to_owned()]));
    seed(&app, &key, &book).await;
    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;

    let (pages, paths) = walk_next(&app, &format!("/d/{token}/directory.xml?n=fam")).await;
    let entries: Vec<(String, String)> = pages.iter().flatten().cloned().collect();
    let expected: usize =
        book.iter().filter(|(g, f, _)| g.starts_with("Fam") || f.starts_with("Fam")).map(|b| b.2.len()).sum();
    assert_eq!(entries.len(), expected, "every number of every match once");
    assert_eq!(entries.iter().collect::<HashSet<_>>().len(), expected, "no entry twice");
    assert!(pages.len() >= 4 && pages[..pages.len() - 1].iter().all(|p| p.len() == 32));
    // "fam00" < "fam29" < "family" < "family0" …: the given-name matches first, then the Famous Familys
    // (matched by their family name, which is smaller than their given name), then Family0…
    assert_eq!(entries[0].0, "Fam00 Zed");
    assert_eq!(entries[30].0, "Famous0 Family");
    assert_previous_leads_back(&app, &pages, &paths).await;

    let (pages, paths) = walk_next(&app, &format!("/d/{token}/directory.xml?t=212")).await;
    let entries: Vec<(String, String)> = pages.iter().flatten().cloned().collect();
    let expected: usize = book.iter().flat_map(|b| &b.2).filter(|n| n.starts_with("+1 212")).count();
    assert_eq!(entries.len(), expected, "every number starting with the area code, once");
    assert!(entries.iter().all(|(_, t)| t.starts_with("212")), "only the matching numbers: {entries:?}");
    let telephones: Vec<&String> = entries.iter().map(|(_, t)| t).collect();
    assert!(telephones.windows(2).all(|w| w[0] <= w[1]), "in number order");
    assert_previous_leads_back(&app, &pages, &paths).await;
}

async fn whole_book_vendors_apply_labels_and_caps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (i, labels) in [json!(["vip"]), json!([]), json!(["vip", "x"]), json!(["other"])].iter().enumerate() {
        let body = json!({"given_name": format!("P{i}"), "labels": labels, "phones": [{"value": format!("+1 212 555 010{i}")}]});
        assert_eq!(app.post("/api/v1/contacts", &app.api_key, &body).send().await.unwrap().status(), 201);
    }
    let (_, all) = create_token(&app, json!({"name": "All", "caps": {"yealink": 2}})).await;
    let (_, vip) = create_token(&app, json!({"name": "VIP", "labels": ["vip"]})).await;
    let count = |doc: &[u8], tag: &str| children(doc, tag).len();
    for (vendor, tag) in [("yealink", "Unit"), ("grandstream", "Contact"), ("snom", "contact"), ("poly", "item")] {
        let (status, ct, doc) = fetch(&app, &format!("/d/{vip}/{vendor}.xml")).await;
        assert_eq!(status, 200, "{vendor}");
        assert_eq!(ct, "text/xml; charset=utf-8");
        assert_well_formed(&doc);
        let n = if tag == "Unit" { doc.windows(5).filter(|w| w == b"<Unit").count() } else { count(&doc, tag) };
        assert_eq!(n, 2, "{vendor}: the token's labels");
    }
    let (_, _, doc) = fetch(&app, &format!("/d/{all}/yealink.xml")).await;
    assert_eq!(doc.windows(5).filter(|w| w == b"<Unit").count(), 2, "the token's cap");
    let (_, _, doc) = fetch(&app, &format!("/d/{all}/poly.xml")).await;
    assert_eq!(count(&doc, "item"), 4);
    // Snom phones fetch with POST too.
    let r = app.client.post(app.url(&format!("/d/{all}/snom.xml"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fetch(&app, &format!("/d/{all}/nokia.xml")).await.0, 404);
}

async fn cnam_answers_the_callers_name_as_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body =
        json!({"given_name": "Ann", "family_name": "Lee", "labels": ["vip"], "phones": [{"value": "+1 415 555 0100"}]});
    assert_eq!(app.post("/api/v1/contacts", &app.api_key, &body).send().await.unwrap().status(), 201);
    let body = json!({"given_name": "Bob", "phones": [{"value": "+1 415 555 0199"}]});
    assert_eq!(app.post("/api/v1/contacts", &app.api_key, &body).send().await.unwrap().status(), 201);
    let (_, token) = create_token(&app, json!({"name": "PBX"})).await;
    let (_, vip) = create_token(&app, json!({"name": "PBX vip", "labels": ["vip"]})).await;
    for path in [
        format!("/d/{token}/cnam?number=%2B14155550100"),
        format!("/d/{token}/cnam?number=4155550100"),
        format!("/cnam?number=(415)%20555-0100&token={token}"),
        format!("/d/{vip}/cnam?number=4155550100"),
    ] {
        let (status, ct, body) = fetch(&app, &path).await;
        assert_eq!((status, String::from_utf8(body).unwrap()), (200, "Ann Lee".to_owned()), "{path}");
        assert_eq!(ct, "text/plain; charset=utf-8");
    }
    for path in [
        format!("/d/{token}/cnam?number=2125550000"),
        format!("/d/{token}/cnam?number=12"),
        format!("/d/{vip}/cnam?number=4155550199"),
    ] {
        let (status, _, body) = fetch(&app, &path).await;
        assert_eq!((status, body.len()), (404, 0), "{path}");
    }
    assert_eq!(fetch(&app, &format!("/d/{token}/cnam")).await.0, 400);
    assert_eq!(fetch(&app, "/cnam?number=4155550100").await.0, 401);
}

/// Rows written before migration 0003 have no directory keys; the server fills them when it starts
/// (`backfill_directory_keys`), after which search and lookup find them like any other.
async fn directory_keys_of_older_rows_are_filled_at_startup(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    seed(&app, &key, &people(5)).await;
    let company = json!({"company": "Annex Ltd", "phones": [{"value": "+1 415 555 0142"}]});
    assert_eq!(app.post("/api/v1/contacts", &app.api_key, &company).send().await.unwrap().status(), 201);
    let keys = "SELECT COUNT(*) FROM contacts WHERE sort_key IS NOT NULL AND (given_key IS NOT NULL OR display_key IS NOT NULL)";
    let count = |sql: &'static str| {
        let db = app.db.clone();
        async move { db_run!(&db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap() }
    };
    assert_eq!(count(keys).await, 6);
    for sql in [
        "UPDATE contacts SET sort_key = NULL, given_key = NULL, family_key = NULL, display_key = NULL",
        "UPDATE contact_phones SET digits_rev = NULL",
    ] {
        db_run!(&app.db, pool => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    }
    let filled = switchboard_server::contacts::store::backfill_directory_keys(&app.db).await.unwrap();
    assert_eq!(filled, 6 + 8, "six contacts and their eight numbers");
    assert_eq!(count(keys).await, 6);
    assert_eq!(count("SELECT COUNT(*) FROM contact_phones WHERE digits_rev IS NULL").await, 0);
    assert_eq!(switchboard_server::contacts::store::backfill_directory_keys(&app.db).await.unwrap(), 0);

    let (_, token) = create_token(&app, json!({"name": "Desk"})).await;
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?n=annex")).await;
    assert_eq!(children(&doc, "DirectoryEntry").len(), 1);
    let (_, _, doc) = fetch(&app, &format!("/d/{token}/directory.xml?t=0142")).await;
    assert_eq!(children(&doc, "DirectoryEntry")[0]["Name"], "Annex Ltd");
    let (status, _, body) = fetch(&app, &format!("/d/{token}/cnam?number=5550142")).await;
    assert_eq!((status, String::from_utf8(body).unwrap()), (200, "Annex Ltd".to_owned()));
}
