//! The write path of synced entities, with group commit (ARCHITECTURE §4, docs/adr/0002-change-feed.md).
//!
//! Each workspace has one writer task per instance. Callers send it a [`WriteRequest`] and wait for their
//! own [`WriteResult`]. The task takes every request that is waiting, applies them all in one
//! transaction — each request and each item under its own savepoint, so one bad item fails alone — takes
//! the versions from the workspace row (locked by the first statement, so versions become visible in
//! commit order), commits once, and answers everyone. Under load, requests queue while a commit is in
//! flight and the next transaction carries all of them: throughput grows with concurrency instead of
//! being capped at one commit latency per write. Nothing inside the transaction waits on the network.

use super::idempotency::{self, IdempotencyKey, Lookup};
use super::tail::Feed;
use super::{Author, Change, ChangeOp};
use crate::contacts::{Contact, store};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::{ContactFields, ContactPatch, Field, FieldError, Merge, WorkspaceId};
use switchboard_store::{Conn, Db, conn_run};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Requests waiting beyond this many items start the next transaction, keeping each one short.
const MAX_ITEMS_PER_TRANSACTION: usize = 1_000;

/// What a version check on an update or delete compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Unconditional.
    None,
    /// `If-Match: "<version>"`: a different current version is 412.
    IfMatch(i64),
    /// `base_version` in the body: a different current version is 409.
    BaseVersion(i64),
    /// An offline device's edit against `base_version`: merged field by field (see `merge`).
    Merge(i64),
}

/// The agent API's flat `phone_primary` / `phone_secondary`: positions 0 and 1 of the phone list, set
/// against the list as it is at write time (so numbers beyond the second, e.g. from Google, are kept).
#[derive(Debug, Clone, Default)]
pub struct PhoneSlots {
    /// New primary number (`Some(None)` clears it).
    pub primary: Option<Option<switchboard_domain::PhoneEntry>>,
    /// New secondary number (`Some(None)` clears it).
    pub secondary: Option<Option<switchboard_domain::PhoneEntry>>,
}

impl PhoneSlots {
    /// The phone list with the slots applied; a slot's number keeps the type it had.
    pub fn apply(&self, phones: &[switchboard_domain::PhoneEntry]) -> Vec<switchboard_domain::PhoneEntry> {
        let mut slots = [phones.first().cloned(), phones.get(1).cloned()];
        for (slot, new) in slots.iter_mut().zip([&self.primary, &self.secondary]) {
            if let Some(new) = new {
                let kind = slot.as_ref().map(|p| p.kind.clone());
                *slot = new.clone().map(|mut p| {
                    if let Some(kind) = kind {
                        p.kind = kind;
                    }
                    p
                });
            }
        }
        slots.into_iter().flatten().chain(phones.iter().skip(2).cloned()).collect()
    }
}

/// One change a client asks for. (Variants are moved once into the writer: their sizes do not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum ContactOp {
    /// Create a contact with this id (server-made, or chosen by a device offline).
    Create { id: Uuid, fields: ContactFields, source: String },
    /// Change some fields; with `or_create`, a missing contact is created with those fields instead
    /// (the agent API's bulk upsert with a client-chosen id).
    Update { id: Uuid, patch: ContactPatch, check: Check, slots: Option<PhoneSlots>, or_create: Option<ContactFields> },
    /// Delete (leaves a tombstone).
    Delete { id: Uuid, check: Check },
}

/// An operation plus its per-item idempotency (offline mutation ids).
#[derive(Debug, Clone)]
pub struct WriteItem {
    /// What to do.
    pub op: ContactOp,
    /// The client's mutation id: recorded on the change and, with `dedupe`, remembered.
    pub mutation_id: Option<String>,
    /// When set, a repeat of this mutation returns the first result instead of applying again.
    pub dedupe: Option<IdempotencyKey>,
}

impl WriteItem {
    /// An item without a mutation id.
    pub fn new(op: ContactOp) -> Self {
        Self { op, mutation_id: None, dedupe: None }
    }
}

/// A caller's request: its items are applied in order, each atomic on its own.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// Who writes.
    pub author: Author,
    /// The items.
    pub items: Vec<WriteItem>,
    /// The request's `Idempotency-Key`, if any.
    pub idempotency: Option<IdempotencyKey>,
}

