//! Google → contacts: a full sync (every person, then a reconcile that tombstones linked contacts Google no
//! longer has) or an incremental one from the stored sync token.
//!
//! Each page is applied through the workspace writer in batches, every contact write together with its
//! link. The page to continue from is saved after each page commits and the new sync token only after the
//! last one, so a stopped run redoes at most one page, and redoing it changes nothing: people whose etag
//! matches their link are skipped.

use super::mapping::{self, CONTACT_ID_KEY, PERSON_FIELDS};
use crate::contacts::{Contact, store};
use crate::feed::ChangeOp;
use crate::feed::writer::{Check, ContactOp, Outcome, WriteItem, WriteRequest};
use crate::google::links::{self, Link, LinkWrite};
use crate::google::state::{self, DirectionCounts};
use crate::google::{AccountRun, SyncError};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::collections::{BTreeSet, HashMap, HashSet};
use switchboard_domain::{ContactPatch, Field};
use switchboard_google::people::{ListConnections, Person};
use uuid::Uuid;

/// People applied per write transaction (ARCHITECTURE §4: long jobs commit a few hundred rows at a time).
const BATCH: usize = 500;

/// What one run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub full: bool,
    pub counts: DirectionCounts,
    /// People skipped because their etag matched their link (unchanged, or our own write's echo).
    pub unchanged: u64,
    pub pages: u32,
    /// People read.
    pub people: u64,
    /// Whether people seen for the first time are looked for among existing unlinked contacts.
    match_existing: bool,
    /// Set when the account had no links as this run began (its first sync): then only people this run
    /// has applied can have one (links change under the sync's lease), so a batch looks up just those
    /// names instead of all of them. On PostgreSQL that lookup was planned as a scan of every link written
    /// so far until the statistics caught up: 30 scans, 320,000 rows read, in a 25,000-person first sync.
    linked_by_this_run: Option<HashSet<String>>,
}

/// Runs the account's inbound People sync: resumes a stopped run, else starts a full or incremental one.
pub async fn run(ctx: &AccountRun<'_>, full_requested: bool) -> Result<Report, SyncError> {
    let mut restarted = false;
    loop {
        let st = state::get(&ctx.app.db, ctx.account.id, state::PEOPLE).await?.ok_or(SyncError::NotSyncing)?;
        let (run, full, resume_page) = state::begin_run(&ctx.app.db, &st, full_requested).await?;
        let started = st.run_started_at.unwrap_or_else(Utc::now);
        match pages(ctx, run, full, started, st.sync_token.clone(), resume_page).await {
            Err(SyncError::Google(e)) if e.is_expired_sync_token() && !restarted => {
                tracing::info!(account = %ctx.account.account_email, "Google sync token expired: full sync");
                state::restart_full(&ctx.app.db, ctx.account.id).await?;
                restarted = true;
            }
            other => return other,
        }
    }
}

