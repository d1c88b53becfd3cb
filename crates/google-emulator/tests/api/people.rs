//! People API: listing, paging, sync tokens, writes, etags, merge, auth errors.

use reqwest::Method;
use serde_json::{Value, json};

use google_emulator::CONTACTS_SCOPE;

use crate::{TestEmu, USER};

const LIST: &str = "/v1/people/me/connections";

fn person(given: &str, phone: &str) -> Value {
    json!({ "names": [{ "givenName": given, "familyName": "Tester" }], "phoneNumbers": [{ "value": phone, "type": "mobile" }] })
}

fn names(body: &Value) -> Vec<String> {
    body["connections"]
        .as_array()
        .map(|c| c.iter().map(|p| p["names"][0]["givenName"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn person_fields_is_required_and_checked() {
    let t = TestEmu::start().await;
    let r = t.get(LIST).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        r.body["error"]["message"],
        "personFields mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.connections/list."
    );
    let r = t.get(&format!("{LIST}?personFields=names,nonsense")).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("\"nonsense\""));
    // The legacy requestMask.includeField works too.
    let r = t.get(&format!("{LIST}?requestMask.includeField=person.names")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn page_size_bounds() {
    let t = TestEmu::start().await;
    t.control().generate_people(USER, 150).unwrap();
    let r = t.get(&format!("{LIST}?personFields=names&pageSize=0")).await;
    assert_eq!(r.body["connections"].as_array().unwrap().len(), 100, "0 means the default 100");
    let r = t.get(&format!("{LIST}?personFields=names")).await;
    assert_eq!(r.body["connections"].as_array().unwrap().len(), 100);
    for bad in ["1001", "-1", "abc"] {
        let r = t.get(&format!("{LIST}?personFields=names&pageSize={bad}")).await;
        assert_eq!(r.status, 400, "pageSize={bad}");
        assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    }
    let r = t.get(&format!("{LIST}?personFields=names&pageSize=1000")).await;
    assert_eq!(r.body["connections"].as_array().unwrap().len(), 150);
}

#[tokio::test]
async fn paging_sync_token_on_last_page_only_and_masks() {
    let t = TestEmu::start().await;
    t.control().generate_people(USER, 25).unwrap();
    let mut url = format!("{LIST}?personFields=names&pageSize=10&requestSyncToken=true");
    let mut seen = Vec::new();
    let mut pages = 0;
    let sync_token = loop {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalItems"], 25);
        assert_eq!(r.body["totalPeople"], 25);
        pages += 1;
        for p in r.body["connections"].as_array().unwrap() {
            assert!(p["resourceName"].as_str().unwrap().starts_with("people/c"));
            assert!(p["etag"].is_string());
            assert!(p.get("phoneNumbers").is_none(), "masked out");
            assert!(p.get("metadata").is_none(), "masked out");
            seen.push(p["resourceName"].as_str().unwrap().to_owned());
        }
        match r.body["nextPageToken"].as_str() {
            Some(next) => {
                assert!(r.body.get("nextSyncToken").is_none(), "no sync token before the last page");
                url = format!("{LIST}?personFields=names&pageSize=10&requestSyncToken=true&pageToken={next}");
            }
            None => break r.body["nextSyncToken"].as_str().expect("sync token on last page").to_owned(),
        }
    };
    assert_eq!(pages, 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    assert!(!sync_token.is_empty());

    // Without requestSyncToken, no sync token.
    let r = t.get(&format!("{LIST}?personFields=names&pageSize=100")).await;
    assert!(r.body.get("nextSyncToken").is_none());
}

#[tokio::test]
async fn page_token_parameters_must_match() {
    let t = TestEmu::start().await;
    t.control().generate_people(USER, 5).unwrap();
    let r = t.get(&format!("{LIST}?personFields=names&pageSize=2")).await;
    let next = r.body["nextPageToken"].as_str().unwrap();
    let r = t.get(&format!("{LIST}?personFields=names,phoneNumbers&pageSize=2&pageToken={next}")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    let r = t.get(&format!("{LIST}?personFields=names&pageSize=2&pageToken={next}")).await;
    assert_eq!(r.status, 200);
}

async fn full_sync(t: &TestEmu) -> String {
    let r =
        t.get(&format!("{LIST}?personFields=names,phoneNumbers,metadata&pageSize=1000&requestSyncToken=true")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["nextSyncToken"].as_str().unwrap().to_owned()
}

async fn incremental(t: &TestEmu, token: &str) -> (Value, String) {
    let r = t
        .get(&format!(
            "{LIST}?personFields=names,phoneNumbers,metadata&pageSize=1000&requestSyncToken=true&syncToken={token}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let next = r.body["nextSyncToken"].as_str().unwrap().to_owned();
    (r.body, next)
}

#[tokio::test]
async fn incremental_sync_create_update_delete() {
    let t = TestEmu::start().await;
    let c = t.control();
    let seeded = c.seed_people(USER, vec![person("Ann", "+1 415 555 0100"), person("Bob", "+1 415 555 0101")]).unwrap();
    let token = full_sync(&t).await;

    // Nothing changed: an empty page (no `connections` key, as proto3 JSON omits it).
    let (body, token) = incremental(&t, &token).await;
    assert!(body.get("connections").is_none(), "{body}");

    let ann = seeded[0]["resourceName"].as_str().unwrap();
    let bob = seeded[1]["resourceName"].as_str().unwrap();
    c.update_person(USER, ann, json!({ "names": [{ "givenName": "Anne" }] })).unwrap();
    c.update_person(USER, ann, json!({ "names": [{ "givenName": "Annie" }] })).unwrap();
    c.delete_person(USER, bob).unwrap();
    let carl = c.create_person(USER, person("Carl", "(212) 555-0199")).unwrap();

    let (body, token) = incremental(&t, &token).await;
    let items = body["connections"].as_array().unwrap();
    assert_eq!(items.len(), 3, "each changed person once: {body}");
    assert_eq!(items[0]["resourceName"], ann);
    assert_eq!(items[0]["names"][0]["givenName"], "Annie", "latest state");
    assert_eq!(items[1]["resourceName"], bob);
    assert_eq!(items[1]["metadata"]["deleted"], true);
    assert!(items[1]["etag"].is_string());
    assert!(items[1].get("names").is_none());
    assert_eq!(items[2]["resourceName"], carl["resourceName"]);
    assert_eq!(items[2]["phoneNumbers"][0]["canonicalForm"], "+12125550199");

    let (body, _) = incremental(&t, &token).await;
    assert!(body.get("connections").is_none());
}

#[tokio::test]
async fn incremental_sync_pages() {
    let t = TestEmu::start().await;
    let token = full_sync(&t).await;
    t.control().generate_people(USER, 7).unwrap();
    let base = format!("{LIST}?personFields=names&pageSize=3&requestSyncToken=true&syncToken={token}");
    let mut url = base.clone();
    let mut count = 0;
    loop {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        count += r.body["connections"].as_array().map_or(0, |c| c.len());
        match r.body["nextPageToken"].as_str() {
            Some(next) => {
                assert!(r.body.get("nextSyncToken").is_none());
                url = format!("{base}&pageToken={next}");
            }
            None => {
                assert!(r.body["nextSyncToken"].is_string());
                break;
            }
        }
    }
    assert_eq!(count, 7);
}

const EXPIRED_BODY: &str = r#"{"error":{"code":400,"message":"Sync token is expired. Clear local cache and retry call without the sync token.","status":"FAILED_PRECONDITION","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"EXPIRED_SYNC_TOKEN","domain":"people.googleapis.com"}]}}"#;

#[tokio::test]
async fn expired_unknown_and_old_sync_tokens() {
    let t = TestEmu::start().await;
    let expected: Value = serde_json::from_str(EXPIRED_BODY).unwrap();
    let token = full_sync(&t).await;

    let r = t.get(&format!("{LIST}?personFields=names&syncToken=garbage")).await;
    assert_eq!((r.status.as_u16(), &r.body), (400, &expected), "unknown token");

    t.control().expire_sync_tokens(USER).unwrap();
    let r = t.get(&format!("{LIST}?personFields=names&syncToken={token}")).await;
    assert_eq!((r.status.as_u16(), &r.body), (400, &expected), "expired by control");

    // Seven days after the full sync the whole chain expires (access tokens expire too, so
    // each step uses a fresh one).
    let token = full_sync(&t).await;
    let (_, token) = incremental(&t, &token).await;
    let fresh = || t.control().issue_tokens(USER, &[CONTACTS_SCOPE]).unwrap().access_token;
    let url = |token: &str| format!("{LIST}?personFields=names&requestSyncToken=true&syncToken={token}");
    t.control().advance_clock(std::time::Duration::from_secs(6 * 86_400));
    let r = t.call_as(&fresh(), Method::GET, &url(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["nextSyncToken"].as_str().unwrap().to_owned();
    t.control().advance_clock(std::time::Duration::from_secs(86_400));
    let r = t.call_as(&fresh(), Method::GET, &url(&token), None).await;
    assert_eq!((r.status.as_u16(), &r.body), (400, &expected), "7 days after the full sync");
}

#[tokio::test]
async fn create_contact_decorates_and_validates() {
    let t = TestEmu::start().await;
    let body = json!({
        "names": [{ "givenName": "Grace", "familyName": "Hopper" }],
        "phoneNumbers": [{ "value": "+1 (202) 555-0143", "type": "work" }, { "value": "0049 30 1234", "type": "home" }],
        "emailAddresses": [{ "value": "grace@example.com" }],
        "clientData": [{ "key": "switchboard", "value": "42" }],
    });
    let r = t.call(Method::POST, "/v1/people:createContact", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body;
    assert!(p["resourceName"].as_str().unwrap().strip_prefix("people/c").unwrap().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(p["names"][0]["displayName"], "Grace Hopper");
    assert_eq!(p["names"][0]["displayNameLastFirst"], "Hopper, Grace");
    assert_eq!(p["phoneNumbers"][0]["canonicalForm"], "+12025550143");
    assert_eq!(p["phoneNumbers"][0]["formattedType"], "Work");
    assert_eq!(p["phoneNumbers"][0]["metadata"]["primary"], true);
    assert!(p["phoneNumbers"][1].get("canonicalForm").is_none());
    assert!(p["phoneNumbers"][1]["metadata"].get("primary").is_none());
    assert_eq!(p["clientData"][0]["value"], "42", "fields are kept as sent");
    let source = &p["metadata"]["sources"][0];
    assert_eq!(source["type"], "CONTACT");
    assert!(source["etag"].is_string() && source["updateTime"].is_string() && source["id"].is_string());

    let r = t
        .call(
            Method::POST,
            "/v1/people:createContact?personFields=names",
            Some(json!({ "names": [{ "givenName": "M" }] })),
        )
        .await;
    assert!(r.body.get("metadata").is_none() && r.body["names"].is_array(), "personFields masks the reply");

    let two_names = json!({ "names": [{ "givenName": "A" }, { "givenName": "B" }] });
    let r = t.call(Method::POST, "/v1/people:createContact", Some(two_names)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");

    let r = t.call(Method::POST, "/v1/people:createContact", Some(json!({ "nmes": [] }))).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("Unknown name \"nmes\""));
}

#[tokio::test]
async fn update_contact_etags_and_field_masks() {
    let t = TestEmu::start().await;
    let created = t.control().create_person(USER, person("Ann", "+14155550100")).unwrap();
    let rn = created["resourceName"].as_str().unwrap();
    let etag = created["etag"].as_str().unwrap();
    let path = format!("/v1/{rn}:updateContact");

    let change = json!({ "etag": etag, "names": [{ "givenName": "Anna" }] });
    let r = t.call(Method::PATCH, &path, Some(change.clone())).await;
    assert_eq!(r.status, 400, "updatePersonFields is required");
    assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("updatePersonFields mask is required"));

    let r = t
        .call(
            Method::PATCH,
            &format!("{path}?updatePersonFields=names"),
            Some(json!({ "names": [{ "givenName": "X" }] })),
        )
        .await;
    assert_eq!(r.status, 400, "etag is required");

    let r = t.call(Method::PATCH, &format!("{path}?updatePersonFields=names"), Some(change.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["names"][0]["givenName"], "Anna");
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+14155550100", "unlisted fields untouched");
    let new_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);

    // The old etag is now stale: exactly Google's FAILED_PRECONDITION body.
    let r = t.call(Method::PATCH, &format!("{path}?updatePersonFields=names"), Some(change)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"error":{"code":400,"message":"Request person.etag is different than the current person.etag. Clear local cache and get the latest person.","status":"FAILED_PRECONDITION"}})
    );

    // The etag may come in metadata.sources; a listed field absent from the body is cleared.
    let current = t.get(&format!("/v1/{rn}?personFields=metadata")).await.body;
    let body = json!({ "metadata": current["metadata"], "names": [{ "givenName": "Anna" }] });
    let r = t.call(Method::PATCH, &format!("{path}?updatePersonFields=phoneNumbers"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("phoneNumbers").is_none());
    assert_eq!(r.body["names"][0]["givenName"], "Anna");

    let r =
        t.call(Method::PATCH, "/v1/people/c1:updateContact?updatePersonFields=names", Some(json!({"etag": "x"}))).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn get_and_delete_contact() {
    let t = TestEmu::start().await;
    let created = t.control().create_person(USER, person("Ann", "+14155550100")).unwrap();
    let rn = created["resourceName"].as_str().unwrap();

    let r = t.get(&format!("/v1/{rn}")).await;
    assert_eq!(r.status, 400, "people.get needs personFields");
    let r = t.get(&format!("/v1/{rn}?personFields=phoneNumbers")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["resourceName"], rn);
    assert!(r.body.get("names").is_none() && r.body["phoneNumbers"].is_array());

    let r = t.call(Method::DELETE, &format!("/v1/{rn}:deleteContact"), None).await;
    assert_eq!((r.status.as_u16(), r.body), (200, json!({})));
    let r = t.get(&format!("/v1/{rn}?personFields=names")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}));
    let r = t.call(Method::DELETE, &format!("/v1/{rn}:deleteContact"), None).await;
    assert_eq!(r.status, 404);

    let r = t.get("/v1/people/me?personFields=emailAddresses").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["emailAddresses"][0]["value"], USER);
}

#[tokio::test]
async fn merge_follows_previous_resource_names() {
    let t = TestEmu::start().await;
    let c = t.control();
    let people = c
        .seed_people(
            USER,
            vec![
                json!({ "names": [{ "givenName": "Ann" }], "phoneNumbers": [{ "value": "+14155550100" }] }),
                json!({ "names": [{ "givenName": "Ann B" }], "phoneNumbers": [{ "value": "+1 415 555 0100" }, { "value": "+14155550111" }], "emailAddresses": [{ "value": "ann@example.com" }] }),
            ],
        )
        .unwrap();
    let (survivor, merged) = (people[0]["resourceName"].as_str().unwrap(), people[1]["resourceName"].as_str().unwrap());
    let token = full_sync(&t).await;
    c.merge(USER, survivor, merged).unwrap();

    let r = t.get(&format!("/v1/{merged}?personFields=names")).await;
    assert_eq!(r.status, 404, "the merged person is gone");

    let (body, _) = incremental(&t, &token).await;
    let items = body["connections"].as_array().unwrap();
    assert_eq!(items.len(), 1, "no deletion record for the merged person: {body}");
    let p = &items[0];
    assert_eq!(p["resourceName"], survivor);
    assert_eq!(p["metadata"]["previousResourceNames"], json!([merged]));
    let phones: Vec<&str> =
        p["phoneNumbers"].as_array().unwrap().iter().map(|x| x["value"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+14155550100", "+14155550111"], "phones unioned by canonical form");
    let stored = c.get_person(USER, survivor).unwrap().unwrap();
    assert_eq!(stored["emailAddresses"][0]["value"], "ann@example.com", "fields taken over from the merged person");

    // A full listing does not show previousResourceNames.
    let r = t.get(&format!("{LIST}?personFields=metadata")).await;
    assert!(r.body["connections"][0]["metadata"].get("previousResourceNames").is_none());
}

#[tokio::test]
async fn sort_orders() {
    let t = TestEmu::start().await;
    t.control().seed_people(USER, vec![person("Cy", "1"), person("Al", "2"), person("Bo", "3")]).unwrap();
    let r = t.get(&format!("{LIST}?personFields=names")).await;
    assert_eq!(names(&r.body), ["Cy", "Al", "Bo"], "LAST_MODIFIED_ASCENDING by default");
    let r = t.get(&format!("{LIST}?personFields=names&sortOrder=FIRST_NAME_ASCENDING")).await;
    assert_eq!(names(&r.body), ["Al", "Bo", "Cy"]);
    let r = t.get(&format!("{LIST}?personFields=names&sortOrder=LAST_MODIFIED_DESCENDING")).await;
    assert_eq!(names(&r.body), ["Bo", "Al", "Cy"]);
}

#[tokio::test]
async fn authentication_and_scopes() {
    let t = TestEmu::start().await;
    let r = crate::reply(t.http.get(t.url(&format!("{LIST}?personFields=names"))).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert!(r.headers.contains_key("www-authenticate"));

    let r = t.call_as("ya29.bogus", Method::GET, &format!("{LIST}?personFields=names"), None).await;
    assert_eq!(r.status, 401);

    let calendar_only = t.control().issue_tokens(USER, &[google_emulator::CALENDAR_SCOPE]).unwrap().access_token;
    let r = t.call_as(&calendar_only, Method::GET, &format!("{LIST}?personFields=names"), None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(r.body["error"]["details"][0]["reason"], "ACCESS_TOKEN_SCOPE_INSUFFICIENT");

    let readonly = t.control().issue_tokens(USER, &["https://www.googleapis.com/auth/contacts.readonly"]).unwrap();
    let r = t.call_as(&readonly.access_token, Method::GET, &format!("{LIST}?personFields=names"), None).await;
    assert_eq!(r.status, 200);
    let r = t.call_as(&readonly.access_token, Method::POST, "/v1/people:createContact", Some(json!({}))).await;
    assert_eq!(r.status, 403, "writes need the contacts scope");

    t.control().expire_access_tokens(USER).unwrap();
    let r = t.get(&format!("{LIST}?personFields=names")).await;
    assert_eq!(r.status, 401, "expired access token");
}