/// Why one item was not applied. Serialisable because replays return stored results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemError {
    /// The HTTP status a single-item request answers with.
    pub status: u16,
    /// Stable error code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Fields at fault (validation) or in conflict (merge).
    #[serde(default)]
    pub fields: Vec<FieldError>,
    /// The server's copy, for conflicts.
    #[serde(default)]
    pub current: Option<Box<Contact>>,
}

impl ItemError {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into(), fields: Vec::new(), current: None }
    }

    fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "Contact not found")
    }

    fn with_current(mut self, current: &Contact) -> Self {
        self.current = Some(Box::new(current.clone()));
        self
    }
}

/// What happened to one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied (or already in the requested state when `changed` is false).
    Applied { op: ChangeOp, contact: Box<Contact>, changed: bool },
    /// Rejected; nothing of this item was written.
    Failed { error: ItemError },
}

/// One item's outcome, and whether it is the remembered result of an earlier identical mutation.
#[derive(Debug, Clone)]
pub struct ItemResult {
    /// The outcome.
    pub outcome: Outcome,
    /// True when the mutation id had been applied before (nothing changed now).
    pub duplicate: bool,
}

/// A request's results, item by item.
#[derive(Debug, Clone)]
pub struct WriteResult {
    /// Per item, in request order.
    pub items: Vec<ItemResult>,
    /// True when the whole request was a replay of an earlier `Idempotency-Key`.
    pub replayed: bool,
}

impl WriteResult {
    /// The only item's outcome as a handler result: a rejection becomes the matching error response.
    pub fn single(self) -> Result<(ChangeOp, Contact, bool), AppError> {
        match self.items.into_iter().next().map(|i| i.outcome) {
            Some(Outcome::Applied { op, contact, changed }) => Ok((op, *contact, changed)),
            Some(Outcome::Failed { error }) => Err(AppError::Item(Box::new(error))),
            None => Err(AppError::internal("write returned no result")),
        }
    }
}

struct Job {
    request: WriteRequest,
    reply: oneshot::Sender<Result<WriteResult, AppError>>,
}

/// Settings of the write path.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// How long `Idempotency-Key` results are remembered.
    pub idempotency_ttl: Duration,
    /// How long offline mutation ids are remembered.
    pub mutation_ttl: Duration,
}

/// The per-workspace writer tasks of this instance.
pub struct Writers {
    db: Db,
    settings: WriterSettings,
    feed: Arc<Feed>,
    tasks: Mutex<HashMap<WorkspaceId, mpsc::Sender<Job>>>,
}

impl Writers {
    /// Writers over `db`; after every commit they note it in `feed` and wake its tailer.
    pub fn new(db: Db, settings: WriterSettings, feed: Arc<Feed>) -> Self {
        Self { db, settings, feed, tasks: Mutex::new(HashMap::new()) }
    }

    /// Applies a request through the workspace's writer and waits for its result.
    pub async fn submit(&self, ws: WorkspaceId, request: WriteRequest) -> Result<WriteResult, AppError> {
        let (reply, answer) = oneshot::channel();
        let mut job = Job { request, reply };
        for _ in 0..2 {
            let sender = self.sender(ws);
            match sender.send(job).await {
                Ok(()) => {
                    return answer.await.map_err(|_| AppError::internal("the workspace writer stopped"))?;
                }
                Err(mpsc::error::SendError(returned)) => {
                    // The task ended (it only does when the runtime shuts down): forget it and retry once.
                    self.tasks.lock().expect("writers lock").remove(&ws);
                    job = returned;
                }
            }
        }
        Err(AppError::Unavailable("The server is shutting down".into()))
    }

    fn sender(&self, ws: WorkspaceId) -> mpsc::Sender<Job> {
        let mut tasks = self.tasks.lock().expect("writers lock");
        if let Some(s) = tasks.get(&ws).filter(|s| !s.is_closed()) {
            return s.clone();
        }
        let (tx, rx) = mpsc::channel(4_096);
        tokio::spawn(run(self.db.clone(), ws, rx, self.settings.clone(), self.feed.clone()));
        tasks.insert(ws, tx.clone());
        tx
    }
}