async fn pages(
    ctx: &AccountRun<'_>,
    run: Uuid,
    full: bool,
    started: DateTime<Utc>,
    sync_token: Option<String>,
    page_token: Option<String>,
) -> Result<Report, SyncError> {
    // A full sync into a workspace where every contact is already linked (the first sync of an empty one, the
    // weekly reconcile) has nothing to match people against: skip the lookups for each batch. Incremental runs
    // are small and always look.
    let match_existing = !full || links::has_unlinked(&ctx.app.db, ctx.ws, ctx.account.id).await?;
    let linked_by_this_run = (!links::has_remote_links(&ctx.app.db, ctx.account.id).await?).then(HashSet::new);
    let mut report = Report { full, match_existing, linked_by_this_run, ..Default::default() };
    let base = match (&sync_token, full) {
        (Some(token), false) => ListConnections::incremental(token.clone()),
        _ => ListConnections::full_sync(),
    };
    let base = ListConnections { person_fields: PERSON_FIELDS.to_owned(), ..base };
    // The first page; a page saved by a stopped run that Google no longer accepts (page tokens are
    // short-lived) starts this run's listing over, and the pages already applied are skipped by their etags.
    let (mut page, mut mapped) = match fetch(ctx, &base, page_token.clone()).await {
        Err(SyncError::Google(e)) if page_token.is_some() && e.status() == Some(400) && !e.is_expired_sync_token() => {
            tracing::info!(account = %ctx.account.account_email, "saved page token refused; listing again");
            state::save_page(&ctx.app.db, ctx.account.id, None).await?;
            fetch(ctx, &base, None).await?
        }
        other => other?,
    };
    let next_sync_token = loop {
        report.pages += 1;
        let next_token = page.next_page_token.clone();
        let people = std::mem::take(&mut page.connections);
        let applying = async {
            for chunk in people.chunks(BATCH) {
                apply(ctx, chunk, &mapped, full.then_some(run), &mut report).await?;
            }
            // Committed: a stopped run resumes after this page (before the prefetched one is waited for).
            if let Some(token) = &next_token {
                state::save_page(&ctx.app.db, ctx.account.id, Some(token)).await?;
                ctx.renew_lease().await?;
            }
            Ok::<_, SyncError>(())
        };
        // The next page is fetched while this one is applied: Google's answer time hides behind our writes.
        let next_page = match &next_token {
            Some(token) => {
                let (applied, next) = tokio::join!(applying, fetch(ctx, &base, Some(token.clone())));
                applied?;
                Some(next)
            }
            None => {
                applying.await?;
                None
            }
        };
        report.people += people.len() as u64;
        if let Some(progress) = ctx.progress {
            progress(crate::google::Progress {
                people: report.people,
                total: page.total_items.or(page.total_people),
                pages: report.pages,
            });
        }
        if full && report.pages == 1 && people.len() >= 500 {
            refresh_statistics(ctx).await;
        }
        match (next_token, next_page) {
            (Some(_), Some(next)) => (page, mapped) = next?,
            _ => break page.next_sync_token,
        }
    };
    if full {
        reconcile(ctx, run, started, &mut report).await?;
    }
    let mut counts = ctx.counts().await?;
    counts.inbound.add(report.counts);
    let next = Utc::now() + chrono::Duration::from_std(ctx.app.config.google.sync_interval).unwrap_or_default();
    state::finish_run(&ctx.app.db, ctx.account.id, full, next_sync_token.as_deref(), &counts, next).await?;
    Ok(report)
}

/// Each live person of a page read as contact fields, by resource name.
type MappedPeople = HashMap<String, switchboard_domain::ContactFields>;

/// One page of the listing (and the session's refreshed tokens saved), its people read as contact fields.
async fn fetch(
    ctx: &AccountRun<'_>,
    base: &ListConnections,
    page_token: Option<String>,
) -> Result<(switchboard_google::people::ListConnectionsResponse, MappedPeople), SyncError> {
    let request = ListConnections { page_token, ..base.clone() };
    let page = ctx.google().list_connections(&ctx.session, &request).await;
    ctx.save_tokens().await?;
    let mut page = page?;
    let (people, mapped) = map_people(ctx, std::mem::take(&mut page.connections)).await?;
    page.connections = people;
    Ok((page, mapped))
}

/// Reads a page's live people as contact fields on a blocking thread: phone parsing is a good part of a full
/// sync's CPU, and there it overlaps the writes of the page before (fetched pages are mapped while the
/// previous one is applied) instead of delaying them.
async fn map_people(ctx: &AccountRun<'_>, people: Vec<Person>) -> Result<(Vec<Person>, MappedPeople), SyncError> {
    let policy = ctx.policy.clone();
    let account = ctx.account.account_email.clone();
    let mapping = tokio::task::spawn_blocking(move || {
        let mut mapped = HashMap::with_capacity(people.len());
        for p in people.iter().filter(|p| !p.is_deleted()) {
            let Some(name) = p.resource_name.clone() else { continue };
            let m = mapping::from_person(p, &policy);
            if !m.skipped_numbers.is_empty() {
                tracing::warn!(%account, person = %name, numbers = m.skipped_numbers.len(),
                    "left out phone numbers that do not parse");
            }
            mapped.insert(name, m.fields);
        }
        (people, mapped)
    });
    mapping.await.map_err(|e| SyncError::App(crate::error::AppError::internal(e)))
}

