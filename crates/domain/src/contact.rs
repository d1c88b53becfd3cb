//! A contact's editable fields, patches over them, and the field-by-field three-way merge that offline
//! devices rely on (ARCHITECTURE §4, issue 4 "offline upload").
//!
//! Values here are already valid: the server parses requests into them at the edge.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One phone number of a contact, in every form we keep (ARCHITECTURE §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneEntry {
    /// As the user typed it (trimmed).
    pub raw: String,
    /// E.164 form (`+14155550100`); null for internal extensions.
    pub e164: Option<String>,
    /// The extension after the number (`ext. 12` → `12`), if any.
    pub extension: Option<String>,
    /// Digits only: E.164 without `+`, or the extension number itself.
    pub digits: String,
    /// `mobile`, `work`, `home`, `main`, `fax` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The digits of the national format, with the trunk prefix where the number's country dials one
    /// (`02079460958` for +44 20 7946 0958): what a phone in that country dials. Absent for internal
    /// extensions (and numbers stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national: Option<String>,
}

impl PhoneEntry {
    /// A parsed number of this type.
    pub fn new(parsed: crate::ParsedPhone, kind: impl Into<String>) -> Self {
        Self {
            raw: parsed.raw,
            e164: parsed.e164,
            extension: parsed.extension,
            digits: parsed.digits,
            kind: kind.into(),
            national: parsed.national,
        }
    }
}

/// One email address of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailEntry {
    /// The address, lower-cased.
    pub address: String,
    /// `work`, `home` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The fields of a contact that clients edit. Each is one unit of change tracking and merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    GivenName,
    FamilyName,
    Nickname,
    Company,
    JobTitle,
    Department,
    Notes,
    Labels,
    Phones,
    Emails,
}

impl Field {
    /// Every field, in display order.
    pub const ALL: [Field; 10] = [
        Field::GivenName,
        Field::FamilyName,
        Field::Nickname,
        Field::Company,
        Field::JobTitle,
        Field::Department,
        Field::Notes,
        Field::Labels,
        Field::Phones,
        Field::Emails,
    ];

    /// The field's name on the wire and in the change feed.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::Nickname => "nickname",
            Field::Company => "company",
            Field::JobTitle => "job_title",
            Field::Department => "department",
            Field::Notes => "notes",
            Field::Labels => "labels",
            Field::Phones => "phones",
            Field::Emails => "emails",
        }
    }

    /// The field with this wire name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// The editable state of a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactFields {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub notes: Option<String>,
    pub labels: Vec<String>,
    pub phones: Vec<PhoneEntry>,
    pub emails: Vec<EmailEntry>,
}

impl ContactFields {
    /// Whether `field` holds the same value here and in `other`.
    pub fn same(&self, other: &ContactFields, field: Field) -> bool {
        match field {
            Field::GivenName => self.given_name == other.given_name,
            Field::FamilyName => self.family_name == other.family_name,
            Field::Nickname => self.nickname == other.nickname,
            Field::Company => self.company == other.company,
            Field::JobTitle => self.job_title == other.job_title,
            Field::Department => self.department == other.department,
            Field::Notes => self.notes == other.notes,
            Field::Labels => self.labels == other.labels,
            Field::Phones => self.phones == other.phones,
            Field::Emails => self.emails == other.emails,
        }
    }

    /// Copies `field` from `from` into `self`.
    pub fn copy_field(&mut self, from: &ContactFields, field: Field) {
        match field {
            Field::GivenName => self.given_name.clone_from(&from.given_name),
            Field::FamilyName => self.family_name.clone_from(&from.family_name),
            Field::Nickname => self.nickname.clone_from(&from.nickname),
            Field::Company => self.company.clone_from(&from.company),
            Field::JobTitle => self.job_title.clone_from(&from.job_title),
            Field::Department => self.department.clone_from(&from.department),
            Field::Notes => self.notes.clone_from(&from.notes),
            Field::Labels => self.labels.clone_from(&from.labels),
            Field::Phones => self.phones.clone_from(&from.phones),
            Field::Emails => self.emails.clone_from(&from.emails),
        }
    }