async fn run(db: Db, ws: WorkspaceId, mut rx: mpsc::Receiver<Job>, settings: WriterSettings, feed: Arc<Feed>) {
    while let Some(first) = rx.recv().await {
        let mut items = first.request.items.len();
        let mut jobs = vec![first];
        while items < MAX_ITEMS_PER_TRANSACTION {
            match rx.try_recv() {
                Ok(job) => {
                    items += job.request.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("feed_group_commit_requests").record(jobs.len() as f64);
        let requests: Vec<&WriteRequest> = jobs.iter().map(|j| &j.request).collect();
        match apply_batch(&db, ws, &requests, &settings).await {
            Ok((results, version)) => {
                feed.recent.note_committed(ws, version);
                feed.committed.notify_one();
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, workspace = %ws.0, "write transaction failed");
                for job in jobs {
                    let _ = job.reply.send(Err(batch_error(&err)));
                }
            }
        }
    }
}

fn batch_error(err: &sqlx::Error) -> AppError {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            AppError::Unavailable("The database is unavailable; try again shortly".into())
        }
        sqlx::Error::RowNotFound => AppError::NotFound,
        other => AppError::internal(other),
    }
}

/// A failed statement inside an item: the item's own fault, a client-chosen id already in use, or the
/// database's.
enum Failure {
    Item(ItemError),
    Exists(Uuid),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

async fn exec(conn: &mut Conn<'_>, sql: &'static str) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => sqlx::query(sql).execute(&mut **c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn apply_batch(
    db: &Db,
    ws: WorkspaceId,
    requests: &[&WriteRequest],
    settings: &WriterSettings,
) -> Result<(Vec<WriteResult>, i64), sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    // Takes the workspace row lock (PostgreSQL; SQLite holds the database write lock already).
    let start: i64 = conn_run!(&mut conn, c => sqlx::query_scalar(
        "UPDATE workspaces SET version = version WHERE id = $1 RETURNING version",
    ).bind(ws.0).fetch_one(&mut **c).await)?;
    // Microseconds: what PostgreSQL stores, so a response equals a later read on both databases.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let mut version = start;
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        results.push(apply_request(&mut conn, ws, request, &mut version, now, settings).await?);
    }
    if version > start {
        conn_run!(&mut conn, c => sqlx::query("UPDATE workspaces SET version = $2 WHERE id = $1")
            .bind(ws.0).bind(version).execute(&mut **c).await.map(|r| r.rows_affected()))?;
        if let Conn::Postgres(c) = &mut conn {
            // Delivered to every instance at commit, never before (NOTIFY is transactional).
            sqlx::query("SELECT pg_notify('switchboard_changes', $1)")
                .bind(format!("{}:{version}", ws.0))
                .execute(&mut **c)
                .await?;
        }
    }
    tx.commit().await?;
    Ok((results, version))
}

