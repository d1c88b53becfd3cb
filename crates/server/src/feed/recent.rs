//! The most recent changes of each workspace, as the feed tailer read them, so that the hot read — a device
//! asking "what changed since v?" a moment after it last asked — is answered from memory.
//!
//! The window holds, for one workspace, every change with a version in `(from, through]`, each with the
//! contact's state as the tailer loaded it (that state may already be newer than the change, never older).
//! The tailer reads the feed in version order without gaps, so for a cursor inside the window the answer
//! is complete up to `through`; a device then continues from `through`. A cursor outside the window, or an
//! answer larger than one page, goes to the database as before. The window lags the database by the
//! tailer's wake-up (a commit or a notification away), which only means a device sees a very recent change
//! on its next call — it never skips one, because its cursor never moves past `through`.

use crate::contacts::Contact;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use switchboard_domain::WorkspaceId;
use uuid::Uuid;

/// How many changes a workspace's window keeps.
const CAPACITY: usize = 20_000;

#[derive(Default)]
struct Window {
    /// Changes after this version are all present.
    from: i64,
    /// ... up to and including this version.
    through: i64,
    /// The workspace's purge line when the tailer last read it.
    purged: i64,
    /// The last version this instance's writer committed: until the tailer has read that far, the window
    /// is not used, so a device always sees its own writes through this instance.
    committed: i64,
    entries: BTreeMap<i64, Arc<Contact>>,
}

impl Window {
    /// Drops the oldest entries beyond the capacity.
    fn trim(&mut self) {
        while self.entries.len() > CAPACITY {
            if let Some((v, _)) = self.entries.pop_first() {
                self.from = v;
            }
        }
    }
}

/// The recent-changes windows of all workspaces on this instance.
#[derive(Default)]
pub struct Recent {
    windows: Mutex<HashMap<WorkspaceId, Window>>,
}

/// A delta answered from memory.
pub struct RecentPage {
    /// Distinct contacts changed after the cursor, in version order.
    pub contacts: Vec<Arc<Contact>>,
    /// Every change up to this version is accounted for.
    pub through: i64,
}

impl Recent {
    /// Starts (or restarts) a workspace's window at `version`: nothing before it is known.
    pub fn reset(&self, ws: WorkspaceId, version: i64, purged: i64) {
        let mut windows = self.windows.lock().expect("recent lock");
        windows.insert(ws, Window { from: version, through: version, purged, committed: 0, entries: BTreeMap::new() });
    }

    /// Adds this instance's own commit: the contacts of versions `start + 1 ..= version`. When the window
    /// ends right at `start`, it now ends at `version` without waiting for the tailer; otherwise (changes of
    /// another instance in between, not read yet) the commit is only noted, and the window stays unused
    /// until the tailer has read that far.
    pub fn append_committed(&self, ws: WorkspaceId, start: i64, version: i64, changed: Vec<Arc<Contact>>) {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_default();
        window.committed = window.committed.max(version);
        if window.through == start && changed.len() as i64 == version - start {
            window.entries.extend((start + 1..=version).zip(changed));
            window.through = version;
            window.trim();
        }
    }

    /// Notes a commit of this instance's writer up to `version`.
    pub fn note_committed(&self, ws: WorkspaceId, version: i64) {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_default();
        window.committed = window.committed.max(version);
    }

    /// Records the workspace's purge line. When it moved, the window is emptied (it may hold tombstones
    /// that are gone from the database) and starts again at `through`; cursors below the line go to the
    /// database, which refuses them.
    pub fn set_purged(&self, ws: WorkspaceId, purged: i64) {
        if let Some(window) = self.windows.lock().expect("recent lock").get_mut(&ws)
            && window.purged != purged
        {
            window.purged = purged;
            window.from = window.through;
            window.entries.clear();
        }
    }

