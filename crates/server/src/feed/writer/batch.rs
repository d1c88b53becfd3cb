//! One group-commit transaction, in three steps:
//!
//! 1. load every contact the batch touches, in one statement;
//! 2. apply every item in memory, in order — an item is checked completely before it changes anything, so
//!    each one is atomic on its own and a rejected item leaves no trace;
//! 3. write the result with a few multi-row statements (contacts, phones, emails, feed rows), bump the
//!    workspace version and commit.
//!
//! The number of statements no longer grows with the number of items, which is what keeps a busy workspace
//! fast when every statement is a round trip (PostgreSQL over the network; SQLite through sqlx's worker
//! thread).

use super::{Check, ContactOp, ItemError, ItemResult, Outcome, WriteItem, WriteRequest, WriteResult, WriterSettings};
use crate::contacts::{Contact, store};
use crate::feed::idempotency::{self, Lookup};
use crate::feed::{Author, Change, ChangeOp};
use crate::google::links::LinkWrite;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_domain::{ContactFields, Field, FieldError, Merge, WorkspaceId};
use switchboard_store::{Conn, Script, Step, WarmConn, WarmPool, conn_run, statement};
use uuid::Uuid;

/// A batch whose statements bind at most this many parameters is written in one round trip (below both
/// databases' limits on one statement: 32,766 on SQLite, 65,535 on PostgreSQL).
const COMBINED_MAX_PARAMETERS: usize = 16_000;

/// What a committed batch produced.
pub struct Committed {
    /// Per request.
    pub results: Vec<WriteResult>,
    /// The workspace version before the batch.
    pub start: i64,
    /// The workspace version after it.
    pub version: i64,
    /// Each change as an event, in version order (versions `start + 1 ..= version`).
    pub events: Vec<crate::feed::tail::FeedEvent>,
    /// How long each step of the transaction took.
    pub steps: Steps,
}

/// The time of each step of one transaction, for the slow-write log: it tells a slow disk (`commit`) from a
/// lock held elsewhere (`begin` on SQLite: the file's write turn; `lock` on PostgreSQL: the workspace row) or
/// a big batch (`write`).
#[derive(Debug)]
pub struct Steps {
    last: Instant,
    times: Vec<(&'static str, Duration)>,
}

impl Steps {
    fn start() -> Self {
        Self { last: Instant::now(), times: Vec::with_capacity(6) }
    }

    /// Ends the step `name` now.
    fn end(&mut self, name: &'static str) {
        let now = Instant::now();
        self.times.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, time)) in self.times.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {:.1} ms", time.as_secs_f64() * 1e3)?;
        }
        Ok(())
    }
}

/// A contact as the batch sees it.
struct Slot {
    /// Its state in this workspace (tombstones included); `None` when it does not exist here.
    contact: Option<Contact>,
    /// The id belongs to another workspace (never shown, only refused).
    foreign: bool,
    /// What must be written at the end.
    write: Write,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Nothing,
    /// A new row with its phones and emails.
    Insert,
    /// The row, and the children whose lists changed.
    Update {
        phones: bool,
        emails: bool,
    },
}

struct Batch {
    ws: WorkspaceId,
    now: DateTime<Utc>,
    version: i64,
    slots: HashMap<Uuid, Slot>,
    /// Feed rows, in version order.
    changes: Vec<Change>,
    /// The contact of each change, in version order.
    changed: Vec<Arc<Contact>>,
    /// Link writes of the items that applied.
    links: Vec<crate::google::links::LinkWrite>,
}

/// Applies `requests` in one transaction, on the connection that committed last.
pub async fn apply(
    conns: &WarmPool,
    ws: WorkspaceId,
    instance: Uuid,
    requests: &[&WriteRequest],
    settings: &WriterSettings,
) -> Result<Committed, sqlx::Error> {
    let steps = Steps::start();
    let mut conn = conns.acquire().await?;
    let committed = transaction(&mut conn, steps, ws, instance, requests, settings).await;
    if committed.is_err() {
        // The error may have left the connection unusable (PostgreSQL's socket closed): a fresh one next time.
        conn.discard();
    }
    committed
}