async fn apply_request(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    request: &WriteRequest,
    version: &mut i64,
    now: DateTime<Utc>,
    settings: &WriterSettings,
) -> Result<WriteResult, sqlx::Error> {
    let credential = request.author.credential_id;
    if let Some(key) = &request.idempotency {
        match idempotency::lookup(conn, credential, key, now).await? {
            Lookup::Fresh => {}
            Lookup::Replay(stored) => {
                let outcomes: Vec<Outcome> =
                    serde_json::from_str(&stored).map_err(|e| sqlx::Error::Decode(e.into()))?;
                let items = outcomes.into_iter().map(|outcome| ItemResult { outcome, duplicate: true }).collect();
                return Ok(WriteResult { items, replayed: true });
            }
            Lookup::Reused => {
                let error = ItemError::new(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was already used with a different request",
                );
                let items = request
                    .items
                    .iter()
                    .map(|_| ItemResult { outcome: Outcome::Failed { error: error.clone() }, duplicate: false })
                    .collect();
                return Ok(WriteResult { items, replayed: false });
            }
        }
    }
    let mut items = Vec::with_capacity(request.items.len());
    for item in &request.items {
        if let Some(key) = &item.dedupe {
            match idempotency::lookup(conn, credential, key, now).await? {
                Lookup::Fresh => {}
                Lookup::Replay(stored) => {
                    let outcome = serde_json::from_str(&stored).map_err(|e| sqlx::Error::Decode(e.into()))?;
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
        exec(conn, "SAVEPOINT item").await?;
        let before = *version;
        let outcome = match apply_item(conn, ws, &request.author, item, version, now).await {
            Ok(outcome) => {
                if let Some(key) = &item.dedupe {
                    let stored = serde_json::to_string(&outcome).expect("outcome serialises");
                    idempotency::store(conn, ws, credential, key, &stored, now, settings.mutation_ttl).await?;
                }
                exec(conn, "RELEASE SAVEPOINT item").await?;
                outcome
            }
            Err(failure) => {
                exec(conn, "ROLLBACK TO SAVEPOINT item").await?;
                exec(conn, "RELEASE SAVEPOINT item").await?;
                *version = before;
                match failure {
                    Failure::Item(error) => Outcome::Failed { error },
                    Failure::Exists(id) => {
                        let error = ItemError::new(409, "ALREADY_EXISTS", "A contact with this id already exists");
                        let error = match store::get(conn, ws, id).await? {
                            Some(current) => error.with_current(&current),
                            None => error,
                        };
                        Outcome::Failed { error }
                    }
                    Failure::Db(sqlx::Error::Database(e))
                        if e.is_unique_violation() || e.is_foreign_key_violation() =>
                    {
                        Outcome::Failed {
                            error: ItemError::new(409, "CONFLICT", "The change conflicts with existing data"),
                        }
                    }
                    Failure::Db(e) => return Err(e),
                }
            }
        };
        items.push(ItemResult { outcome, duplicate: false });
    }
    if let Some(key) = &request.idempotency
        && items.iter().any(|i| matches!(i.outcome, Outcome::Applied { changed: true, .. }))
    {
        let outcomes: Vec<&Outcome> = items.iter().map(|i| &i.outcome).collect();
        let stored = serde_json::to_string(&outcomes).expect("outcomes serialise");
        idempotency::store(conn, ws, credential, key, &stored, now, settings.idempotency_ttl).await?;
    }
    Ok(WriteResult { items, replayed: false })
}

async fn apply_item(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    author: &Author,
    item: &WriteItem,
    version: &mut i64,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    match &item.op {
        ContactOp::Create { id, fields, source } => {
            *version += 1;
            let contact = Contact {
                id: *id,
                display_name: fields.display_name(),
                fields: fields.clone(),
                source: source.clone(),
                created_by: author.label.clone(),
                version: *version,
                deleted: false,
                deleted_at: None,
                created_at: now,
                updated_at: now,
            };
            // The primary key catches an id already in use (in any workspace): no lookup first.
            store::insert(conn, ws, &contact).await.map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => Failure::Exists(*id),
                _ => Failure::Db(e),
            })?;
            let changed = ContactFields::default().changed_fields(fields);
            let diff = field_diff(&ContactFields::default(), fields, &changed);
            record(conn, ws, author, item, &contact, ChangeOp::Create, diff, now).await?;
            Ok(Outcome::Applied { op: ChangeOp::Create, contact: Box::new(contact), changed: true })
        }
        ContactOp::Update { id, patch, check, slots, or_create } => {
            let current = match (store::get(conn, ws, *id).await?, or_create) {
                (Some(current), _) => current,
                (None, Some(fields)) => {
                    let create = WriteItem {
                        op: ContactOp::Create { id: *id, fields: fields.clone(), source: author.origin.clone() },
                        mutation_id: item.mutation_id.clone(),
                        dedupe: None,
                    };
                    return Box::pin(apply_item(conn, ws, author, &create, version, now)).await;
                }
                (None, None) => return Err(Failure::Item(ItemError::not_found())),
            };
            let mut patch = patch.clone();
            if let Some(slots) = slots {
                patch.values.phones = slots.apply(&current.fields.phones);
                patch.set.insert(Field::Phones);
            }
            let patch = &patch;
            if current.deleted {
                return Err(Failure::Item(match check {
                    Check::Merge(_) => {
                        conflict(&current, vec![FieldError::new("deleted", "was deleted on the server")])
                    }
                    _ => ItemError::not_found(),
                }));
            }
            let effective = match *check {
                Check::None => patch.clone(),
                Check::IfMatch(v) | Check::BaseVersion(v) if v != current.version => {
                    return Err(Failure::Item(stale(&current, *check)));
                }
                Check::IfMatch(_) | Check::BaseVersion(_) => patch.clone(),
                Check::Merge(base) if base >= current.version => patch.clone(),
                Check::Merge(base) => {
                    let base_fields = fields_at(conn, ws, &current, base).await?;
                    match switchboard_domain::merge(&base_fields, &current.fields, patch) {
                        Merge::Apply(p) => *p,
                        Merge::Conflict(fields) => {
                            let fields = fields
                                .into_iter()
                                .map(|f| {
                                    FieldError::new(
                                        f.as_str(),
                                        format!("was also changed on the server since version {base}"),
                                    )
                                })
                                .collect();
                            return Err(Failure::Item(conflict(&current, fields)));
                        }
                    }
                }
            };
            let new_fields = effective.applied(&current.fields);
            let changed = current.fields.changed_fields(&new_fields);
            if changed.is_empty() {
                return Ok(Outcome::Applied { op: ChangeOp::Update, contact: Box::new(current), changed: false });
            }
            if !new_fields.is_identifiable() {
                let mut e = ItemError::new(422, "VALIDATION_FAILED", "Validation failed");
                e.fields.push(FieldError::new("contact", "needs at least one of a name, company, phone or email"));
                return Err(Failure::Item(e));
            }
            *version += 1;
            store::update(conn, ws, *id, &new_fields, &changed, *version, now).await?;
            let diff = field_diff(&current.fields, &new_fields, &changed);
            let contact = Contact {
                display_name: new_fields.display_name(),
                fields: new_fields,
                version: *version,
                updated_at: now,
                ..current
            };
            record(conn, ws, author, item, &contact, ChangeOp::Update, diff, now).await?;
            Ok(Outcome::Applied { op: ChangeOp::Update, contact: Box::new(contact), changed: true })
        }
        ContactOp::Delete { id, check } => {
            let current = store::get(conn, ws, *id).await?.ok_or(Failure::Item(ItemError::not_found()))?;
            if current.deleted {
                return match check {
                    // An offline device deleting what is already deleted got what it wanted.
                    Check::Merge(_) => {
                        Ok(Outcome::Applied { op: ChangeOp::Delete, contact: Box::new(current), changed: false })
                    }
                    _ => Err(Failure::Item(ItemError::not_found())),
                };
            }
            match *check {
                Check::IfMatch(v) | Check::BaseVersion(v) if v != current.version => {
                    return Err(Failure::Item(stale(&current, *check)));
                }
                Check::Merge(base) if base < current.version => {
                    // Deleting would silently drop server edits the device never saw.
                    let changed = changed_since(conn, ws, current.id, base).await?;
                    let fields = changed
                        .into_iter()
                        .map(|f| FieldError::new(f.as_str(), format!("was changed on the server since version {base}")))
                        .collect();
                    return Err(Failure::Item(conflict(&current, fields)));
                }
                _ => {}
            }
            *version += 1;
            store::tombstone(conn, ws, *id, *version, now).await?;
            let changed = current.fields.changed_fields(&ContactFields::default());
            let diff = field_diff(&current.fields, &ContactFields::default(), &changed);
            let contact =
                Contact { version: *version, deleted: true, deleted_at: Some(now), updated_at: now, ..current };
            record(conn, ws, author, item, &contact, ChangeOp::Delete, diff, now).await?;
            Ok(Outcome::Applied { op: ChangeOp::Delete, contact: Box::new(contact), changed: true })
        }
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

#[allow(clippy::too_many_arguments)]
async fn record(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    author: &Author,
    item: &WriteItem,
    contact: &Contact,
    op: ChangeOp,
    fields: Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let change = Change {
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
        created_at: now,
    };
    super::record(conn, ws, &change).await
}

/// `{"field": {"before": …, "after": …}}` for the changed fields.
fn field_diff(before: &ContactFields, after: &ContactFields, changed: &BTreeSet<Field>) -> Value {
    let (b, a) = (to_map(before), to_map(after));
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

/// The fields as they were at `base`: the current state with every field changed since then put back to
/// its value before the first such change (the `before` of the feed rows).
async fn fields_at(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    current: &Contact,
    base: i64,
) -> Result<ContactFields, sqlx::Error> {
    let changes = super::of_entity(conn, ws, current.id, base, 100_000).await?;
    let mut map = to_map(&current.fields);
    let mut restored = BTreeSet::new();
    for change in changes {
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
    serde_json::from_value(Value::Object(map)).map_err(|e| sqlx::Error::Decode(e.into()))
}

/// The fields changed on the server after `base`.
async fn changed_since(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    base: i64,
) -> Result<BTreeSet<Field>, sqlx::Error> {
    let mut out = BTreeSet::new();
    for change in super::of_entity(conn, ws, id, base, 100_000).await? {
        if let Value::Object(fields) = change.fields {
            out.extend(fields.keys().filter_map(|k| Field::from_name(k)));
        }
    }
    Ok(out)
}
