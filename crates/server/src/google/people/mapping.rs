//! How a Google person and a contact map onto each other, and which side changed which field.
//!
//! Synced fields: given and family name (`names`), nickname (`nicknames`), company, job title and department
//! (the primary `organizations` entry), notes (`biographies`), phones and emails. Labels stay local.
//!
//! Reading Google is lenient where the API is strict: Google accepts what our validation refuses (longer
//! names, numbers that do not parse), so long text is cut at the limit, control characters are dropped and
//! numbers that do not parse are left out (and logged) instead of rejecting the whole person.

use std::collections::BTreeSet;
use switchboard_domain::{ContactFields, EmailEntry, Field, ParsedPhone, PhoneEntry, PhonePolicy};
use switchboard_google::people::{Biography, EmailAddress, Name, Nickname, Organization, Person, PhoneNumber};

/// The contact fields that sync with Google.
pub const SYNCED: [Field; 9] = [
    Field::GivenName,
    Field::FamilyName,
    Field::Nickname,
    Field::Company,
    Field::JobTitle,
    Field::Department,
    Field::Notes,
    Field::Phones,
    Field::Emails,
];

/// What the sync reads of each person.
pub const PERSON_FIELDS: &str =
    "names,nicknames,phoneNumbers,emailAddresses,organizations,biographies,clientData,metadata";

/// The `clientData` key under which people we create carry our contact id: a create whose answer was lost
/// (a crash, a timeout) is recognised on the next sync instead of becoming a second contact.
pub const CONTACT_ID_KEY: &str = "switchboard.contact_id";

const MAX_ITEMS: usize = 20;

/// A person read as contact fields (labels empty).
pub struct Mapped {
    pub fields: ContactFields,
    /// Numbers left out because they do not parse.
    pub skipped_numbers: Vec<String>,
}

/// Reads a person's synced fields.
pub fn from_person(person: &Person, policy: &PhonePolicy) -> Mapped {
    let name = person.primary_name();
    let org = person.primary_organization();
    let mut skipped_numbers = Vec::new();
    let mut phones: Vec<PhoneEntry> = Vec::new();
    for p in &person.phone_numbers {
        let parsed = ParsedPhone::parse("phone", &p.value, policy)
            .or_else(|e| p.canonical_form.as_deref().map(|c| ParsedPhone::parse("phone", c, policy)).unwrap_or(Err(e)));
        match parsed {
            Ok(parsed) if phones.len() < MAX_ITEMS && !phones.iter().any(|q| q.digits == parsed.digits) => {
                phones.push(PhoneEntry::new(parsed, phone_kind(p.phone_type.as_deref())));
            }
            Ok(_) => {}
            Err(_) => skipped_numbers.push(p.value.clone()),
        }
    }
    let mut emails: Vec<EmailEntry> = Vec::new();
    for e in &person.email_addresses {
        if let Ok(address) = switchboard_domain::Email::parse("email", &e.value)
            && emails.len() < MAX_ITEMS
            && !emails.iter().any(|x| x.address == address.as_str())
        {
            emails.push(EmailEntry { address: address.as_str().to_owned(), kind: email_kind(e.email_type.as_deref()) });
        }
    }
    let given_name = clean(name.and_then(|n| n.given_name.as_deref()), 100, false);
    let family_name = clean(name.and_then(|n| n.family_name.as_deref()), 100, false);
    // A name typed in one piece (Gmail's "Acme Support") has no given or family part: keep it as the given
    // name rather than losing it.
    let given_name = match (&given_name, &family_name) {
        (None, None) => {
            clean(name.and_then(|n| n.unstructured_name.as_deref().or(n.display_name.as_deref())), 100, false)
        }
        _ => given_name,
    };
    let fields = ContactFields {
        given_name,
        family_name,
        nickname: clean(person.nicknames.first().map(|n| n.value.as_str()), 100, false),
        company: clean(org.and_then(|o| o.name.as_deref()), 200, false),
        job_title: clean(org.and_then(|o| o.title.as_deref()), 200, false),
        department: clean(org.and_then(|o| o.department.as_deref()), 200, false),
        notes: clean(person.biographies.first().map(|b| b.value.as_str()), 10_000, true),
        labels: Vec::new(),
        phones,
        emails,
    };
    Mapped { fields, skipped_numbers }
}