    /// Appends changes read in version order right after `through`, and moves `through` to `last`.
    /// Changes that do not follow on (the window was reset meanwhile) restart the window at `last`.
    pub fn extend(
        &self,
        ws: WorkspaceId,
        after: i64,
        last: i64,
        changes: impl IntoIterator<Item = (i64, Arc<Contact>)>,
    ) {
        let mut windows = self.windows.lock().expect("recent lock");
        let window = windows.entry(ws).or_default();
        if window.through != after {
            *window = Window {
                from: last,
                through: last,
                purged: window.purged,
                committed: window.committed,
                entries: BTreeMap::new(),
            };
            return;
        }
        window.entries.extend(changes);
        window.through = last;
        window.trim();
    }

    /// The contacts of these versions that the window holds (the writer put them there), so the tailer need
    /// not read them back.
    pub fn contacts_at(&self, ws: WorkspaceId, versions: &[i64]) -> HashMap<i64, Arc<Contact>> {
        let windows = self.windows.lock().expect("recent lock");
        let Some(window) = windows.get(&ws) else { return HashMap::new() };
        versions.iter().filter_map(|v| window.entries.get(v).map(|c| (*v, c.clone()))).collect()
    }

    /// Contacts changed after `cursor`, when the window covers it and they fit in `limit`; `None` means
    /// "ask the database". A cursor below the purge line is the database's to refuse.
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
        let mut latest: HashMap<Uuid, Arc<Contact>> = HashMap::new();
        for contact in window.entries.range(cursor + 1..).map(|(_, c)| c) {
            let slot = latest.entry(contact.id).or_insert_with(|| contact.clone());
            if slot.version < contact.version {
                *slot = contact.clone();
            }
            if latest.len() > limit {
                return None;
            }
        }
        let mut contacts: Vec<Arc<Contact>> = latest.into_values().collect();
        contacts.sort_by_key(|c| c.version);
        Some(RecentPage { contacts, through: window.through })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn contact(id: u128, version: i64) -> Arc<Contact> {
        Arc::new(Contact {
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
        })
    }

    #[test]
    fn answers_only_inside_the_window_and_dedupes_by_contact() {
        let recent = Recent::default();
        let ws = WorkspaceId::new();
        assert!(recent.page(ws, 0, 10).is_none(), "unknown workspace");
        recent.reset(ws, 10, 0);
        recent.extend(ws, 10, 13, [(11, contact(1, 11)), (12, contact(2, 12)), (13, contact(1, 13))]);
        let page = recent.page(ws, 10, 10).unwrap();
        assert_eq!(page.through, 13);
        let got: Vec<(u128, i64)> = page.contacts.iter().map(|c| (c.id.as_u128(), c.version)).collect();
        assert_eq!(got, [(2, 12), (1, 13)], "each contact once, latest state, version order");
        assert_eq!(recent.page(ws, 13, 10).unwrap().contacts.len(), 0, "caught up");
        assert!(recent.page(ws, 9, 10).is_none(), "before the window: the database answers");
        assert!(recent.page(ws, 14, 10).is_none(), "ahead of the tailer: the database answers");
        assert!(recent.page(ws, 10, 1).is_none(), "more than a page: the database answers");
        recent.note_committed(ws, 14);
        assert!(recent.page(ws, 13, 10).is_none(), "a local commit the tailer has not read yet");
        recent.extend(ws, 13, 14, [(14, contact(3, 14))]);
        assert_eq!(recent.page(ws, 13, 10).unwrap().contacts.len(), 1);
    }

    #[test]
    fn a_gap_restarts_the_window() {
        let recent = Recent::default();
        let ws = WorkspaceId::new();
        recent.reset(ws, 5, 0);
        recent.extend(ws, 7, 9, [(8, contact(1, 8)), (9, contact(1, 9))]);
        assert!(recent.page(ws, 5, 10).is_none(), "changes 6 and 7 were never seen");
        assert_eq!(recent.page(ws, 9, 10).unwrap().contacts.len(), 0);
    }
}