/// On PostgreSQL, re-reads the statistics of the tables a full sync fills. A first sync grows them from
/// (nearly) empty faster than autovacuum re-analyses them, and plans made for empty tables turned each
/// batch's lookups into scans of everything written so far (a 25,000-person sync took 27-47 s instead of 7).
async fn refresh_statistics(ctx: &AccountRun<'_>) {
    if let switchboard_store::Db::Postgres(pool) = &ctx.app.db
        && let Err(e) =
            sqlx::query("ANALYZE contacts, contact_phones, contact_emails, external_links, changes").execute(pool).await
    {
        tracing::debug!(error = %e, "could not refresh table statistics");
    }
}

/// What to do with one person.
enum Plan {
    /// Nothing changes (etag unchanged, or nothing usable).
    Skip,
    /// A contact write with its link.
    Write(Box<WriteItem>),
    /// Only the link changes (the contact is already in the right state).
    Link(LinkWrite),
}

/// Applies a batch of people. Contacts that changed locally between our read and the write (a stale
/// `If-Match`) are planned again with their new state.
async fn apply(
    ctx: &AccountRun<'_>,
    people: &[Person],
    mapped: &MappedPeople,
    seen: Option<Uuid>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let mut todo: Vec<&Person> = people.iter().filter(|p| p.resource_name.is_some()).collect();
    for _attempt in 0..3 {
        if todo.is_empty() {
            break;
        }
        let known = Known::load(ctx, &todo, mapped, report).await?;
        let mut items = Vec::new();
        let mut persons = Vec::new();
        let mut link_only = Vec::new();
        let mut unchanged = Vec::new();
        let mut claimed = HashSet::new();
        for person in &todo {
            for plan in plan(ctx, person, &known, seen, &mut claimed) {
                match plan {
                    Plan::Skip => {
                        report.unchanged += 1;
                        unchanged.push(person.resource_name.as_deref().unwrap_or_default());
                    }
                    Plan::Write(item) => {
                        items.push(*item);
                        persons.push(*person);
                    }
                    Plan::Link(write) => link_only.push(write),
                }
            }
        }
        if let Some(linked) = &mut report.linked_by_this_run {
            // Every name a link of this batch can carry (more than are written: a lookup too many is harmless).
            for person in &todo {
                linked.extend(person.resource_name.iter().chain(person.previous_resource_names()).cloned());
            }
        }
        if let Some(run) = seen {
            links::mark_seen(&ctx.app.db, ctx.account.id, run, &unchanged).await?;
        }
        links::write_alone(&ctx.app.db, ctx.ws, &link_only).await?;
        if items.is_empty() {
            break;
        }
        let request = WriteRequest { author: ctx.author(), items, idempotency: None, lease: Some(ctx.lease()) };
        let result = ctx.app.writers.submit(ctx.ws, request).await?;
        let mut retry = Vec::new();
        for (item, person) in result.items.into_iter().zip(persons) {
            match item.outcome {
                Outcome::Applied { op: ChangeOp::Create, .. } => report.counts.created += 1,
                Outcome::Applied { op: ChangeOp::Update, changed: true, .. } => report.counts.updated += 1,
                Outcome::Applied { op: ChangeOp::Delete, changed: true, .. } => report.counts.deleted += 1,
                Outcome::Applied { .. } => report.unchanged += 1,
                Outcome::Failed { error } if error.code == "LEASE_LOST" => return Err(SyncError::LeaseLost),
                Outcome::Failed { error } if error.status == 412 => retry.push(person),
                Outcome::Failed { error } => {
                    report.counts.failed += 1;
                    tracing::warn!(account = %ctx.account.account_email, person = ?person.resource_name,
                        code = %error.code, "a Google person could not be applied: {}", error.message);
                }
            }
        }
        retry.dedup_by_key(|p| p.resource_name.clone());
        todo = retry;
    }
    Ok(())
}

/// The links and contacts a batch touches.
struct Known<'m> {
    by_remote: HashMap<String, Link>,
    /// Links of contacts named in people's `clientData` (people we created).
    by_entity: HashMap<Uuid, Link>,
    /// Unlinked contacts by email address and by E.164 number, for people seen for the first time.
    by_email: HashMap<String, Vec<Uuid>>,
    by_number: HashMap<String, Vec<Uuid>>,
    contacts: HashMap<Uuid, Contact>,
    /// Each live person of the page read as contact fields, by resource name.
    mapped: &'m MappedPeople,
}