async fn transaction(
    conn: &mut WarmConn<'_>,
    mut steps: Steps,
    ws: WorkspaceId,
    instance: Uuid,
    requests: &[&WriteRequest],
    settings: &WriterSettings,
) -> Result<Committed, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut conn = tx.conn();
    steps.end("begin");
    // Takes the workspace row lock (PostgreSQL; SQLite holds the database write lock already).
    let start: i64 = conn_run!(&mut conn, c => sqlx::query_scalar(
        "UPDATE workspaces SET version = version WHERE id = $1 RETURNING version",
    ).bind(ws.0).fetch_one(&mut **c).await)?;
    steps.end("lock");
    let mut ids: Vec<Uuid> = requests.iter().flat_map(|r| &r.items).filter_map(|i| existing_id(&i.op)).collect();
    ids.sort_unstable();
    ids.dedup();
    let slots = store::load_any(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|(owner, contact)| {
            let foreign = owner != ws;
            (contact.id, Slot { contact: (!foreign).then_some(contact), foreign, write: Write::Nothing })
        })
        .collect();
    steps.end("load");
    // Microseconds: what PostgreSQL stores, so a response equals a later read on both databases.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let mut batch =
        Batch { ws, now, version: start, slots, changes: Vec::new(), changed: Vec::new(), links: Vec::new() };
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        results.push(batch.request(&mut conn, request, settings).await?);
    }
    steps.end("apply");
    // Written even when no contact changed: a person whose etag moved but whose fields did not.
    let links: Vec<&LinkWrite> = batch.links.iter().collect();
    crate::google::links::lock_accounts(&mut conn, ws, &links).await?;
    batch.write(&mut conn, &links, start, instance).await?;
    steps.end("write");
    tx.commit().await?;
    steps.end("commit");
    let events = batch
        .changes
        .into_iter()
        .zip(batch.changed)
        .map(|(change, contact)| crate::feed::tail::event(ws, change, contact))
        .collect();
    Ok(Committed { results, start, version: batch.version, events, steps })
}

/// The id an operation needs to look up: not for a create with a fresh server-made id.
fn existing_id(op: &ContactOp) -> Option<Uuid> {
    match op {
        ContactOp::Create { client_id: false, .. } => None,
        ContactOp::Create { id, .. } | ContactOp::Update { id, .. } | ContactOp::Delete { id, .. } => Some(*id),
    }
}

fn decode_err(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(e.into())
}

