//! One account's contacts with a monotonically increasing change log.
//!
//! Every write (API or "as the user in Google") stamps the person with the next sequence
//! number, a new etag and updateTime; a deletion leaves a tombstone with its own sequence
//! number. An incremental sync is then "every person or tombstone with a sequence number
//! above the token's", each once, in its latest state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::person::{decorate, merge_fields};
use crate::state::{Recent, Rng, rfc3339};

#[derive(Default)]
pub(crate) struct PeopleBook {
    people: HashMap<String, PersonRecord>,
    tombstones: HashMap<String, Tombstone>,
    /// Sequence number → person id, for live people and tombstones alike.
    by_seq: BTreeMap<u64, String>,
    seq: u64,
    /// Bumped by the control API to expire every sync token of the account.
    pub sync_epoch: u64,
    pub sync_tokens: HashMap<String, SyncToken>,
    pub page_cursors: Recent<Cursor>,
}

pub(crate) struct PersonRecord {
    pub id: String,
    source_id: String,
    pub fields: Map<String, Value>,
    pub etag: String,
    pub source_etag: String,
    update_time: String,
    /// Resource names merged into this person (`metadata.previousResourceNames`).
    previous: Vec<String>,
    pub seq: u64,
}

struct Tombstone {
    source_id: String,
    etag: String,
    update_time: String,
}

/// What a sync token stands for: a point in the change log, and the full sync it descends from.
pub(crate) struct SyncToken {
    pub seq: u64,
    pub chain_start: DateTime<Utc>,
    pub epoch: u64,
}

/// A listing in progress: the ids chosen by its first call, shared by all its page tokens.
#[derive(Clone)]
pub(crate) struct Cursor {
    pub ids: Arc<Vec<String>>,
    pub offset: usize,
    pub fingerprint: String,
    pub sync_seq: u64,
    pub chain_start: DateTime<Utc>,
    pub incremental: bool,
}

/// One entry of a listing page.
pub(crate) enum Entry<'a> {
    Live(&'a PersonRecord),
    Deleted(Value),
}

impl PeopleBook {
    pub fn head(&self) -> u64 {
        self.seq
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn get(&self, id: &str) -> Option<&PersonRecord> {
        self.people.get(id)
    }

    pub fn people(&self) -> impl Iterator<Item = &PersonRecord> {
        self.people.values()
    }

    /// Live people in change order (LAST_MODIFIED_ASCENDING).
    pub fn ids_by_seq(&self) -> Vec<String> {
        self.by_seq.values().filter(|id| self.people.contains_key(*id)).cloned().collect()
    }

    /// People and tombstones changed after `seq`, in change order.
    pub fn changed_since(&self, seq: u64) -> Vec<String> {
        self.by_seq.range(seq + 1..).map(|(_, id)| id.clone()).collect()
    }

    /// A listing entry for `id` as it is now: the person, its tombstone (incremental only), or
    /// nothing (merged away, or deleted during a full listing).
    pub fn entry(&self, id: &str, incremental: bool) -> Option<Entry<'_>> {
        if let Some(record) = self.people.get(id) {
            return Some(Entry::Live(record));
        }
        let tomb = self.tombstones.get(id).filter(|_| incremental)?;
        Some(Entry::Deleted(json!({
            "resourceName": format!("people/{id}"),
            "etag": tomb.etag,
            "metadata": {
                "sources": [{ "type": "CONTACT", "id": tomb.source_id, "updateTime": tomb.update_time }],
                "deleted": true,
                "objectType": "PERSON",
            },
        })))
    }

    pub fn create(&mut self, rng: &mut Rng, now: DateTime<Utc>, mut fields: Map<String, Value>) -> &PersonRecord {
        let number = 1_000_000_000_000_000_000 + rng.next_u64() % 8_000_000_000_000_000_000;
        let (id, source_id) = (format!("c{number}"), format!("{number:x}"));
        decorate(&mut fields, &source_id);
        let record = PersonRecord {
            id: id.clone(),
            source_id,
            fields,
            etag: String::new(),
            source_etag: String::new(),
            update_time: String::new(),
            previous: Vec::new(),
            seq: 0,
        };
        self.people.insert(id.clone(), record);
        self.touch(&id, rng, now);
        &self.people[&id]
    }