impl<'m> Known<'m> {
    async fn load(
        ctx: &AccountRun<'_>,
        people: &[&Person],
        mapped: &'m MappedPeople,
        report: &Report,
    ) -> Result<Self, SyncError> {
        let mut names: Vec<&str> = Vec::new();
        let mut tagged: Vec<Uuid> = Vec::new();
        for p in people {
            names.extend(p.resource_name.as_deref());
            names.extend(p.previous_resource_names().iter().map(String::as_str));
            tagged.extend(p.client_data_value(CONTACT_ID_KEY).and_then(|v| v.parse::<Uuid>().ok()));
        }
        if let Some(linked) = &report.linked_by_this_run {
            names.retain(|n| linked.contains(*n));
        }
        let by_remote: HashMap<String, Link> = links::by_remote(&ctx.app.db, ctx.account.id, &names)
            .await?
            .into_iter()
            .filter_map(|l| Some((l.remote_id.clone()?, l)))
            .collect();
        let by_entity: HashMap<Uuid, Link> = links::by_entity(&ctx.app.db, ctx.account.id, &tagged)
            .await?
            .into_iter()
            .map(|l| (l.entity_id, l))
            .collect();
        // People with no link yet may already be here (imported before the account was connected).
        let fresh: Vec<&switchboard_domain::ContactFields> = people
            .iter()
            .filter(|p| !p.is_deleted())
            .filter(|p| {
                let mut names = p.resource_name.iter().chain(p.previous_resource_names());
                !names.any(|n| by_remote.contains_key(n))
            })
            .filter_map(|p| mapped.get(p.resource_name.as_deref().unwrap_or_default()))
            .collect();
        let emails: Vec<&str> = fresh.iter().flat_map(|f| f.emails.iter().map(|e| e.address.as_str())).collect();
        let numbers: Vec<&str> = fresh.iter().flat_map(|f| f.phones.iter().filter_map(|p| p.e164.as_deref())).collect();
        let (email_rows, number_rows) = if report.match_existing {
            links::unlinked_candidates(&ctx.app.db, ctx.ws, ctx.account.id, &emails, &numbers).await?
        } else {
            Default::default()
        };
        let mut by_email: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut by_number: HashMap<String, Vec<Uuid>> = HashMap::new();
        for (key, id) in &email_rows {
            by_email.entry(key.clone()).or_default().push(*id);
        }
        for (key, id) in &number_rows {
            by_number.entry(key.clone()).or_default().push(*id);
        }
        let candidates = email_rows.iter().chain(&number_rows).map(|(_, id)| *id);
        let mut ids: Vec<Uuid> = by_remote.values().map(|l| l.entity_id).chain(tagged).chain(candidates).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut pooled = ctx.app.db.acquire().await?;
        let contacts = store::load_any(&mut pooled.conn(), &ids)
            .await?
            .into_iter()
            .filter(|(ws, _)| *ws == ctx.ws)
            .map(|(_, c)| (c.id, c))
            .collect();
        Ok(Self { by_remote, by_entity, by_email, by_number, contacts, mapped })
    }
}

