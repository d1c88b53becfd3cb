"""Conformance check: Google's official Python client against the emulator.

Usage: python conformance.py BASE_URL
Environment: EMULATOR_ACCOUNT (seeded account email), EMULATOR_REFRESH_TOKEN (a refresh token
for it with the contacts scope), EMULATOR_EXPECTED_PEOPLE (how many people were seeded).

Uses googleapiclient.discovery.build("people", "v1", static_discovery=True) pointed at the
emulator, and google-auth's Credentials, which refresh through the emulator's /token.
"""

import json
import os
import sys
import urllib.request

import google.oauth2.credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

CONTACTS = "https://www.googleapis.com/auth/contacts"
FIELDS = "names,phoneNumbers,metadata"


def control(base, path, body=None):
    """POST to the emulator's control API ("as the user in Google")."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def list_all(connections, **params):
    """Pages through connections.list; returns (people, nextSyncToken, page count)."""
    people, pages, sync_token = [], 0, None
    request = connections.list(resourceName="people/me", **params)
    while request is not None:
        response = request.execute()
        pages += 1
        people.extend(response.get("connections", []))
        if "nextPageToken" in response:
            assert "nextSyncToken" not in response, "nextSyncToken before the last page"
        else:
            sync_token = response.get("nextSyncToken")
        previous = request
        request = connections.list_next(previous, response)
    return people, sync_token, pages


def main():
    base = sys.argv[1].rstrip("/")
    account = os.environ["EMULATOR_ACCOUNT"]
    expected = int(os.environ["EMULATOR_EXPECTED_PEOPLE"])

    creds = google.oauth2.credentials.Credentials(
        token=None,  # forces google-auth to refresh through the emulator's /token first
        refresh_token=os.environ["EMULATOR_REFRESH_TOKEN"],
        token_uri=base + "/token",
        client_id="python-conformance",
        client_secret="secret",
        scopes=[CONTACTS],
    )
    service = build(
        "people",
        "v1",
        credentials=creds,
        static_discovery=True,
        client_options={"api_endpoint": base},
    )
    people = service.people()
    connections = people.connections()

    # Full sync in pages of 10, with a sync token on the last page.
    listed, sync_token, pages = list_all(
        connections, personFields=FIELDS, pageSize=10, requestSyncToken=True
    )
    assert creds.token and creds.refresh_token, "google-auth refreshed and kept the refresh token"
    assert len(listed) == expected, (len(listed), expected)
    assert len({p["resourceName"] for p in listed}) == expected
    assert pages == (expected + 9) // 10, pages
    assert sync_token, "no nextSyncToken on the last page"
    for person in listed:
        assert person["resourceName"].startswith("people/c")
        assert person["etag"]
        assert person["metadata"]["sources"][0]["type"] == "CONTACT"
    first = connections.list(resourceName="people/me", personFields="names", pageSize=5).execute()
    assert first["totalItems"] == expected and len(first["connections"]) == 5

    # createContact, then updateContact with the returned etag.
    created = people.createContact(
        body={"names": [{"givenName": "Grace", "familyName": "Hopper"}],
              "phoneNumbers": [{"value": "(202) 555-0143", "type": "work"}]}
    ).execute()
    assert created["names"][0]["displayName"] == "Grace Hopper"
    assert created["phoneNumbers"][0]["canonicalForm"] == "+12025550143"
    updated = people.updateContact(
        resourceName=created["resourceName"],
        updatePersonFields="names",
        body={"etag": created["etag"], "names": [{"givenName": "Grace", "familyName": "Brewster"}]},
    ).execute()
    assert updated["etag"] != created["etag"]
    assert updated["names"][0]["familyName"] == "Brewster"

    # A stale etag: HttpError 400 FAILED_PRECONDITION with Google's message.
    try:
        people.updateContact(
            resourceName=created["resourceName"],
            updatePersonFields="names",
            body={"etag": created["etag"], "names": [{"givenName": "Stale"}]},
        ).execute()
        raise AssertionError("stale etag accepted")
    except HttpError as error:
        assert error.status_code == 400, error.status_code
        assert error.reason.startswith("Request person.etag is different"), error.reason

    # people.get masks by personFields.
    got = people.get(resourceName=created["resourceName"], personFields="names").execute()
    assert got["names"][0]["familyName"] == "Brewster" and "phoneNumbers" not in got

    # deleteContact, and an edit made "in Google" by the user.
    victim = listed[0]["resourceName"]
    assert people.deleteContact(resourceName=victim).execute() == {}
    in_google = control(base, f"/_emulator/accounts/{account}/people",
                        {"names": [{"givenName": "Made", "familyName": "InGoogle"}]})["people"][0]

    # Incremental sync: each changed person once, deletions with metadata.deleted.
    changed, next_token, _ = list_all(
        connections, personFields=FIELDS, pageSize=2, requestSyncToken=True, syncToken=sync_token
    )
    by_name = {p["resourceName"]: p for p in changed}
    assert len(changed) == 3 == len(by_name), [p["resourceName"] for p in changed]
    assert by_name[created["resourceName"]]["names"][0]["familyName"] == "Brewster"
    assert by_name[victim]["metadata"]["deleted"] is True
    assert by_name[in_google["resourceName"]]["names"][0]["givenName"] == "Made"
    assert next_token

    nothing, _, _ = list_all(connections, personFields=FIELDS, requestSyncToken=True, syncToken=next_token)
    assert nothing == [], nothing

    # An expired sync token, as the official client surfaces it.
    control(base, f"/_emulator/accounts/{account}/expire-sync-tokens")
    try:
        connections.list(
            resourceName="people/me", personFields=FIELDS, requestSyncToken=True, syncToken=next_token
        ).execute()
        raise AssertionError("expired sync token accepted")
    except HttpError as error:
        assert error.status_code == 400, error.status_code
        assert error.resp.status == 400
        assert error.reason == (
            "Sync token is expired. Clear local cache and retry call without the sync token."
        ), error.reason
        details = error.error_details
        assert isinstance(details, list) and details, details
        assert details[0]["reason"] == "EXPIRED_SYNC_TOKEN", details
        assert details[0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo", details
        body = json.loads(error.content)
        assert body["error"]["status"] == "FAILED_PRECONDITION", body

    # personFields is required.
    try:
        connections.list(resourceName="people/me").execute()
        raise AssertionError("missing personFields accepted")
    except HttpError as error:
        assert error.status_code == 400

    print("conformance: ok")


if __name__ == "__main__":
    main()
