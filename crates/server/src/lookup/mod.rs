//! Caller lookup by phone number (ARCHITECTURE §6), the hot path of every incoming call: `GET /api/v1/lookup`,
//! the seed path `GET /api/search`, and the PBX CNAM answer (`directory`). The matching rules are pure and
//! live in `switchboard_domain::lookup`; this module runs the indexed candidate query and ranks its rows.

pub mod routes;
pub mod store;

use crate::contacts::Contact;
use crate::error::AppError;
use crate::state::AppState;
use serde::Serialize;
use switchboard_domain::lookup::{self, LookupKey, Match};
use switchboard_domain::{PhoneEntry, WorkspaceId};

/// Most matches an answer lists (the best first).
pub const MAX_MATCHES: usize = 50;

/// A contact that matched, with the number that matched and how.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LookupMatch {
    /// The contact.
    pub contact: Contact,
    /// The contact's number that matched (its best one).
    pub matched_number: PhoneEntry,
    /// How it matched: `match` (`exact`, `national`, `trailing` or `internal`), `matched_digits` and
    /// `extension_match` (`exact`, or `number_only` when one side has an extension the other lacks).
    #[serde(flatten)]
    pub quality: Match,
}

/// The answer of a lookup.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LookupResult {
    /// What the input was read as.
    pub query: LookupKey,
    /// The best match, if any (also the first of `matches`).
    pub best: Option<LookupMatch>,
    /// Every match, best first (at most 50): exact E.164, then national number, then trailing digits; an
    /// exact extension before a differing one; equal matches by contact id.
    pub matches: Vec<LookupMatch>,
}

/// Looks `input` (any written form of a number) up among the live contacts of `ws`. A missing, garbage or
/// too short number is a validation error on the field `phone`.
pub async fn find(state: &AppState, ws: WorkspaceId, input: &str) -> Result<LookupResult, AppError> {
    let settings = crate::workspaces::settings(state, ws).await?;
    let key = LookupKey::parse("phone", input, &settings.phone_policy(), settings.lookup_min_digits())
        .map_err(|e| AppError::Validation(vec![e]))?;
    let candidates = {
        let mut pooled = state.lookup_db.acquire().await?;
        store::candidates(&mut pooled.conn(), ws, &key).await?
    };
    Ok(rank(key, candidates))
}

/// Ranks candidate contacts against `key` (ties by contact id) into the answer.
pub fn rank(key: LookupKey, candidates: Vec<Contact>) -> LookupResult {
    let matches: Vec<LookupMatch> = lookup::rank(&key, candidates, |c| &c.fields.phones, |c| c.id)
        .into_iter()
        .take(MAX_MATCHES)
        .map(|r| LookupMatch {
            matched_number: r.item.fields.phones[r.phone].clone(),
            contact: r.item,
            quality: r.quality,
        })
        .collect();
    LookupResult { query: key, best: matches.first().cloned(), matches }
}

/// The best-matching contact.
pub fn best_contact(result: &LookupResult) -> Option<&Contact> {
    result.best.as_ref().map(|m| &m.contact)
}

/// The caller's name for caller ID (CNAM): the best match's display name, when the contact has a name,
/// nickname or company (not a display name made from an email address or a number).
pub fn caller_name(result: &LookupResult) -> Option<&str> {
    let contact = best_contact(result)?;
    let f = &contact.fields;
    let named = [&f.given_name, &f.family_name, &f.nickname, &f.company]
        .into_iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()));
    Some(contact.display_name.as_str()).filter(|name| named && !name.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::{ContactFields, EmailEntry, ParsedPhone, PhonePolicy};
    use uuid::Uuid;

    fn contact(fields: ContactFields) -> Contact {
        let now = chrono::Utc::now();
        Contact {
            id: Uuid::now_v7(),
            display_name: fields.display_name(),
            fields,
            source: "api".into(),
            created_by: "test".into(),
            version: 1,
            deleted: false,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn phone(raw: &str) -> PhoneEntry {
        let p = ParsedPhone::parse("phone", raw, &PhonePolicy::default()).unwrap();
        PhoneEntry::new(p, "work")
    }

    fn key(raw: &str) -> LookupKey {
        LookupKey::parse("phone", raw, &PhonePolicy::default(), 7).unwrap()
    }

    #[test]
    fn caller_name_is_a_name_or_nothing() {
        let named = |fields: ContactFields| {
            let c = contact(ContactFields { phones: vec![phone("+1 415 555 0100")], ..fields });
            let result = rank(key("415-555-0100"), vec![c]);
            caller_name(&result).map(str::to_owned)
        };
        let name =
            ContactFields { given_name: Some("Ann".into()), family_name: Some("Lee".into()), ..Default::default() };
        assert_eq!(named(name).as_deref(), Some("Ann Lee"));
        let company = ContactFields { company: Some("Acme".into()), ..Default::default() };
        assert_eq!(named(company).as_deref(), Some("Acme"));
        let email = ContactFields {
            emails: vec![EmailEntry { address: "ann@example.com".into(), kind: "work".into() }],
            ..Default::default()
        };
        assert_eq!(named(email), None, "an address is not a caller name");
        assert_eq!(named(ContactFields::default()), None, "nor is the number itself");
        assert_eq!(caller_name(&rank(key("415-555-0100"), Vec::new())), None);
    }

    #[test]
    fn the_answer_lists_the_best_first_and_at_most_fifty() {
        let fields = |raw: &str| ContactFields {
            given_name: Some(raw.into()),
            phones: vec![phone("+1 917 555 0142"), phone(raw)],
            ..Default::default()
        };
        let mut candidates: Vec<Contact> = (0..60).map(|_| contact(fields("+1 212 555 0100"))).collect();
        candidates.push(contact(fields("+1 415 555 0100")));
        candidates.push(contact(fields("+1 305 555 0177")));
        let result = rank(key("+1 415 555 0100"), candidates.clone());
        assert_eq!(result.matches.len(), 1);
        assert_eq!(result.matches[0].matched_number.raw, "+1 415 555 0100");
        assert_eq!(result.matches[0].quality.kind, lookup::MatchKind::Exact);
        assert_eq!(best_contact(&result).map(|c| c.id), Some(candidates[60].id));

        let result = rank(key("555-0100"), candidates.clone());
        assert_eq!(result.matches.len(), MAX_MATCHES);
        let ids: Vec<Uuid> = result.matches.iter().map(|m| m.contact.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "equal matches in id order");
        assert_eq!(result.best.as_ref().map(|m| m.contact.id), ids.first().copied());
    }
}
