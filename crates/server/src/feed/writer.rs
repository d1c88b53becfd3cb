//! The write path of synced entities, with group commit (ARCHITECTURE §4, docs/adr/0002-change-feed.md).
//!
//! Each workspace has one writer task per instance. Callers send it a [`WriteRequest`] and wait for their
//! own [`WriteResult`]. The task takes every request that is waiting, applies them all in one
//! transaction (`batch`: each item checked completely before it changes anything, so one bad item fails
//! alone), takes the versions from the workspace row (locked by the first statement, so versions become
//! visible in commit order), commits once, and answers everyone. Under load, requests queue while a commit is in
//! flight and the next transaction carries all of them: throughput grows with concurrency instead of
//! being capped at one commit latency per write. Nothing inside the transaction waits on the network.

mod batch;

use super::idempotency::IdempotencyKey;
use super::tail::Feed;
use super::{Author, ChangeOp};
use crate::contacts::Contact;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::{ContactFields, ContactPatch, FieldError, WorkspaceId};
use switchboard_store::{Checkpointer, Db, DbOptions, WarmPool};
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
    /// Create a contact with this id: server-made (a fresh UUIDv7, which cannot exist yet), or chosen by a
    /// client (`client_id`, which must be checked against every workspace).
    Create { id: Uuid, fields: ContactFields, source: String, client_id: bool },
    /// Change some fields; with `or_create`, a missing contact is created with those fields instead
    /// (the agent API's bulk upsert with a client-chosen id).
    Update { id: Uuid, patch: ContactPatch, check: Check, slots: Option<PhoneSlots>, or_create: Option<ContactFields> },
    /// Delete (leaves a tombstone).
    Delete { id: Uuid, check: Check },
}

impl ContactOp {
    /// A create with the client's id when it chose one (checked against every workspace), else a fresh
    /// server-made UUIDv7 (which needs no check).
    pub fn create(id: Option<Uuid>, fields: ContactFields, source: impl Into<String>) -> Self {
        ContactOp::Create {
            id: id.unwrap_or_else(Uuid::now_v7),
            fields,
            source: source.into(),
            client_id: id.is_some(),
        }
    }
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
    /// A link to a Google person written with the item, in its transaction, when the item applies.
    pub link: Option<crate::google::links::LinkWrite>,
}

impl WriteItem {
    /// An item without a mutation id.
    pub fn new(op: ContactOp) -> Self {
        Self { op, mutation_id: None, dedupe: None, link: None }
    }

    /// The item with a link write.
    pub fn with_link(mut self, link: crate::google::links::LinkWrite) -> Self {
        self.link = Some(link);
        self
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
    /// A sync lease the request must still hold when it commits (renewed by the same transaction); when
    /// another instance has taken it over, every item fails with `LEASE_LOST` and nothing is written.
    pub lease: Option<crate::google::state::LeaseGuard>,
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
    /// A transaction that takes longer is logged with its steps' times.
    pub slow_write_log: Duration,
}

/// Connections of the writers' own pool: one transaction per workspace at a time, several workspaces at once.
const WRITER_CONNECTIONS: u32 = 4;
/// Page cache of each writer connection on SQLite, in KiB (32 MiB).
const WRITER_SQLITE_CACHE_KIB: u32 = 32 * 1024;

/// The per-workspace writer tasks of this instance.
///
/// They run on a runtime thread of their own, with a small pool whose connections that runtime drives.
/// A batch makes several database round trips (begin, lock, load, writes, version, commit), and on a busy
/// server every request handler is ready to run: on the shared runtime each of those wake-ups waited its
/// turn behind them (writes took ~9–10 ms under the agent benchmark while reads took ~1 ms). On their own
/// thread the hops are not queued behind handlers; the kernel schedules the mostly idle writer thread
/// promptly.
pub struct Writers {
    conns: Arc<WarmPool>,
    /// SQLite: the write path's WAL checkpoints, off the committing connection (store's `checkpoint`).
    checkpointer: Option<Checkpointer>,
    settings: WriterSettings,
    feed: Arc<Feed>,
    tasks: Mutex<HashMap<WorkspaceId, mpsc::Sender<Job>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Writers {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks stop, which is not allowed inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Writers {
    /// Starts the writers' runtime thread and connects their pool to `url`; after every commit they note
    /// it in `feed`.
    pub async fn start(
        url: &str,
        options: &DbOptions,
        settings: WriterSettings,
        feed: Arc<Feed>,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("switchboard-writer")
            .enable_all()
            .build()?;
        // A larger SQLite page cache: a full sync's batches touch more pages than the default 2 MB holds, and
        // each miss is a read() from the OS cache on the writer's critical path. Writers are few (usually one
        // is busy), so the memory stays small.
        let options = DbOptions {
            max_connections: WRITER_CONNECTIONS,
            sqlite_cache_kib: WRITER_SQLITE_CACHE_KIB,
            // Checkpoints by the `Checkpointer` below, statement journals in memory (see `DbOptions`).
            sqlite_autocheckpoint_pages: 0,
            sqlite_temp_store_memory: true,
            postgres_keyed_plans: true,
            ..options.clone()
        };
        let url = url.to_owned();
        // Connected from the writers' runtime, so that runtime's I/O driver serves these connections.
        let (db, checkpointer) = runtime
            .spawn(async move {
                let db = Db::connect(&url, &options).await?;
                let checkpointer = Checkpointer::spawn(&db);
                Ok::<_, switchboard_store::StoreError>((db, checkpointer))
            })
            .await??;
        // One connection stays in the pool for the checkpointer.
        let conns = Arc::new(WarmPool::new(db, WRITER_CONNECTIONS as usize - 1));
        Ok(Self { conns, checkpointer, settings, feed, tasks: Mutex::new(HashMap::new()), runtime: Some(runtime) })
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
        let task = run(self.conns.clone(), self.checkpointer.clone(), ws, rx, self.settings.clone(), self.feed.clone());
        self.runtime.as_ref().expect("the writers' runtime runs until they are dropped").spawn(task);
        tasks.insert(ws, tx.clone());
        tx
    }
}

async fn run(
    conns: Arc<WarmPool>,
    checkpointer: Option<Checkpointer>,
    ws: WorkspaceId,
    mut rx: mpsc::Receiver<Job>,
    settings: WriterSettings,
    feed: Arc<Feed>,
) {
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
        let started = std::time::Instant::now();
        let applied = batch::apply(&conns, ws, feed.instance, &requests, &settings).await;
        let took = started.elapsed();
        metrics::histogram!("feed_group_commit_seconds").record(took.as_secs_f64());
        match applied {
            Ok(batch::Committed { results, start, version, events, steps }) => {
                if took >= settings.slow_write_log {
                    tracing::warn!(
                        workspace = %ws.0,
                        requests = results.len(),
                        changes = events.len(),
                        "slow write transaction: {:.1} ms ({steps})",
                        took.as_secs_f64() * 1e3
                    );
                }
                if let Some(checkpointer) = &checkpointer {
                    checkpointer.committed();
                }
                // Callers first, then the realtime fan-out (which wakes a task per socket: with thousands of
                // sockets, answers queued behind it waited tens of milliseconds). Until the events are
                // published, delta pages of this workspace come from the database, so a device that got
                // its answer reads its own write.
                feed.recent.note_committed(ws, version);
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
                // Published here, at once; the tailer only reads what this writer could not publish.
                feed.publish_committed(ws, start, version, events);
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