    /// Replaces the fields named in `mask` with those of `fields` (absent = cleared).
    pub fn update(
        &mut self,
        rng: &mut Rng,
        now: DateTime<Utc>,
        id: &str,
        mut fields: Map<String, Value>,
        mask: &[String],
    ) -> Option<&PersonRecord> {
        let record = self.people.get_mut(id)?;
        decorate(&mut fields, &record.source_id);
        for path in mask {
            match fields.remove(path) {
                Some(value) => record.fields.insert(path.clone(), value),
                None => record.fields.remove(path),
            };
        }
        self.touch(id, rng, now);
        self.people.get(id)
    }

    pub fn delete(&mut self, rng: &mut Rng, now: DateTime<Utc>, id: &str) -> bool {
        let Some(record) = self.people.remove(id) else { return false };
        self.by_seq.remove(&record.seq);
        self.seq += 1;
        self.by_seq.insert(self.seq, id.to_owned());
        let tomb = Tombstone {
            source_id: record.source_id,
            etag: format!("%EgQB{}", rng.token(20)),
            update_time: rfc3339(now),
        };
        self.tombstones.insert(id.to_owned(), tomb);
        true
    }

    /// Merges `merged` into `survivor`: the merged person vanishes without a tombstone (as on
    /// Google, where it is not "deleted"), the survivor changes and records the old name.
    pub fn merge(&mut self, rng: &mut Rng, now: DateTime<Utc>, survivor: &str, merged: &str) -> Option<&PersonRecord> {
        if survivor == merged || !self.people.contains_key(survivor) {
            return None;
        }
        let gone = self.people.remove(merged)?;
        self.by_seq.remove(&gone.seq);
        let record = self.people.get_mut(survivor)?;
        let mut fields = gone.fields;
        decorate(&mut fields, &record.source_id);
        merge_fields(&mut record.fields, &fields);
        decorate(&mut record.fields, &record.source_id);
        record.previous.push(format!("people/{merged}"));
        record.previous.extend(gone.previous);
        self.touch(survivor, rng, now);
        self.people.get(survivor)
    }

    /// Moves a person to the head of the change log with a new etag and updateTime.
    fn touch(&mut self, id: &str, rng: &mut Rng, now: DateTime<Utc>) {
        let Some(record) = self.people.get_mut(id) else { return };
        self.by_seq.remove(&record.seq);
        self.seq += 1;
        record.seq = self.seq;
        record.etag = format!("%EgUBAgMJLhoE{}", rng.token(24));
        record.source_etag = format!("#{}", rng.token(16));
        record.update_time = rfc3339(now);
        self.by_seq.insert(self.seq, id.to_owned());
    }
}

impl PersonRecord {
    pub fn resource_name(&self) -> String {
        format!("people/{}", self.id)
    }

    /// The person as Google shows it: resourceName and etag always, other fields per `mask`
    /// (`None` = all); `previousResourceNames` only in incremental sync results.
    pub fn render(&self, mask: Option<&[String]>, with_previous: bool) -> Value {
        let wanted = |field: &str| mask.is_none_or(|m| m.iter().any(|p| p == field));
        let mut out = Map::new();
        out.insert("resourceName".into(), json!(self.resource_name()));
        out.insert("etag".into(), json!(self.etag));
        if wanted("metadata") {
            let mut metadata = json!({
                "sources": [{
                    "type": "CONTACT",
                    "id": self.source_id,
                    "etag": self.source_etag,
                    "updateTime": self.update_time,
                }],
                "objectType": "PERSON",
            });
            if with_previous && !self.previous.is_empty() {
                metadata["previousResourceNames"] = json!(self.previous);
            }
            out.insert("metadata".into(), metadata);
        }
        for (key, value) in &self.fields {
            let empty = value.as_array().is_some_and(|a| a.is_empty());
            if wanted(key) && !empty {
                out.insert(key.clone(), value.clone());
            }
        }
        Value::Object(out)
    }

    /// Sort key for FIRST_NAME_ASCENDING / LAST_NAME_ASCENDING.
    pub fn name_key(&self, part: &str) -> String {
        self.fields
            .get("names")
            .and_then(|n| n.get(0))
            .and_then(|n| n.get(part).or_else(|| n.get("displayName")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase()
    }
}