    /// The fields whose values differ between `self` and `other`.
    pub fn changed_fields(&self, other: &ContactFields) -> BTreeSet<Field> {
        Field::ALL.into_iter().filter(|f| !self.same(other, *f)).collect()
    }

    /// A contact needs something to be recognised by: a name, a company, a phone or an email.
    pub fn is_identifiable(&self) -> bool {
        self.given_name.is_some()
            || self.family_name.is_some()
            || self.nickname.is_some()
            || self.company.is_some()
            || !self.phones.is_empty()
            || !self.emails.is_empty()
    }

    /// "Given Family", else nickname, company, first email or first phone: what a list shows.
    pub fn display_name(&self) -> String {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            return name;
        }
        self.nickname
            .clone()
            .or_else(|| self.company.clone())
            .or_else(|| self.emails.first().map(|e| e.address.clone()))
            .or_else(|| self.phones.first().map(|p| p.raw.clone()))
            .unwrap_or_default()
    }
}

/// A partial update: the fields it sets, and their new values (carried in a [`ContactFields`]; fields not
/// in `set` are ignored). Absent means "leave as is"; present with an empty value means "clear".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPatch {
    /// Which fields the patch sets.
    pub set: BTreeSet<Field>,
    /// Their new values.
    pub values: ContactFields,
}

impl ContactPatch {
    /// A patch that sets every field to `values` (a full replacement).
    pub fn replace_all(values: ContactFields) -> Self {
        Self { set: Field::ALL.into_iter().collect(), values }
    }

    /// Whether the patch sets nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Applies the patch to `target`.
    pub fn apply_to(&self, target: &mut ContactFields) {
        for field in &self.set {
            target.copy_field(&self.values, *field);
        }
    }

    /// `target` with the patch applied.
    pub fn applied(&self, target: &ContactFields) -> ContactFields {
        let mut out = target.clone();
        self.apply_to(&mut out);
        out
    }
}

/// What a three-way merge decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// Apply this patch (possibly empty: nothing left to change).
    Apply(Box<ContactPatch>),
    /// Both sides changed these fields to different values; nothing is applied.
    Conflict(BTreeSet<Field>),
}