/// Decides what one person does to the contacts (usually one plan; a merge also retires the people merged
/// into it).
fn plan(
    ctx: &AccountRun<'_>,
    person: &Person,
    known: &Known,
    seen: Option<Uuid>,
    claimed: &mut HashSet<Uuid>,
) -> Vec<Plan> {
    let name = person.resource_name.clone().unwrap_or_default();
    let account = ctx.account.id;
    let own = known.by_remote.get(&name);
    // A merge: the survivor lists the people it absorbed; their contacts are retired, the survivor keeps one.
    let previous: Vec<&Link> = person
        .previous_resource_names()
        .iter()
        .filter(|n| **n != name)
        .filter_map(|n| known.by_remote.get(n))
        .collect();
    let mut plans = Vec::new();
    let (link, absorbed) = match own {
        Some(l) => (Some(l), previous),
        None => match previous.split_first() {
            Some((first, rest)) => (Some(*first), rest.to_vec()),
            None => (None, Vec::new()),
        },
    };
    for gone in absorbed {
        plans.push(retire(ctx, gone, known));
    }
    if person.is_deleted() {
        plans.push(match link {
            Some(l) => retire(ctx, l, known),
            None => Plan::Skip,
        });
        return plans;
    }
    // A person we created whose link was never written (the create's answer was lost).
    let link = link.or_else(|| {
        let tagged: Uuid = person.client_data_value(CONTACT_ID_KEY)?.parse().ok()?;
        known.by_entity.get(&tagged).filter(|l| l.remote_id.is_none())
    });
    let tagged_orphan = match (link, person.client_data_value(CONTACT_ID_KEY).and_then(|v| v.parse::<Uuid>().ok())) {
        (None, Some(id)) if known.contacts.get(&id).is_some_and(|c| !c.deleted) => Some(id),
        _ => None,
    };
    let etag = person.etag.clone();
    if let Some(l) = link
        && l.remote_id.as_deref() == Some(name.as_str())
        && l.remote_etag.is_some()
        && l.remote_etag == etag
    {
        plans.push(Plan::Skip);
        return plans;
    }
    let incoming = match known.mapped.get(&name) {
        Some(fields) => fields.clone(),
        None => mapping::from_person(person, &ctx.policy).fields,
    };
    let new_link = |entity_id: Uuid, old: Option<&Link>| Link {
        account_id: account,
        entity_id,
        remote_id: Some(name.clone()),
        remote_etag: etag.clone(),
        synced: Some(Json(incoming.clone())),
        seen_run: seen.or(old.and_then(|l| l.seen_run)),
        last_synced_at: Some(Utc::now()),
        error: None,
    };
    let matched = match (link, tagged_orphan) {
        (None, None) => first_sight_match(&incoming, known, claimed),
        _ => None,
    };
    let entity = link.map(|l| l.entity_id).or(tagged_orphan).or(matched);
    if let Some(id) = entity
        && !claimed.insert(id)
    {
        // Two people of one batch want the same contact (it matched both): the second gets its own.
        plans.push(create(ctx, &incoming, new_link, link.is_none()));
        return plans;
    }
    match entity.and_then(|id| known.contacts.get(&id)) {
        Some(contact) if contact.deleted => {
            // Deleted here after the last exchange: the outbound push deletes the person; nothing to apply.
            plans.push(Plan::Skip);
        }
        Some(contact) => {
            let set = match link.and_then(|l| l.synced.as_ref()) {
                Some(base) => google_wins(&incoming, &base.0, contact, person),
                // First link (a match, or a create whose answer was lost): Google's values fill in and
                // replace what differs, but an empty Google field does not erase ours (the push sends it).
                None => mapping::differing(&incoming, &contact.fields)
                    .into_iter()
                    .filter(|f| !incoming.same(&switchboard_domain::ContactFields::default(), *f))
                    .collect(),
            };
            let patch = ContactPatch { set, values: incoming.clone() };
            let item = WriteItem::new(ContactOp::Update {
                id: contact.id,
                patch,
                check: Check::IfMatch(contact.version),
                slots: None,
                or_create: None,
            })
            .with_link(LinkWrite::Upsert(Box::new(new_link(contact.id, link))));
            plans.push(Plan::Write(Box::new(item)));
        }
        None if link.is_some() => {
            // The link's contact is gone (purged); start over with a new contact.
            plans.push(create(ctx, &incoming, new_link, false));
        }
        None => plans.push(create(ctx, &incoming, new_link, true)),
    }
    plans
}

/// An unlinked contact that is this person seen for the first time: one with the same email address, or
/// with the same number and the same name (a number alone is often shared, e.g. a switchboard line).
fn first_sight_match(
    incoming: &switchboard_domain::ContactFields,
    known: &Known,
    claimed: &HashSet<Uuid>,
) -> Option<Uuid> {
    let free = |ids: Option<&Vec<Uuid>>| ids.into_iter().flatten().copied().find(|id| !claimed.contains(id));
    let same_name = |id: &Uuid| {
        known.contacts.get(id).is_some_and(|c| {
            let fold = |v: &Option<String>| v.as_deref().map(switchboard_domain::fold);
            fold(&c.fields.given_name) == fold(&incoming.given_name)
                && fold(&c.fields.family_name) == fold(&incoming.family_name)
        })
    };
    incoming.emails.iter().find_map(|e| free(known.by_email.get(&e.address))).or_else(|| {
        incoming.phones.iter().filter_map(|p| p.e164.as_ref()).find_map(|n| {
            known.by_number.get(n).into_iter().flatten().copied().find(|id| !claimed.contains(id) && same_name(id))
        })
    })
}