impl Batch {
    async fn request(
        &mut self,
        conn: &mut Conn<'_>,
        request: &WriteRequest,
        settings: &WriterSettings,
    ) -> Result<WriteResult, sqlx::Error> {
        let credential = request.author.credential_id;
        if let Some(lease) = &request.lease
            && !lease.renew(conn, self.now).await?
        {
            let error = ItemError::new(409, "LEASE_LOST", "Another instance took over this sync");
            let failed = || ItemResult { outcome: Outcome::Failed { error: error.clone() }, duplicate: false };
            return Ok(WriteResult { items: request.items.iter().map(|_| failed()).collect(), replayed: false });
        }
        // Idempotency records are written at once (not at the end), so a repeat later in the same batch
        // finds them.
        if let Some(key) = &request.idempotency {
            match idempotency::lookup(conn, credential, key, self.now).await? {
                Lookup::Fresh => {}
                Lookup::Replay(stored) => {
                    let outcomes: Vec<Outcome> = serde_json::from_str(&stored).map_err(decode_err)?;
                    let items = outcomes.into_iter().map(|outcome| ItemResult { outcome, duplicate: true }).collect();
                    return Ok(WriteResult { items, replayed: true });
                }
                Lookup::Reused => {
                    let error = ItemError::new(
                        422,
                        "IDEMPOTENCY_KEY_REUSED",
                        "This Idempotency-Key was already used with a different request",
                    );
                    let failed = || ItemResult { outcome: Outcome::Failed { error: error.clone() }, duplicate: false };
                    return Ok(WriteResult {
                        items: request.items.iter().map(|_| failed()).collect(),
                        replayed: false,
                    });
                }
            }
        }
        let mut items = Vec::with_capacity(request.items.len());
        for item in &request.items {
            if let Some(key) = &item.dedupe {
                match idempotency::lookup(conn, credential, key, self.now).await? {
                    Lookup::Fresh => {}
                    Lookup::Replay(stored) => {
                        let outcome = serde_json::from_str(&stored).map_err(decode_err)?;
                        items.push(ItemResult { outcome, duplicate: true });
                        continue;
                    }
                    Lookup::Reused => {
                        let error = ItemError::new(
                            422,
                            "MUTATION_ID_REUSED",
                            "This mutation id was already used for a different operation",
                        );
                        items.push(ItemResult { outcome: Outcome::Failed { error }, duplicate: false });
                        continue;
                    }
                }
            }
            let outcome = match self.item(conn, &request.author, item).await? {
                Ok(outcome) => outcome,
                Err(error) => Outcome::Failed { error },
            };
            if let (Some(link), Outcome::Applied { .. }) = (&item.link, &outcome) {
                self.links.push(link.clone());
            }
            if let (Some(key), Outcome::Applied { .. }) = (&item.dedupe, &outcome) {
                let stored = serde_json::to_string(&outcome).expect("outcome serialises");
                idempotency::store(conn, self.ws, credential, key, &stored, self.now, settings.mutation_ttl).await?;
            }
            items.push(ItemResult { outcome, duplicate: false });
        }
        if let Some(key) = &request.idempotency
            && items.iter().any(|i| matches!(i.outcome, Outcome::Applied { changed: true, .. }))
        {
            let outcomes: Vec<&Outcome> = items.iter().map(|i| &i.outcome).collect();
            let stored = serde_json::to_string(&outcomes).expect("outcomes serialise");
            idempotency::store(conn, self.ws, credential, key, &stored, self.now, settings.idempotency_ttl).await?;
        }
        Ok(WriteResult { items, replayed: false })
    }