/// Trims, drops control characters (keeping line breaks in multi-line text) and cuts to `max` characters.
fn clean(raw: Option<&str>, max: usize, multiline: bool) -> Option<String> {
    let kept: String =
        raw?.chars().filter(|c| !c.is_control() || (multiline && matches!(c, '\n' | '\t'))).take(max + 64).collect();
    let t = kept.trim();
    (!t.is_empty()).then(|| t.chars().take(max).collect::<String>().trim_end().to_owned())
}

/// Google's phone type as ours: `mobile work home main fax other`.
fn phone_kind(google: Option<&str>) -> &'static str {
    match google.unwrap_or("") {
        "mobile" | "workMobile" => "mobile",
        "work" => "work",
        "home" => "home",
        "main" => "main",
        "homeFax" | "workFax" | "otherFax" => "fax",
        _ => "other",
    }
}

/// Our phone type as Google's.
fn google_phone_type(kind: &str) -> &'static str {
    match kind {
        "mobile" => "mobile",
        "work" => "work",
        "home" => "home",
        "main" => "main",
        "fax" => "workFax",
        _ => "other",
    }
}

fn email_kind(google: Option<&str>) -> String {
    match google.unwrap_or("") {
        k @ ("work" | "home") => k.to_owned(),
        _ => "other".to_owned(),
    }
}

/// The Google field (`updatePersonFields` entry) a contact field is written through.
pub fn person_field(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::GivenName | Field::FamilyName => "names",
        Field::Nickname => "nicknames",
        Field::Company | Field::JobTitle | Field::Department => "organizations",
        Field::Notes => "biographies",
        Field::Phones => "phoneNumbers",
        Field::Emails => "emailAddresses",
        Field::Labels => return None,
    })
}

/// The contact fields each Google field carries: writing one Google field replaces all of them.
fn fields_of(person_field: &str) -> &'static [Field] {
    match person_field {
        "names" => &[Field::GivenName, Field::FamilyName],
        "nicknames" => &[Field::Nickname],
        "organizations" => &[Field::Company, Field::JobTitle, Field::Department],
        "biographies" => &[Field::Notes],
        "phoneNumbers" => &[Field::Phones],
        "emailAddresses" => &[Field::Emails],
        _ => &[],
    }
}

/// The synced fields where `a` and `b` differ.
pub fn differing(a: &ContactFields, b: &ContactFields) -> BTreeSet<Field> {
    SYNCED.into_iter().filter(|f| !a.same(b, *f)).collect()
}

/// A body for `createContact` / `updateContact` with the Google fields that carry `changed`, written from
/// `fields`, and the matching `updatePersonFields` mask. Also returns every contact field the body sets
/// (the whole Google field, e.g. both names when only the given name changed).
pub fn to_person(fields: &ContactFields, changed: &BTreeSet<Field>) -> (Person, String, BTreeSet<Field>) {
    let mut groups: Vec<&'static str> = changed.iter().filter_map(|f| person_field(*f)).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut person = Person::default();
    let mut written = BTreeSet::new();
    for group in &groups {
        written.extend(fields_of(group).iter().copied());
        match *group {
            "names" if fields.given_name.is_some() || fields.family_name.is_some() => {
                person.names = vec![Name {
                    given_name: fields.given_name.clone(),
                    family_name: fields.family_name.clone(),
                    ..Default::default()
                }];
            }
            "nicknames" => {
                person.nicknames =
                    fields.nickname.iter().map(|n| Nickname { value: n.clone(), ..Default::default() }).collect();
            }
            "organizations"
                if fields.company.is_some() || fields.job_title.is_some() || fields.department.is_some() =>
            {
                person.organizations = vec![Organization {
                    name: fields.company.clone(),
                    title: fields.job_title.clone(),
                    department: fields.department.clone(),
                    organization_type: Some("work".into()),
                    current: Some(true),
                    ..Default::default()
                }];
            }
            "biographies" => {
                person.biographies = fields
                    .notes
                    .iter()
                    .map(|n| Biography {
                        value: n.clone(),
                        content_type: Some("TEXT_PLAIN".into()),
                        ..Default::default()
                    })
                    .collect();
            }
            "phoneNumbers" => {
                person.phone_numbers = fields
                    .phones
                    .iter()
                    .map(|p| PhoneNumber {
                        value: p.raw.clone(),
                        phone_type: Some(google_phone_type(&p.kind).into()),
                        ..Default::default()
                    })
                    .collect();
            }
            "emailAddresses" => {
                person.email_addresses = fields
                    .emails
                    .iter()
                    .map(|e| EmailAddress {
                        value: e.address.clone(),
                        email_type: Some(e.kind.clone()),
                        ..Default::default()
                    })
                    .collect();
            }
            _ => {}
        }
    }
    (person, groups.join(","), written)
}

