//! Contacts → Google: follows the change feed from the account's own cursor and creates, updates or deletes
//! each changed contact's person, one request at a time (Google asks for sequential mutations per user, and
//! its write quota is per user per minute) under the account's rate limit.
//!
//! Changes this account itself brought in (origin `google:<email>`) are skipped, so nothing ping-pongs.
//! An update sends only the Google fields whose contact fields differ from the last exchange, with the
//! stored etag; when Google has moved on (etag mismatch) the person is re-read, our fields are applied on top
//! and the write is retried once. A contact Google refuses for good gets the error on its link and the
//! others carry on; a temporary failure (rate limit, outage) stops the push with the cursor before that
//! contact, and the next run resumes there.

use super::mapping::{self, CONTACT_ID_KEY, PERSON_FIELDS, SYNCED};
use crate::contacts::{Contact, store};
use crate::google::accounts::PushScope;
use crate::google::links::{self, Link, LinkWrite};
use crate::google::state::{self, DirectionCounts};
use crate::google::{AccountRun, SyncError};
use chrono::Utc;
use sqlx::types::Json;
use std::collections::{BTreeSet, HashMap};
use switchboard_domain::Field;
use switchboard_google::GoogleError;
use switchboard_google::people::Person;
use uuid::Uuid;

/// Feed rows read per round.
const PAGE: i64 = 500;

/// Pushes every contact change after the account's cursor.
pub async fn push(ctx: &AccountRun<'_>) -> Result<DirectionCounts, SyncError> {
    let mut total = DirectionCounts::default();
    let origin = ctx.origin();
    loop {
        let st = state::get(&ctx.app.db, ctx.account.id, state::PEOPLE).await?.ok_or(SyncError::NotSyncing)?;
        let cursor = st.outbound_version;
        let changes = {
            let mut pooled = ctx.app.db.acquire().await?;
            crate::feed::after(&mut pooled.conn(), ctx.ws, cursor, PAGE).await?
        };
        let Some(last) = changes.last().map(|c| c.version) else { return Ok(total) };
        // Each contact once, at its latest state, remembered by the first version that named it.
        let mut order: Vec<(Uuid, i64)> = Vec::new();
        for c in changes.iter().filter(|c| c.entity_type == "contact" && c.origin != origin) {
            if !order.iter().any(|(id, _)| *id == c.entity_id) {
                order.push((c.entity_id, c.version));
            }
        }
        let ids: Vec<Uuid> = order.iter().map(|(id, _)| *id).collect();
        let contacts: HashMap<Uuid, Contact> = {
            let mut pooled = ctx.app.db.acquire().await?;
            store::load_any(&mut pooled.conn(), &ids).await?.into_iter().map(|(_, c)| (c.id, c)).collect()
        };
        let known: HashMap<Uuid, Link> =
            links::by_entity(&ctx.app.db, ctx.account.id, &ids).await?.into_iter().map(|l| (l.entity_id, l)).collect();
        let mut counts = DirectionCounts::default();
        let mut stopped_at = None;
        for (id, first_version) in &order {
            let Some(contact) = contacts.get(id) else { continue };
            match one(ctx, contact, known.get(id), &mut counts).await {
                Ok(()) => {}
                Err(SyncError::Google(e)) if permanent(&e) => {
                    counts.failed += 1;
                    record_failure(ctx, contact.id, known.get(id), &e).await?;
                }
                Err(e) => {
                    stopped_at = Some((*first_version, e));
                    break;
                }
            }
        }
        ctx.save_tokens().await?;
        total.add(counts);
        // The stored totals as read above: only this pass, under the account's lease, changes them.
        let mut all = st.counts.0.clone();
        all.outbound.add(counts);
        let next_cursor = stopped_at.as_ref().map_or(last, |(v, _)| v - 1);
        state::save_outbound(&ctx.app.db, ctx.account.id, next_cursor, &all).await?;
        if let Some((_, error)) = stopped_at {
            return Err(error);
        }
        ctx.renew_lease().await?;
    }
}

/// A failure retrying will not fix: this contact is recorded as failed and the push goes on.
fn permanent(e: &GoogleError) -> bool {
    matches!(e.status(), Some(400 | 403 | 404 | 409 | 412 | 422)) && !e.is_rate_limited() && !e.is_insufficient_scope()
}

/// Whether the account pushes this contact when it is not yet in Google.
fn in_scope(ctx: &AccountRun<'_>, contact: &Contact) -> bool {
    let settings = &ctx.account.settings.0;
    match settings.push {
        PushScope::All => true,
        PushScope::Label => settings.label.as_ref().is_some_and(|l| contact.fields.labels.contains(l)),
        PushScope::None => false,
    }
}