    /// One item, checked completely before it changes the batch. The outer error is the database's.
    async fn item(
        &mut self,
        conn: &mut Conn<'_>,
        author: &Author,
        item: &WriteItem,
    ) -> Result<Result<Outcome, ItemError>, sqlx::Error> {
        let outcome = match &item.op {
            ContactOp::Create { id, fields, source, .. } => self.create(author, item, *id, fields, source),
            ContactOp::Update { id, patch, check, slots, or_create } => {
                let current = match (self.current(*id), or_create) {
                    (Some(current), _) => current.clone(),
                    (None, Some(fields)) => return Ok(self.create(author, item, *id, fields, &author.origin)),
                    (None, None) => return Ok(Err(ItemError::not_found())),
                };
                let mut patch = patch.clone();
                if let Some(slots) = slots {
                    patch.values.phones = slots.apply(&current.fields.phones);
                    patch.set.insert(Field::Phones);
                }
                if current.deleted {
                    return Ok(Err(match check {
                        Check::Merge(_) => {
                            conflict(&current, vec![FieldError::new("deleted", "was deleted on the server")])
                        }
                        _ => ItemError::not_found(),
                    }));
                }
                let effective = match *check {
                    Check::None => patch,
                    Check::IfMatch(v) | Check::BaseVersion(v) if v != current.version => {
                        return Ok(Err(stale(&current, *check)));
                    }
                    Check::IfMatch(_) | Check::BaseVersion(_) => patch,
                    Check::Merge(base) if base >= current.version => patch,
                    Check::Merge(base) => {
                        let base_fields = self.fields_at(conn, &current, base).await?;
                        match switchboard_domain::merge(&base_fields, &current.fields, &patch) {
                            Merge::Apply(p) => *p,
                            Merge::Conflict(fields) => {
                                let message = format!("was also changed on the server since version {base}");
                                let fields =
                                    fields.into_iter().map(|f| FieldError::new(f.as_str(), &message)).collect();
                                return Ok(Err(conflict(&current, fields)));
                            }
                        }
                    }
                };
                self.update(author, item, current, &effective)
            }
            ContactOp::Delete { id, check } => {
                let Some(current) = self.current(*id).cloned() else { return Ok(Err(ItemError::not_found())) };
                if current.deleted {
                    return Ok(match check {
                        // An offline device deleting what is already deleted got what it wanted.
                        Check::Merge(_) => {
                            Ok(Outcome::Applied { op: ChangeOp::Delete, contact: Box::new(current), changed: false })
                        }
                        _ => Err(ItemError::not_found()),
                    });
                }
                match *check {
                    Check::IfMatch(v) | Check::BaseVersion(v) if v != current.version => {
                        return Ok(Err(stale(&current, *check)));
                    }
                    Check::Merge(base) if base < current.version => {
                        // Deleting would silently drop server edits the device never saw.
                        let message = format!("was changed on the server since version {base}");
                        let changed = self.changed_since(conn, current.id, base).await?;
                        let fields = changed.into_iter().map(|f| FieldError::new(f.as_str(), &message)).collect();
                        return Ok(Err(conflict(&current, fields)));
                    }
                    _ => {}
                }
                self.delete(author, item, current)
            }
        };
        Ok(outcome)
    }

    /// The contact in this workspace (tombstones included), as the batch has it now.
    fn current(&self, id: Uuid) -> Option<&Contact> {
        self.slots.get(&id).and_then(|s| s.contact.as_ref())
    }

    fn create(
        &mut self,
        author: &Author,
        item: &WriteItem,
        id: Uuid,
        fields: &ContactFields,
        source: &str,
    ) -> Result<Outcome, ItemError> {
        if let Some(slot) = self.slots.get(&id) {
            let error = ItemError::new(409, "ALREADY_EXISTS", "A contact with this id already exists");
            return Err(match (&slot.contact, slot.foreign) {
                (Some(current), false) => error.with_current(current),
                _ => error,
            });
        }
        let version = self.version + 1;
        let contact = Contact {
            id,
            display_name: fields.display_name(),
            fields: fields.clone(),
            source: source.to_owned(),
            created_by: author.label.clone(),
            version,
            deleted: false,
            deleted_at: None,
            created_at: self.now,
            updated_at: self.now,
        };
        let changed = ContactFields::default().changed_fields(fields);
        let diff = field_diff(&ContactFields::default(), fields, &changed);
        self.commit(author, item, contact.clone(), ChangeOp::Create, diff, Write::Insert);
        Ok(Outcome::Applied { op: ChangeOp::Create, contact: Box::new(contact), changed: true })
    }

    fn update(
        &mut self,
        author: &Author,
        item: &WriteItem,
        current: Contact,
        effective: &switchboard_domain::ContactPatch,
    ) -> Result<Outcome, ItemError> {
        let new_fields = effective.applied(&current.fields);
        let changed = current.fields.changed_fields(&new_fields);
        if changed.is_empty() {
            return Ok(Outcome::Applied { op: ChangeOp::Update, contact: Box::new(current), changed: false });
        }
        if !new_fields.is_identifiable() {
            let mut e = ItemError::new(422, "VALIDATION_FAILED", "Validation failed");
            e.fields.push(crate::contacts::input::unidentifiable());
            return Err(e);
        }
        let diff = field_diff(&current.fields, &new_fields, &changed);
        let write =
            Write::Update { phones: changed.contains(&Field::Phones), emails: changed.contains(&Field::Emails) };
        let contact = Contact {
            display_name: new_fields.display_name(),
            fields: new_fields,
            version: self.version + 1,
            updated_at: self.now,
            ..current
        };
        self.commit(author, item, contact.clone(), ChangeOp::Update, diff, write);
        Ok(Outcome::Applied { op: ChangeOp::Update, contact: Box::new(contact), changed: true })
    }