/// A new contact for the person, with its link. `unlinked`: the batch's lookup found no link to the person
/// (the sync's lease keeps it so until the write), so the link is inserted without clearing old rows first.
fn create(
    ctx: &AccountRun<'_>,
    incoming: &switchboard_domain::ContactFields,
    link: impl Fn(Uuid, Option<&Link>) -> Link,
    unlinked: bool,
) -> Plan {
    if !incoming.is_identifiable() {
        tracing::debug!(account = %ctx.account.account_email, "skipped a Google person with nothing to identify it");
        return Plan::Skip;
    }
    let id = Uuid::now_v7();
    let op = ContactOp::Create { id, fields: incoming.clone(), source: "google".into(), client_id: false };
    let link = Box::new(link(id, None));
    let link = if unlinked { LinkWrite::Insert(link) } else { LinkWrite::Upsert(link) };
    Plan::Write(Box::new(WriteItem::new(op).with_link(link)))
}

/// Tombstones the contact of a person Google no longer has, and drops the link.
fn retire(ctx: &AccountRun<'_>, link: &Link, known: &Known) -> Plan {
    let drop = LinkWrite::Delete { account_id: ctx.account.id, entity_id: link.entity_id };
    match known.contacts.get(&link.entity_id) {
        Some(c) if !c.deleted => {
            Plan::Write(Box::new(WriteItem::new(ContactOp::Delete { id: c.id, check: Check::None }).with_link(drop)))
        }
        _ => Plan::Link(drop),
    }
}

/// The fields Google changed since the last exchange that the contact takes: those not also changed here,
/// and, where both sides changed the same field, Google's when its edit is the more recent.
fn google_wins(
    incoming: &switchboard_domain::ContactFields,
    base: &switchboard_domain::ContactFields,
    contact: &Contact,
    person: &Person,
) -> BTreeSet<Field> {
    let google_newer = mapping::google_is_newer(person, contact);
    mapping::differing(incoming, base).into_iter().filter(|f| contact.fields.same(base, *f) || google_newer).collect()
}

/// After a full sync: contacts linked to people the sync did not see are tombstoned (deleted in Google
/// while the sync token was expired).
async fn reconcile(
    ctx: &AccountRun<'_>,
    run: Uuid,
    started: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let gone = links::unseen(&ctx.app.db, ctx.account.id, run, started).await?;
    let none = MappedPeople::new();
    for chunk in gone.chunks(BATCH) {
        let ids: Vec<Uuid> = chunk.iter().map(|l| l.entity_id).collect();
        let mut pooled = ctx.app.db.acquire().await?;
        let contacts: HashMap<Uuid, Contact> =
            store::load_any(&mut pooled.conn(), &ids).await?.into_iter().map(|(_, c)| (c.id, c)).collect();
        drop(pooled);
        let known = Known {
            by_remote: HashMap::new(),
            by_entity: HashMap::new(),
            by_email: HashMap::new(),
            by_number: HashMap::new(),
            contacts,
            mapped: &none,
        };
        let mut items = Vec::new();
        let mut link_only = Vec::new();
        for link in chunk {
            match retire(ctx, link, &known) {
                Plan::Write(item) => items.push(*item),
                Plan::Link(w) => link_only.push(w),
                Plan::Skip => {}
            }
        }
        links::write_alone(&ctx.app.db, ctx.ws, &link_only).await?;
        if !items.is_empty() {
            let result = ctx
                .app
                .writers
                .submit(
                    ctx.ws,
                    WriteRequest { author: ctx.author(), items, idempotency: None, lease: Some(ctx.lease()) },
                )
                .await?;
            if result
                .items
                .iter()
                .any(|i| matches!(&i.outcome, Outcome::Failed { error } if error.code == "LEASE_LOST"))
            {
                return Err(SyncError::LeaseLost);
            }
            report.counts.deleted +=
                result.items.iter().filter(|i| matches!(i.outcome, Outcome::Applied { changed: true, .. })).count()
                    as u64;
        }
    }
    Ok(())
}