async fn one(
    ctx: &AccountRun<'_>,
    contact: &Contact,
    link: Option<&Link>,
    counts: &mut DirectionCounts,
) -> Result<(), SyncError> {
    let remote = link.and_then(|l| l.remote_id.clone());
    match (contact.deleted, remote) {
        (true, Some(remote)) => {
            ctx.pace().await;
            match ctx.google().delete_contact(&ctx.session, &remote).await {
                Ok(()) => counts.deleted += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            links::write_alone(
                &ctx.app.db,
                ctx.ws,
                &[LinkWrite::Delete { account_id: ctx.account.id, entity_id: contact.id }],
            )
            .await?;
        }
        (true, None) => {}
        (false, None) => {
            // Linked contacts keep syncing whatever the scope; the scope decides which new ones go to Google.
            if link.is_none() && !in_scope(ctx, contact) {
                return Ok(());
            }
            let all: BTreeSet<Field> = SYNCED.into_iter().collect();
            let (mut body, _, _) = mapping::to_person(&contact.fields, &all);
            body.set_client_data(CONTACT_ID_KEY, contact.id.to_string());
            ctx.pace().await;
            let created = ctx.google().create_contact(&ctx.session, &body, PERSON_FIELDS).await?;
            let synced = mapping::from_person(&created, &ctx.policy).fields;
            save_link(ctx, contact.id, &created, synced, created.etag.clone()).await?;
            counts.created += 1;
        }
        (false, Some(remote)) => {
            let link = link.expect("a remote id comes from a link");
            let synced = link.synced.as_ref().map(|s| s.0.clone()).unwrap_or_default();
            let changed = mapping::differing(&contact.fields, &synced);
            if changed.is_empty() {
                return Ok(());
            }
            let (mut body, mask, mut written) = mapping::to_person(&contact.fields, &changed);
            body.etag = link.remote_etag.clone();
            ctx.pace().await;
            let updated = match ctx.google().update_contact(&ctx.session, &remote, &body, &mask, PERSON_FIELDS).await {
                Ok(p) => p,
                Err(e) if e.is_etag_mismatch() => {
                    // Google changed the person since we last saw it: merge per field on its latest version.
                    let latest = ctx.google().get_person(&ctx.session, &remote, PERSON_FIELDS).await?;
                    let theirs = mapping::from_person(&latest, &ctx.policy).fields;
                    let google_changed = mapping::differing(&theirs, &synced);
                    let google_newer = mapping::google_is_newer(&latest, contact);
                    // Where both sides changed a field, the later edit wins; Google's wins arrive inbound.
                    let ours: BTreeSet<Field> =
                        changed.iter().copied().filter(|f| !(google_changed.contains(f) && google_newer)).collect();
                    if ours.is_empty() {
                        return Ok(());
                    }
                    // A Google field carries several contact fields (names: given and family): fields we do
                    // not write keep Google's latest values.
                    let merged = mapping::with_fields(&theirs, &contact.fields, &ours);
                    let (mut body, mask, now_written) = mapping::to_person(&merged, &ours);
                    body.etag = latest.etag.clone();
                    written = now_written;
                    ctx.pace().await;
                    ctx.google().update_contact(&ctx.session, &remote, &body, &mask, PERSON_FIELDS).await?
                }
                Err(e) if e.is_not_found() => {
                    // Deleted in Google meanwhile: the next inbound sync reports it and retires the contact.
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            let returned = mapping::from_person(&updated, &ctx.policy).fields;
            let new_synced = mapping::with_fields(&synced, &returned, &written);
            // Keep the old etag when Google holds changes we have not read yet (fields we did not write that
            // differ from the last exchange): the next inbound sync must not take this person for our echo.
            let etag = if mapping::differing(&returned, &new_synced).is_empty() {
                updated.etag.clone()
            } else {
                link.remote_etag.clone()
            };
            save_link(ctx, contact.id, &updated, new_synced, etag).await?;
            counts.updated += 1;
        }
    }
    Ok(())
}

async fn save_link(
    ctx: &AccountRun<'_>,
    entity_id: Uuid,
    person: &Person,
    synced: switchboard_domain::ContactFields,
    etag: Option<String>,
) -> Result<(), SyncError> {
    let link = Link {
        account_id: ctx.account.id,
        entity_id,
        remote_id: person.resource_name.clone(),
        remote_etag: etag,
        synced: Some(Json(synced)),
        seen_run: None,
        last_synced_at: Some(Utc::now()),
        error: None,
    };
    links::write_alone(&ctx.app.db, ctx.ws, &[LinkWrite::Upsert(Box::new(link))]).await?;
    Ok(())
}

async fn record_failure(
    ctx: &AccountRun<'_>,
    entity_id: Uuid,
    link: Option<&Link>,
    e: &GoogleError,
) -> Result<(), SyncError> {
    tracing::warn!(account = %ctx.account.account_email, contact = %entity_id, "Google refused a contact: {e}");
    let link = match link {
        Some(l) => Link { error: Some(e.to_string()), ..l.clone() },
        None => Link {
            account_id: ctx.account.id,
            entity_id,
            remote_id: None,
            remote_etag: None,
            synced: None,
            seen_run: None,
            last_synced_at: None,
            error: Some(e.to_string()),
        },
    };
    links::write_alone(&ctx.app.db, ctx.ws, &[LinkWrite::Upsert(Box::new(link))]).await?;
    Ok(())
}
