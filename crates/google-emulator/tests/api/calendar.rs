//! Calendar: events insert/get/patch/update/delete/list, sync tokens, freeBusy, errors.

use google_emulator::CONTACTS_SCOPE;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{TestEmu, USER};

const EVENTS: &str = "/calendar/v3/calendars/primary/events";

fn event(id: Option<&str>, start: &str, end: &str) -> Value {
    let mut e = json!({
        "summary": "Booking",
        "start": { "dateTime": start },
        "end": { "dateTime": end },
        "extendedProperties": { "private": { "switchboardBooking": "b1" } },
    });
    if let Some(id) = id {
        e["id"] = json!(id);
    }
    e
}

#[tokio::test]
async fn insert_get_patch_update_delete() {
    let t = TestEmu::start().await;
    let body = event(Some("booking0001"), "2030-01-01T10:00:00+01:00", "2030-01-01T11:00:00+01:00");
    let r = t.call(Method::POST, EVENTS, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = r.body;
    assert_eq!(e["kind"], "calendar#event");
    assert_eq!(e["id"], "booking0001");
    assert_eq!(e["status"], "confirmed");
    assert_eq!(e["organizer"]["email"], USER);
    assert_eq!(e["extendedProperties"]["private"]["switchboardBooking"], "b1");
    assert!(e["etag"].is_string() && e["updated"].is_string() && e["htmlLink"].is_string());

    let r = t.call(Method::POST, EVENTS, Some(body)).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({"error":{"errors":[{"domain":"global","reason":"duplicate","message":"The requested identifier already exists."}],"code":409,"message":"The requested identifier already exists."}})
    );
    for bad in ["abcd", "booking-0001", "BOOKING0001", "wxyz12"] {
        let r =
            t.call(Method::POST, EVENTS, Some(event(Some(bad), "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"))).await;
        assert_eq!(r.status, 400, "id {bad}");
    }
    let r = t.call(Method::POST, EVENTS, Some(json!({ "summary": "no times" }))).await;
    assert_eq!(r.status, 400);

    let path = format!("{EVENTS}/booking0001");
    let r = t.get(&path).await;
    assert_eq!(r.body["summary"], "Booking");

    let r = t
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "summary": "Moved", "start": { "dateTime": "2030-01-01T09:30:00Z" } })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["summary"], "Moved");
    assert_eq!(r.body["extendedProperties"]["private"]["switchboardBooking"], "b1", "patch keeps other fields");
    assert_ne!(r.body["etag"], e["etag"]);

    let r = t
        .call(Method::PUT, &path, Some(json!({ "start": { "date": "2030-01-02" }, "end": { "date": "2030-01-03" } })))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("summary").is_none(), "update replaces");
    assert_eq!(r.body["id"], "booking0001");

    let r = t.call(Method::DELETE, &path, None).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_null());
    let r = t.call(Method::DELETE, &path, None).await;
    assert_eq!(r.status, 410);
    assert_eq!(
        r.body,
        json!({"error":{"errors":[{"domain":"global","reason":"deleted","message":"Resource has been deleted"}],"code":410,"message":"Resource has been deleted"}})
    );
    let r = t.get(&path).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("cancelled")),
        "get returns cancelled events"
    );

    let r = t.get(&format!("{EVENTS}/nosuchevent")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "notFound");
    let r = t.get("/calendar/v3/calendars/someone-else%40example.com/events").await;
    assert_eq!(r.status, 404);
}