/// Whether the person's last edit in Google is at least as recent as the contact's last edit here: where
/// both sides changed the same field since the last exchange, the later edit wins. Without Google's time,
/// Google wins.
pub fn google_is_newer(person: &Person, contact: &crate::contacts::Contact) -> bool {
    person
        .contact_source()
        .and_then(|s| s.update_time.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| t.with_timezone(&chrono::Utc) >= contact.updated_at)
}

/// `target` with the synced fields in `set` copied from `from`.
pub fn with_fields(target: &ContactFields, from: &ContactFields, set: &BTreeSet<Field>) -> ContactFields {
    let mut out = target.clone();
    for f in set {
        out.copy_field(from, *f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PhonePolicy {
        PhonePolicy::default()
    }

    fn person(json: serde_json::Value) -> Person {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn reads_a_person_leniently() {
        let p = person(serde_json::json!({
            "resourceName": "people/c1",
            "names": [{"givenName": " Ann\u{7} ", "familyName": "L".repeat(150)}],
            "phoneNumbers": [
                {"value": "(415) 555-0100", "type": "workMobile"},
                {"value": "not a number"},
                {"value": "+1 415 555 0100", "type": "home"},
                {"value": "415 555 0199", "type": "homeFax"}
            ],
            "emailAddresses": [{"value": "Ann@Example.com", "type": "custom"}],
            "organizations": [{"name": "Acme", "title": "CEO"}]
        }));
        let m = from_person(&p, &policy());
        assert_eq!(m.fields.given_name.as_deref(), Some("Ann"));
        assert_eq!(m.fields.family_name.as_ref().unwrap().chars().count(), 100);
        assert_eq!(m.fields.phones.len(), 2, "the unparseable and the duplicate number are left out");
        assert_eq!(m.fields.phones[0].kind, "mobile");
        assert_eq!(m.fields.phones[1].kind, "fax");
        assert_eq!(m.skipped_numbers, vec!["not a number".to_owned()]);
        assert_eq!(m.fields.emails[0].address, "ann@example.com");
        assert_eq!(m.fields.emails[0].kind, "other");
        assert_eq!(m.fields.company.as_deref(), Some("Acme"));
    }

    #[test]
    fn a_contact_written_to_google_reads_back_the_same() {
        let p = person(serde_json::json!({
            "names": [{"givenName": "Ann", "familyName": "Lee"}],
            "nicknames": [{"value": "Annie"}],
            "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}, {"value": "415 555 0100", "type": "mobile"}],
            "emailAddresses": [{"value": "ann@example.com", "type": "work"}],
            "organizations": [{"name": "Acme", "title": "CEO", "department": "Board"}],
            "biographies": [{"value": "line one\nline two"}]
        }));
        let fields = from_person(&p, &policy()).fields;
        let all: BTreeSet<Field> = SYNCED.into_iter().collect();
        let (body, mask, written) = to_person(&fields, &all);
        assert_eq!(mask, "biographies,emailAddresses,names,nicknames,organizations,phoneNumbers");
        assert_eq!(written, all);
        let back = from_person(&body, &policy()).fields;
        assert!(differing(&fields, &back).is_empty(), "{fields:?} vs {back:?}");
    }

    #[test]
    fn a_name_in_one_piece_is_kept() {
        let p =
            person(serde_json::json!({"names": [{"unstructuredName": "Acme Support", "displayName": "Acme Support"}]}));
        assert_eq!(from_person(&p, &policy()).fields.given_name.as_deref(), Some("Acme Support"));
        let p = person(serde_json::json!({"names": [{"displayName": "Bo"}]}));
        assert_eq!(from_person(&p, &policy()).fields.given_name.as_deref(), Some("Bo"));
    }

    #[test]
    fn one_changed_name_writes_both_names() {
        let fields =
            ContactFields { given_name: Some("A".into()), family_name: Some("B".into()), ..Default::default() };
        let (body, mask, written) = to_person(&fields, &[Field::GivenName].into());
        assert_eq!(mask, "names");
        assert_eq!(body.names[0].family_name.as_deref(), Some("B"));
        assert_eq!(written, [Field::GivenName, Field::FamilyName].into());
        let (body, mask, _) = to_person(&ContactFields::default(), &[Field::Phones, Field::Labels].into());
        assert_eq!(mask, "phoneNumbers", "labels never go to Google");
        assert!(body.phone_numbers.is_empty(), "an empty list clears the field");
    }
}
