//! The most recent changes of each workspace on this instance, and the one place where committed changes
//! are handed to local consumers (Socket.IO, SSE) — exactly once each, in version order.
//!
//! A workspace's window holds every change with a version in `(from, through]` as an event (with the
//! contact's state; that state may be newer than the change, never older). Two sources fill it, under one
//! lock so nothing is published twice or skipped:
//!
//! - this instance's writer, right after its commit, when the commit follows on from `through`;
//! - the feed tailer, for everything else (other instances' commits, or this instance's when they did not
//!   follow on), read from the database in version order without gaps.
//!
//! Delta pages are answered from the window when the cursor lies inside it and the answer fits one page:
//! complete up to `through`, where the device then continues. The window is not used while this instance
//! has committed versions it does not hold yet, so a device always reads its own writes here.

use super::tail::FeedEvent;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use switchboard_domain::WorkspaceId;
use tokio::sync::broadcast;
use uuid::Uuid;

/// How many changes a workspace's window keeps.
const CAPACITY: usize = 20_000;

#[derive(Default)]
struct Window {
    /// Changes after this version are all present ...
    from: i64,
    /// ... up to and including this one.
    through: i64,
    /// The workspace's purge line when the tailer last read it.
    purged: i64,
    /// The last version this instance's writer committed.
    committed: i64,
    entries: BTreeMap<i64, Arc<FeedEvent>>,
}

impl Window {
    /// Appends and publishes the events after `through` (older ones are here already), and moves
    /// `through` to `last`. The caller guarantees that every version in `(through, last]` is among the
    /// events or has none.
    fn append(&mut self, events: Vec<FeedEvent>, last: i64, publish: &broadcast::Sender<Arc<FeedEvent>>) {
        for event in events.into_iter().filter(|e| e.version > self.through) {
            let event = Arc::new(event);
            if publish.receiver_count() > 0 {
                let _ = publish.send(event.clone());
            }
            self.entries.insert(event.version, event);
        }
        self.through = self.through.max(last);
        while self.entries.len() > CAPACITY {
            if let Some((v, _)) = self.entries.pop_first() {
                self.from = v;
            }
        }
    }
}

/// The windows of all workspaces on this instance.
#[derive(Default)]
pub struct Recent {
    windows: Mutex<HashMap<WorkspaceId, Window>>,
}

/// A delta answered from memory.
pub struct RecentPage {
    /// For each distinct contact changed after the cursor, the event holding its latest state, in the order
    /// of those states' versions.
    pub events: Vec<Arc<FeedEvent>>,
    /// Every change up to this version is accounted for.
    pub through: i64,
}

impl Recent {
    /// Starts a workspace's window at `version`: nothing before it is known.
    pub fn reset(&self, ws: WorkspaceId, version: i64) {
        let mut windows = self.windows.lock().expect("recent lock");
        windows.insert(ws, Window { from: version, through: version, ..Window::default() });
    }

    /// The version up to which a workspace's changes have been published here.
    pub fn through(&self, ws: WorkspaceId) -> Option<i64> {
        self.windows.lock().expect("recent lock").get(&ws).map(|w| w.through)
    }

    /// This instance's writer committed up to `version`: until that is published, the window does not
    /// answer (see [`Recent::page`]).
    pub fn note_committed(&self, ws: WorkspaceId, version: i64) {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_default();
        window.committed = window.committed.max(version);
    }

    /// This instance's writer committed versions `start + 1 ..= version` (`events`, in order). They are
    /// published at once when they follow on (returns true); otherwise (false) the tailer must read and
    /// publish them.
    pub fn committed(
        &self,
        ws: WorkspaceId,
        start: i64,
        version: i64,
        events: Vec<FeedEvent>,
        publish: &broadcast::Sender<Arc<FeedEvent>>,
    ) -> bool {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_default();
        window.committed = window.committed.max(version);
        let follows_on = window.through == start && events.len() as i64 == version - start;
        if follows_on {
            window.append(events, version, publish);
        }
        follows_on
    }

    /// The tailer read changes after `after` up to `last` (`events`, in order, possibly fewer than the
    /// versions when contacts were purged). Publishes those not published yet. When they do not follow on
    /// (the window was emptied meanwhile), the window restarts at `last` after publishing them.
    pub fn tailed(
        &self,
        ws: WorkspaceId,
        after: i64,
        last: i64,
        events: Vec<FeedEvent>,
        publish: &broadcast::Sender<Arc<FeedEvent>>,
    ) {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_insert_with(|| Window { from: after, through: after, ..Window::default() });
        if last <= window.through {
            return;
        }
        // The tailer reads without gaps from `after`, so versions (after, last] are complete even when
        // some have no event (a purged contact): treat the window as having reached `after`.
        if window.through < after {
            *window = Window {
                from: after,
                through: after,
                purged: window.purged,
                committed: window.committed,
                ..Default::default()
            };
        }
        window.append(events, last, publish);
    }