    fn delete(&mut self, author: &Author, item: &WriteItem, current: Contact) -> Result<Outcome, ItemError> {
        let changed = current.fields.changed_fields(&ContactFields::default());
        let diff = field_diff(&current.fields, &ContactFields::default(), &changed);
        let contact = Contact {
            version: self.version + 1,
            deleted: true,
            deleted_at: Some(self.now),
            updated_at: self.now,
            ..current
        };
        self.commit(
            author,
            item,
            contact.clone(),
            ChangeOp::Delete,
            diff,
            Write::Update { phones: false, emails: false },
        );
        Ok(Outcome::Applied { op: ChangeOp::Delete, contact: Box::new(contact), changed: true })
    }

    /// Takes the next version for a checked change and records it in the batch.
    fn commit(
        &mut self,
        author: &Author,
        item: &WriteItem,
        contact: Contact,
        op: ChangeOp,
        fields: Value,
        write: Write,
    ) {
        self.version += 1;
        debug_assert_eq!(contact.version, self.version);
        self.changes.push(Change {
            version: contact.version,
            entity_type: "contact".into(),
            entity_id: contact.id,
            op: op.as_str().into(),
            actor_kind: author.kind.into(),
            actor_id: author.id,
            actor_label: author.label.clone(),
            device_id: author.device.clone(),
            mutation_id: item.mutation_id.clone(),
            origin: author.origin.clone(),
            fields,
            created_at: self.now,
        });
        self.changed.push(Arc::new(contact.clone()));
        let slot =
            self.slots.entry(contact.id).or_insert(Slot { contact: None, foreign: false, write: Write::Nothing });
        slot.write = match (slot.write, write) {
            (Write::Insert, _) | (_, Write::Insert) => Write::Insert,
            (Write::Update { phones: a, emails: b }, Write::Update { phones: c, emails: d }) => {
                Write::Update { phones: a || c, emails: b || d }
            }
            (Write::Nothing, w) | (w, Write::Nothing) => w,
        };
        slot.contact = Some(contact);
    }