/// A write with `If-Match` applies only to the etag it names; a stale one is Calendar's 412 and changes nothing.
#[tokio::test]
async fn if_match_guards_patch_update_and_delete() {
    let t = TestEmu::start().await;
    let body = event(Some("booking0002"), "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let first = t.call(Method::POST, EVENTS, Some(body)).await.body;
    let path = format!("{EVENTS}/booking0002");
    let send = |method: Method, etag: &str, body: Option<Value>| {
        let mut request = t.http.request(method, t.url(&path)).bearer_auth(&t.token).header("If-Match", etag);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { crate::reply(request.send().await.expect("request")).await }
    };
    let etag = |v: &Value| v["etag"].as_str().unwrap().to_owned();

    let moved = send(Method::PATCH, &etag(&first), Some(json!({ "summary": "Moved" }))).await;
    assert_eq!(moved.status, 200, "the current etag matches: {}", moved.body);
    assert_eq!(moved.body["summary"], "Moved");

    let stale_patch = send(Method::PATCH, &etag(&first), Some(json!({ "summary": "Lost update" }))).await;
    assert_eq!(stale_patch.status, 412);
    assert_eq!(
        stale_patch.body,
        json!({"error":{"errors":[{"domain":"global","reason":"conditionNotMet","message":"Precondition Failed","locationType":"header","location":"If-Match"}],"code":412,"message":"Precondition Failed"}})
    );
    let stale_put = send(
        Method::PUT,
        &etag(&first),
        Some(json!({ "start": { "date": "2030-01-02" }, "end": { "date": "2030-01-03" } })),
    )
    .await;
    assert_eq!(stale_put.status, 412);
    let stale_delete = send(Method::DELETE, &etag(&first), None).await;
    assert_eq!(stale_delete.status, 412);
    let now = t.get(&path).await.body;
    assert_eq!((now["summary"].as_str(), now["status"].as_str()), (Some("Moved"), Some("confirmed")), "unchanged");
    assert_eq!(now["etag"], moved.body["etag"]);

    let listed = send(Method::PATCH, &format!("\"nope\", {}", etag(&now)), Some(json!({ "summary": "Listed" }))).await;
    assert_eq!(listed.status, 200, "one etag of a list matches: {}", listed.body);
    let any = send(Method::DELETE, "*", None).await;
    assert_eq!(any.status, 204, "`*` matches any event");
}

#[tokio::test]
async fn list_paging_and_sync_tokens() {
    let t = TestEmu::start().await;
    for i in 0..5 {
        let id = format!("event{i:05}");
        let body = event(Some(&id), &format!("2030-01-0{}T10:00:00Z", i + 1), &format!("2030-01-0{}T11:00:00Z", i + 1));
        assert_eq!(t.call(Method::POST, EVENTS, Some(body)).await.status, 200);
    }
    t.call(Method::DELETE, &format!("{EVENTS}/event00004"), None).await;

    let r = t.get(&format!("{EVENTS}?maxResults=0")).await;
    assert_eq!(r.status, 400);

    // Full sync in pages of 2: cancelled events are left out; sync token on the last page only.
    let mut url = format!("{EVENTS}?maxResults=2");
    let mut ids = Vec::new();
    let token = loop {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["kind"], "calendar#events");
        ids.extend(r.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match r.body["nextPageToken"].as_str() {
            Some(next) => {
                assert!(r.body.get("nextSyncToken").is_none());
                url = format!("{EVENTS}?maxResults=2&pageToken={next}");
            }
            None => break r.body["nextSyncToken"].as_str().unwrap().to_owned(),
        }
    };
    assert_eq!(ids, ["event00000", "event00001", "event00002", "event00003"]);
    let r = t.get(&format!("{EVENTS}?showDeleted=true")).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5);

    // Incremental: the change and the cancellation.
    t.call(Method::PATCH, &format!("{EVENTS}/event00000"), Some(json!({ "summary": "x" }))).await;
    t.call(Method::DELETE, &format!("{EVENTS}/event00001"), None).await;
    let r = t.get(&format!("{EVENTS}?syncToken={token}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["id"].as_str(), items[0]["summary"].as_str()), (Some("event00000"), Some("x")));
    assert_eq!((items[1]["id"].as_str(), items[1]["status"].as_str()), (Some("event00001"), Some("cancelled")));
    let next = r.body["nextSyncToken"].as_str().unwrap().to_owned();

    let r = t.get(&format!("{EVENTS}?syncToken={next}&timeMin=2030-01-01T00:00:00Z")).await;
    assert_eq!(r.status, 400, "syncToken cannot be combined with timeMin");

    let gone = json!({"error":{"errors":[{"domain":"calendar","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required.","locationType":"parameter","location":"syncToken"}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}});
    let r = t.get(&format!("{EVENTS}?syncToken=1{next}")).await;
    assert_eq!((r.status.as_u16(), &r.body), (410, &gone), "corrupted token");
    t.control().expire_calendar_sync_tokens(USER).unwrap();
    let r = t.get(&format!("{EVENTS}?syncToken={next}")).await;
    assert_eq!((r.status.as_u16(), &r.body), (410, &gone), "expired token");

    // Filters on a full listing.
    let r = t.get(&format!("{EVENTS}?timeMin=2030-01-03T00:00:00Z&timeMax=2030-01-04T00:00:00Z")).await;
    let ids: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["event00002"]);
    let r = t
        .get(&format!("{EVENTS}?privateExtendedProperty=switchboardBooking%3Db1&orderBy=startTime&singleEvents=true"))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    let r = t.get(&format!("{EVENTS}?orderBy=startTime")).await;
    assert_eq!(r.status, 400, "startTime ordering needs singleEvents");
}

#[tokio::test]
async fn free_busy() {
    let t = TestEmu::start().await;
    let c = t.control();
    c.insert_event(USER, event(None, "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")).unwrap();
    c.insert_event(USER, event(None, "2030-01-01T09:30:00Z", "2030-01-01T10:30:00Z")).unwrap();
    let mut free = event(None, "2030-01-01T12:00:00Z", "2030-01-01T13:00:00Z");
    free["transparency"] = json!("transparent");
    c.insert_event(USER, free).unwrap();
    let cancelled = c.insert_event(USER, event(None, "2030-01-01T14:00:00Z", "2030-01-01T15:00:00Z")).unwrap();
    c.delete_event(USER, cancelled["id"].as_str().unwrap()).unwrap();
    c.insert_event(USER, event(None, "2030-01-01T23:00:00Z", "2030-01-02T01:00:00Z")).unwrap();

    let query = json!({
        "timeMin": "2030-01-01T00:00:00Z",
        "timeMax": "2030-01-02T00:00:00Z",
        "items": [{ "id": "primary" }, { "id": "nobody@example.com" }],
    });
    let r = t.call(Method::POST, "/calendar/v3/freeBusy", Some(query)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kind"], "calendar#freeBusy");
    assert_eq!(
        r.body["calendars"]["primary"]["busy"],
        json!([
            { "start": "2030-01-01T09:00:00Z", "end": "2030-01-01T10:30:00Z" },
            { "start": "2030-01-01T23:00:00Z", "end": "2030-01-02T00:00:00Z" },
        ])
    );
    assert_eq!(
        r.body["calendars"]["nobody@example.com"]["errors"],
        json!([{ "domain": "global", "reason": "notFound" }])
    );

    let empty = json!({ "timeMin": "2030-01-02T00:00:00Z", "timeMax": "2030-01-01T00:00:00Z", "items": [] });
    let r = t.call(Method::POST, "/calendar/v3/freeBusy", Some(empty)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "timeRangeEmpty");
}

#[tokio::test]
async fn calendar_auth_errors() {
    let t = TestEmu::start().await;
    let r = crate::reply(t.http.get(t.url(EVENTS)).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials","locationType":"header","location":"Authorization"}],"code":401,"message":"Invalid Credentials"}})
    );
    let contacts_only = t.control().issue_tokens(USER, &[CONTACTS_SCOPE]).unwrap().access_token;
    let r = t.call_as(&contacts_only, Method::GET, EVENTS, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "insufficientPermissions");
}