    /// Records the workspace's purge line. When it moved, the window is emptied (it may hold tombstones
    /// that are gone from the database) and starts again at `through`.
    pub fn set_purged(&self, ws: WorkspaceId, purged: i64) {
        if let Some(window) = self.windows.lock().expect("recent lock").get_mut(&ws)
            && window.purged != purged
        {
            window.purged = purged;
            window.from = window.through;
            window.entries.clear();
        }
    }

    /// Contacts changed after `cursor`, when the window covers it and they fit in `limit`; `None` means
    /// "ask the database".
    pub fn page(&self, ws: WorkspaceId, cursor: i64, limit: usize) -> Option<RecentPage> {
        let windows = self.windows.lock().expect("recent lock");
        let window = windows.get(&ws)?;
        if cursor < window.from
            || cursor > window.through
            || window.through < window.committed
            || (cursor > 0 && cursor < window.purged)
        {
            return None;
        }
        let mut latest: HashMap<Uuid, &Arc<FeedEvent>> = HashMap::new();
        for event in window.entries.range(cursor + 1..).map(|(_, e)| e) {
            let slot = latest.entry(event.contact.id).or_insert(event);
            if slot.contact.version < event.contact.version {
                *slot = event;
            }
            if latest.len() > limit {
                return None;
            }
        }
        let mut events: Vec<Arc<FeedEvent>> = latest.into_values().cloned().collect();
        events.sort_by_key(|e| e.contact.version);
        Some(RecentPage { events, through: window.through })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::Contact;
    use crate::feed::ChangeOp;
    use chrono::Utc;

    fn event(id: u128, version: i64) -> FeedEvent {
        FeedEvent {
            workspace: WorkspaceId(Uuid::nil()),
            version,
            op: ChangeOp::Update,
            contact: Arc::new(Contact {
                id: Uuid::from_u128(id),
                display_name: String::new(),
                fields: Default::default(),
                source: "api".into(),
                created_by: "t".into(),
                version,
                deleted: false,
                deleted_at: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }),
            author: "t".into(),
            device: None,
            origin: "api".into(),
            flat: Default::default(),
            sse: Default::default(),
        }
    }

    #[test]
    fn answers_only_inside_the_window_and_dedupes_by_contact() {
        let (tx, mut rx) = broadcast::channel(16);
        let recent = Recent::default();
        let ws = WorkspaceId::new();
        assert!(recent.page(ws, 0, 10).is_none(), "unknown workspace");
        recent.reset(ws, 10);
        assert!(recent.committed(ws, 10, 13, vec![event(1, 11), event(2, 12), event(1, 13)], &tx));
        let page = recent.page(ws, 10, 10).unwrap();
        assert_eq!(page.through, 13);
        let got: Vec<(u128, i64)> = page.events.iter().map(|e| (e.contact.id.as_u128(), e.contact.version)).collect();
        assert_eq!(got, [(2, 12), (1, 13)], "each contact once, latest state, version order");
        assert_eq!(recent.page(ws, 13, 10).unwrap().events.len(), 0, "caught up");
        assert!(recent.page(ws, 9, 10).is_none(), "before the window: the database answers");
        assert!(recent.page(ws, 14, 10).is_none(), "ahead of the window: the database answers");
        assert!(recent.page(ws, 10, 1).is_none(), "more than a page: the database answers");
        assert_eq!([11, 12, 13].map(|_| rx.try_recv().unwrap().version), [11, 12, 13], "published once, in order");

        // The tailer reading the same versions publishes nothing again.
        recent.tailed(ws, 10, 13, vec![event(1, 11), event(2, 12), event(1, 13)], &tx);
        assert!(rx.try_recv().is_err());

        // A commit that does not follow on (another instance's 14 not read yet) waits for the tailer.
        assert!(!recent.committed(ws, 14, 15, vec![event(3, 15)], &tx), "left to the tailer");
        assert!(rx.try_recv().is_err());
        assert!(recent.page(ws, 13, 10).is_none(), "own commit not held yet: the database answers");
        recent.tailed(ws, 13, 15, vec![event(4, 14), event(3, 15)], &tx);
        assert_eq!([14, 15].map(|_| rx.try_recv().unwrap().version), [14, 15]);
        assert_eq!(recent.page(ws, 13, 10).unwrap().events.len(), 2);
    }

    #[test]
    fn versions_without_events_are_stepped_over() {
        let (tx, mut rx) = broadcast::channel(16);
        let recent = Recent::default();
        let ws = WorkspaceId::new();
        recent.reset(ws, 5);
        // Versions 6 and 7 belonged to purged contacts: the tailer read them but has no events.
        recent.tailed(ws, 5, 9, vec![event(1, 8), event(1, 9)], &tx);
        assert_eq!([8, 9].map(|_| rx.try_recv().unwrap().version), [8, 9]);
        assert_eq!(recent.through(ws), Some(9));
        assert_eq!(recent.page(ws, 5, 10).unwrap().events.len(), 1);
    }
}