    /// Writes every touched contact (none when no version was taken: only [`Self::commit`] touches one), their
    /// changed phone and email lists, the feed rows, `links` (their accounts locked already) and the workspace's
    /// new version.
    ///
    /// A batch without links is one round trip ([`Script::combined`]: on PostgreSQL always, on SQLite up to
    /// its parameter limit, which every interactive write is under), plus one first when an update replaced
    /// phone or email lists (their old rows are deleted before the new ones are inserted, which one combined
    /// statement cannot order). Otherwise each statement is built while the database runs the one before
    /// ([`switchboard_store::run_overlapped`]).
    async fn write(
        &self,
        conn: &mut Conn<'_>,
        links: &[&LinkWrite],
        start: i64,
        instance: Uuid,
    ) -> Result<(), sqlx::Error> {
        let touched: Vec<(&Contact, Write)> = self
            .slots
            .values()
            .filter_map(|s| s.contact.as_ref().filter(|_| s.write != Write::Nothing).map(|c| (c, s.write)))
            .collect();
        // New rows need no conflict handling: their ids are fresh, or were looked up by this transaction.
        let (new, changed): (Vec<_>, Vec<_>) = touched.iter().partition(|(_, w)| *w == Write::Insert);
        let new: Vec<&Contact> = new.iter().map(|(c, _)| *c).collect();
        let changed: Vec<&Contact> = changed.iter().map(|(c, _)| *c).collect();
        let phones: Vec<&Contact> = touched
            .iter()
            .filter(|(_, w)| matches!(w, Write::Insert | Write::Update { phones: true, .. }))
            .map(|(c, _)| *c)
            .collect();
        let emails: Vec<&Contact> = touched
            .iter()
            .filter(|(_, w)| matches!(w, Write::Insert | Write::Update { emails: true, .. }))
            .map(|(c, _)| *c)
            .collect();
        // New rows have no children to delete first.
        let is_update = |c: &&Contact| matches!(self.slots[&c.id].write, Write::Update { .. });
        let old_phones: Vec<&Contact> = phones.iter().copied().filter(is_update).collect();
        let old_emails: Vec<&Contact> = emails.iter().copied().filter(is_update).collect();
        let (backend, ws) = (conn.backend(), self.ws);
        // One round trip for the whole write when it fits one statement: always on PostgreSQL, whose statements
        // bind column arrays (a constant text per combination of parts, so sqlx's statement cache serves it and
        // PostgreSQL does not parse it again); on SQLite up to its parameter limit. Google link writes keep
        // their own statements.
        let fits = match backend {
            switchboard_store::Backend::Postgres => true,
            switchboard_store::Backend::Sqlite => {
                let parameters = touched.len() * store::CONTACT_COLUMN_COUNT
                    + phones.iter().map(|c| c.fields.phones.len() * 9).sum::<usize>()
                    + emails.iter().map(|c| c.fields.emails.len() * 5).sum::<usize>()
                    + self.changes.len() * 13;
                parameters <= COMBINED_MAX_PARAMETERS
            }
        };
        if links.is_empty() && fits {
            if !old_phones.is_empty() || !old_emails.is_empty() {
                let mut deletes = Script::combined(backend);
                store::delete_children(&mut deletes, "contact_phones", &old_phones);
                store::delete_children(&mut deletes, "contact_emails", &old_emails);
                deletes.run(conn).await?;
            }
            let mut script = Script::combined(backend);
            store::insert_statements(&mut script, ws, &new);
            store::upsert_statements(&mut script, ws, &changed);
            store::phone_rows(&mut script, ws, &phones);
            store::email_rows(&mut script, ws, &emails);
            crate::feed::record_statements(&mut script, ws, &self.changes);
            self.bump_version(&mut script, start, instance);
            return script.run(conn).await;
        }
        let separate = |build: &dyn Fn(&mut Script)| {
            let mut script = Script::separate(backend);
            build(&mut script);
            script.into_statements()
        };
        let steps: Vec<Step<'_>> = vec![
            Box::new(|| separate(&|s| store::insert_statements(s, ws, &new))),
            Box::new(|| separate(&|s| store::upsert_statements(s, ws, &changed))),
            Box::new(|| {
                separate(&|s| {
                    store::delete_children(s, "contact_phones", &old_phones);
                    store::phone_rows(s, ws, &phones);
                })
            }),
            Box::new(|| {
                separate(&|s| {
                    store::delete_children(s, "contact_emails", &old_emails);
                    store::email_rows(s, ws, &emails);
                })
            }),
            Box::new(|| separate(&|s| crate::feed::record_statements(s, ws, &self.changes))),
            Box::new(|| separate(&|s| crate::google::links::statements(s, ws, links))),
        ];
        switchboard_store::run_overlapped(conn, steps).await?;
        let mut bump = Script::combined(backend);
        self.bump_version(&mut bump, start, instance);
        bump.run(conn).await
    }

    /// The workspace's new version (nothing when the batch took none) and, on PostgreSQL, the notification every
    /// instance receives at commit (NOTIFY is transactional: never before).
    fn bump_version(&self, script: &mut Script, start: i64, instance: Uuid) {
        if self.version == start {
            return;
        }
        let (ws, version) = (self.ws, self.version);
        statement!(script, "UPDATE workspaces SET version = $1 WHERE id = $2".to_owned(), q => q.bind(version).bind(ws.0));
        if script.backend() == switchboard_store::Backend::Postgres {
            let notification = crate::feed::tail::notification(ws, version, instance);
            statement!(script, "SELECT pg_notify('switchboard_changes', $1)".to_owned(), q => q.bind(notification));
        }
    }

    /// Feed rows of one contact after `base`: those committed before this batch, then this batch's own.
    async fn changes_after(&self, conn: &mut Conn<'_>, id: Uuid, base: i64) -> Result<Vec<Change>, sqlx::Error> {
        let mut rows = crate::feed::of_entity(conn, self.ws, id, base, 100_000).await?;
        rows.extend(self.changes.iter().filter(|c| c.entity_id == id && c.version > base).cloned());
        Ok(rows)
    }

    /// The fields as they were at `base`: the current state with every field changed since then put back
    /// to its value before the first such change (the `before` of the feed rows).
    async fn fields_at(&self, conn: &mut Conn<'_>, current: &Contact, base: i64) -> Result<ContactFields, sqlx::Error> {
        let mut map = to_map(&current.fields);
        let mut restored = BTreeSet::new();
        for change in self.changes_after(conn, current.id, base).await? {
            let Value::Object(fields) = change.fields else { continue };
            for (name, diff) in fields {
                if Field::from_name(&name).is_some() && restored.insert(name.clone()) {
                    let before = diff.get("before").cloned().unwrap_or(Value::Null);
                    let before = match (&name[..], before) {
                        ("labels" | "phones" | "emails", Value::Null) => json!([]),
                        (_, v) => v,
                    };
                    map.insert(name, before);
                }
            }
        }
        serde_json::from_value(Value::Object(map)).map_err(decode_err)
    }

    /// The fields changed on the server after `base`.
    async fn changed_since(&self, conn: &mut Conn<'_>, id: Uuid, base: i64) -> Result<BTreeSet<Field>, sqlx::Error> {
        let mut out = BTreeSet::new();
        for change in self.changes_after(conn, id, base).await? {
            if let Value::Object(fields) = change.fields {
                out.extend(fields.keys().filter_map(|k| Field::from_name(k)));
            }
        }
        Ok(out)
    }
}