/// Merges a device's patch, written against `base` (the contact as the device last saw it), into the
/// server's `current` state, field by field:
///
/// - the device sets a field to what the server already has: nothing to do;
/// - the server has not changed the field since `base`: the device's value wins;
/// - the device sends the field unchanged from `base` (clients often send whole records): the server's
///   newer value stays;
/// - otherwise both changed it differently: a conflict on that field.
///
/// Any conflict rejects the whole operation, so a device never ends up with half of its edit applied.
pub fn merge(base: &ContactFields, current: &ContactFields, patch: &ContactPatch) -> Merge {
    let mut apply = ContactPatch { set: BTreeSet::new(), values: patch.values.clone() };
    let mut conflicts = BTreeSet::new();
    for &field in &patch.set {
        let device = &patch.values;
        if device.same(current, field) || device.same(base, field) {
            continue;
        }
        if base.same(current, field) {
            apply.set.insert(field);
        } else {
            conflicts.insert(field);
        }
    }
    if conflicts.is_empty() { Merge::Apply(Box::new(apply)) } else { Merge::Conflict(conflicts) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        prop_oneof![Just(None), "[a-c]{1,2}".prop_map(Some)]
    }

    fn phone(n: u8) -> PhoneEntry {
        PhoneEntry {
            raw: format!("{n}{n}{n}"),
            e164: None,
            extension: None,
            digits: format!("{n}{n}{n}"),
            kind: "work".into(),
            national: None,
        }
    }

    fn fields() -> impl Strategy<Value = ContactFields> {
        (
            (text(), text(), text(), text(), text()),
            (text(), text()),
            proptest::collection::vec("[xy]", 0..2),
            proptest::collection::vec(1u8..3, 0..2),
            proptest::collection::vec("[pq]@example\\.com", 0..2),
        )
            .prop_map(|((g, f, n, c, j), (d, notes), labels, phones, emails)| ContactFields {
                given_name: g,
                family_name: f,
                nickname: n,
                company: c,
                job_title: j,
                department: d,
                notes,
                labels,
                phones: phones.into_iter().map(phone).collect(),
                emails: emails.into_iter().map(|address| EmailEntry { address, kind: "work".into() }).collect(),
            })
    }

    fn field_set() -> impl Strategy<Value = BTreeSet<Field>> {
        proptest::collection::btree_set(proptest::sample::select(Field::ALL.to_vec()), 0..5)
    }

    fn patch() -> impl Strategy<Value = ContactPatch> {
        (field_set(), fields()).prop_map(|(set, values)| ContactPatch { set, values })
    }

    /// The fields a patch really changes on `target`.
    fn effective(p: &ContactPatch, target: &ContactFields) -> BTreeSet<Field> {
        p.applied(target).changed_fields(target)
    }

    proptest! {
        /// Edits of disjoint fields always merge, keep both sides' values, and commute.
        #[test]
        fn disjoint_edits_merge_and_commute(base in fields(), server in patch(), device in patch()) {
            let server_changed = effective(&server, &base);
            let device_changed = effective(&device, &base);
            prop_assume!(server_changed.is_disjoint(&device_changed));
            let current = server.applied(&base);
            let Merge::Apply(p) = merge(&base, &current, &device) else {
                return Err(TestCaseError::fail("disjoint edits conflicted"));
            };
            let merged = p.applied(&current);
            let only = |p: &ContactPatch, set: &BTreeSet<Field>| ContactPatch { set: set.clone(), values: p.values.clone() };
            let device_first = only(&server, &server_changed).applied(&only(&device, &device_changed).applied(&base));
            prop_assert_eq!(&merged, &device_first);
            for f in &server_changed { prop_assert!(merged.same(&current, *f)); }
            for f in &device_changed { prop_assert!(merged.same(&device.values, *f)); }
        }

        /// With no server change since `base`, a merge is a plain apply.
        #[test]
        fn no_server_change_is_a_plain_apply(base in fields(), device in patch()) {
            let Merge::Apply(p) = merge(&base, &base, &device) else {
                return Err(TestCaseError::fail("conflict without a server change"));
            };
            prop_assert_eq!(p.applied(&base), device.applied(&base));
        }

        /// The same edit made on both sides never conflicts and changes nothing more.
        #[test]
        fn identical_edits_never_conflict(base in fields(), edit in patch()) {
            let current = edit.applied(&base);
            prop_assert_eq!(merge(&base, &current, &edit), Merge::Apply(Box::new(ContactPatch { set: BTreeSet::new(), values: edit.values.clone() })));
        }

        /// A conflict is reported exactly on the fields both sides changed to different values, and a
        /// merge never loses a server change the device did not also make.
        #[test]
        fn conflicts_are_exactly_the_divergent_fields(base in fields(), server in patch(), device in patch()) {
            let current = server.applied(&base);
            let divergent: BTreeSet<Field> = device.set.iter().copied().filter(|f| {
                !device.values.same(&current, *f) && !device.values.same(&base, *f) && !base.same(&current, *f)
            }).collect();
            match merge(&base, &current, &device) {
                Merge::Conflict(fields) => prop_assert_eq!(fields, divergent),
                Merge::Apply(p) => {
                    prop_assert!(divergent.is_empty());
                    let merged = p.applied(&current);
                    for f in base.changed_fields(&current) {
                        prop_assert!(merged.same(&current, f) || device.values.same(&merged, f));
                    }
                }
            }
        }
    }

    #[test]
    fn display_name_falls_back_in_order() {
        let mut c = ContactFields { company: Some("Acme".into()), ..Default::default() };
        assert_eq!(c.display_name(), "Acme");
        c.family_name = Some("Lee".into());
        assert_eq!(c.display_name(), "Lee");
        c.given_name = Some("Ann".into());
        assert_eq!(c.display_name(), "Ann Lee");
        assert!(c.is_identifiable());
        assert!(!ContactFields::default().is_identifiable());
    }

    #[test]
    fn field_names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.as_str()), Some(f));
        }
        assert_eq!(Field::from_name("phone_primary"), None);
    }
}