fn stale(current: &Contact, check: Check) -> ItemError {
    match check {
        Check::IfMatch(v) => ItemError::new(
            412,
            "PRECONDITION_FAILED",
            format!("If-Match \"{v}\" does not match the current version \"{}\"", current.version),
        )
        .with_current(current),
        _ => conflict(
            current,
            vec![FieldError::new("base_version", format!("is stale: the current version is {}", current.version))],
        ),
    }
}

fn conflict(current: &Contact, fields: Vec<FieldError>) -> ItemError {
    let mut e = ItemError::new(409, "VERSION_CONFLICT", "The contact changed on the server").with_current(current);
    e.fields = fields;
    e
}

/// `{"field": {"before": …, "after": …}}` for the changed fields.
fn field_diff(before: &ContactFields, after: &ContactFields, changed: &BTreeSet<Field>) -> Value {
    // Creates are most of a bulk import or a first Google sync: their "before" is always the same.
    static EMPTY: std::sync::LazyLock<Map<String, Value>> =
        std::sync::LazyLock::new(|| to_map(&ContactFields::default()));
    let owned;
    let b = if *before == ContactFields::default() {
        &*EMPTY
    } else {
        owned = to_map(before);
        &owned
    };
    let a = to_map(after);
    let mut out = Map::new();
    for f in changed {
        let name = f.as_str();
        out.insert(name.into(), json!({ "before": b.get(name), "after": a.get(name) }));
    }
    Value::Object(out)
}

fn to_map(fields: &ContactFields) -> Map<String, Value> {
    match serde_json::to_value(fields).expect("fields serialise") {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
