//! Request bodies for contacts and their parsing into domain values. Every rejected value names its field;
//! all errors of a body are reported together.

use serde::{Deserialize, Deserializer};
use switchboard_domain::{
    ContactFields, ContactPatch, Email, EmailEntry, Field, FieldError, ParsedPhone, PhoneEntry, PhonePolicy,
};
use uuid::Uuid;

/// Phone types a contact may use.
pub const PHONE_TYPES: [&str; 6] = ["mobile", "work", "home", "main", "fax", "other"];
/// Email types a contact may use.
pub const EMAIL_TYPES: [&str; 3] = ["work", "home", "other"];
const MAX_PHONES: usize = 20;
const MAX_EMAILS: usize = 20;
const MAX_LABELS: usize = 50;

/// A phone number in a request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// The number in any common format (`+1 415 555 0100`, `(415) 555-0100`, `tel:…`, an extension).
    pub value: String,
    /// `mobile`, `work`, `home`, `main`, `fax` or `other` (default).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// An email address in a request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    /// The address.
    pub address: String,
    /// `work`, `home` or `other` (default).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// Body of `POST /api/v1/contacts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    /// A client-chosen UUID (devices creating offline); the server makes one when absent.
    pub id: Option<Uuid>,
    /// Given name (at most 100 characters).
    pub given_name: Option<String>,
    /// Family name (at most 100 characters).
    pub family_name: Option<String>,
    /// Nickname (at most 100 characters).
    pub nickname: Option<String>,
    /// Company name (at most 200 characters).
    pub company: Option<String>,
    /// Job title (at most 200 characters).
    pub job_title: Option<String>,
    /// Department (at most 200 characters).
    pub department: Option<String>,
    /// Free-text notes (at most 10,000 characters).
    pub notes: Option<String>,
    /// Labels (at most 50, each 1–50 characters).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Phone numbers, the first is primary (at most 20).
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    /// Email addresses, the first is primary (at most 20).
    #[serde(default)]
    pub emails: Vec<EmailInput>,
}

/// Body of `PATCH /api/v1/contacts/{id}`: absent fields stay as they are, `null` clears, lists replace.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChanges {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub labels: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<PhoneInput>>)]
    pub phones: Option<Option<Vec<PhoneInput>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<EmailInput>>)]
    pub emails: Option<Option<Vec<EmailInput>>>,
    /// The version this edit is based on: a different current version is 409 with the server's copy.
    pub base_version: Option<i64>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Collects field errors while parsing a body.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Keeps the value, or records its error.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }
}

/// Trims a text field; empty becomes `None`; too long or control characters are errors.
pub fn text(field: &str, raw: Option<&str>, max: usize, multiline: bool) -> Result<Option<String>, FieldError> {
    let Some(t) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if t.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(Some(t.to_owned()))
}

fn labels(field: &str, raw: &[String], errors: &mut Errors) -> Vec<String> {
    if raw.len() > MAX_LABELS {
        errors.0.push(FieldError::new(field, format!("must have at most {MAX_LABELS} labels")));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        match text(&format!("{field}[{i}]"), Some(l), 50, false) {
            Ok(Some(l)) if !out.contains(&l) => out.push(l),
            Ok(Some(_)) => {}
            Ok(None) => errors.0.push(FieldError::new(format!("{field}[{i}]"), "must not be empty")),
            Err(e) => errors.0.push(e),
        }
    }
    out
}

/// Parses one phone number for `field`, with a type.
pub fn phone(field: &str, raw: &str, kind: Option<&str>, policy: &PhonePolicy) -> Result<PhoneEntry, FieldError> {
    let kind = kind.map(|k| k.trim().to_ascii_lowercase()).unwrap_or_else(|| "other".to_owned());
    if !PHONE_TYPES.contains(&kind.as_str()) {
        return Err(FieldError::new(field, format!("type must be one of {}", PHONE_TYPES.join(", "))));
    }
    let p = ParsedPhone::parse(field, raw, policy)?;
    Ok(PhoneEntry::new(p, kind))
}

fn phones(field: &str, raw: &[PhoneInput], policy: &PhonePolicy, errors: &mut Errors) -> Vec<PhoneEntry> {
    if raw.len() > MAX_PHONES {
        errors.0.push(FieldError::new(field, format!("must have at most {MAX_PHONES} numbers")));
        return Vec::new();
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, p)| errors.take(phone(&format!("{field}[{i}].value"), &p.value, p.kind.as_deref(), policy)))
        .collect()
}

fn emails(field: &str, raw: &[EmailInput], errors: &mut Errors) -> Vec<EmailEntry> {
    if raw.len() > MAX_EMAILS {
        errors.0.push(FieldError::new(field, format!("must have at most {MAX_EMAILS} addresses")));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        let kind = e.kind.as_deref().map(|k| k.trim().to_ascii_lowercase()).unwrap_or_else(|| "other".to_owned());
        if !EMAIL_TYPES.contains(&kind.as_str()) {
            errors.0.push(FieldError::new(
                format!("{field}[{i}].type"),
                format!("must be one of {}", EMAIL_TYPES.join(", ")),
            ));
            continue;
        }
        if let Some(address) = errors.take(Email::parse(&format!("{field}[{i}].address"), &e.address)) {
            out.push(EmailEntry { address: address.as_str().to_owned(), kind });
        }
    }
    out
}

/// The error when a contact would have nothing to recognise it by.
pub fn unidentifiable() -> FieldError {
    FieldError::new("contact", "needs at least one of a name, company, phone or email")
}

impl NewContact {
    /// Validates the body into the new contact's id and fields.
    pub fn parse(&self, policy: &PhonePolicy) -> Result<(Option<Uuid>, ContactFields), Vec<FieldError>> {
        let mut e = Errors::default();
        let fields = ContactFields {
            given_name: e.take(text("given_name", self.given_name.as_deref(), 100, false)).flatten(),
            family_name: e.take(text("family_name", self.family_name.as_deref(), 100, false)).flatten(),
            nickname: e.take(text("nickname", self.nickname.as_deref(), 100, false)).flatten(),
            company: e.take(text("company", self.company.as_deref(), 200, false)).flatten(),
            job_title: e.take(text("job_title", self.job_title.as_deref(), 200, false)).flatten(),
            department: e.take(text("department", self.department.as_deref(), 200, false)).flatten(),
            notes: e.take(text("notes", self.notes.as_deref(), 10_000, true)).flatten(),
            labels: labels("labels", &self.labels, &mut e),
            phones: phones("phones", &self.phones, policy, &mut e),
            emails: emails("emails", &self.emails, &mut e),
        };
        if e.0.is_empty() && !fields.is_identifiable() {
            e.0.push(unidentifiable());
        }
        e.finish((self.id, fields))
    }
}

impl ContactChanges {
    /// Validates the body into a patch.
    pub fn parse(&self, policy: &PhonePolicy) -> Result<ContactPatch, Vec<FieldError>> {
        let mut e = Errors::default();
        let mut patch = ContactPatch::default();
        let texts: [(Field, &Option<Option<String>>, usize, bool); 7] = [
            (Field::GivenName, &self.given_name, 100, false),
            (Field::FamilyName, &self.family_name, 100, false),
            (Field::Nickname, &self.nickname, 100, false),
            (Field::Company, &self.company, 200, false),
            (Field::JobTitle, &self.job_title, 200, false),
            (Field::Department, &self.department, 200, false),
            (Field::Notes, &self.notes, 10_000, true),
        ];
        for (field, value, max, multiline) in texts {
            let Some(value) = value else { continue };
            if let Some(v) = e.take(text(field.as_str(), value.as_deref(), max, multiline)) {
                let slot = match field {
                    Field::GivenName => &mut patch.values.given_name,
                    Field::FamilyName => &mut patch.values.family_name,
                    Field::Nickname => &mut patch.values.nickname,
                    Field::Company => &mut patch.values.company,
                    Field::JobTitle => &mut patch.values.job_title,
                    Field::Department => &mut patch.values.department,
                    _ => &mut patch.values.notes,
                };
                *slot = v;
                patch.set.insert(field);
            }
        }
        if let Some(l) = &self.labels {
            patch.values.labels = labels("labels", l.as_deref().unwrap_or_default(), &mut e);
            patch.set.insert(Field::Labels);
        }
        if let Some(p) = &self.phones {
            patch.values.phones = phones("phones", p.as_deref().unwrap_or_default(), policy, &mut e);
            patch.set.insert(Field::Phones);
        }
        if let Some(m) = &self.emails {
            patch.values.emails = emails("emails", m.as_deref().unwrap_or_default(), &mut e);
            patch.set.insert(Field::Emails);
        }
        e.finish(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_value_are_three_different_things() {
        let c: ContactChanges = serde_json::from_str(r#"{"given_name": null, "company": "Acme"}"#).unwrap();
        let patch = c.parse(&PhonePolicy::default()).unwrap();
        assert!(patch.set.contains(&Field::GivenName) && patch.values.given_name.is_none());
        assert_eq!(patch.values.company.as_deref(), Some("Acme"));
        assert!(!patch.set.contains(&Field::FamilyName));
    }

    #[test]
    fn every_bad_field_is_named() {
        let c: NewContact = serde_json::from_value(serde_json::json!({
            "given_name": "x".repeat(101),
            "phones": [{"value": "12"}, {"value": "not a phone"}],
            "emails": [{"address": "nope"}],
            "labels": [" "],
        }))
        .unwrap();
        let errors = c.parse(&PhonePolicy::default()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["given_name", "labels[0]", "phones[1].value", "emails[0].address"]);
    }

    #[test]
    fn a_contact_needs_something_to_recognise_it_by() {
        let errors = NewContact { notes: Some("hi".into()), ..Default::default() }.parse(&PhonePolicy::default());
        assert_eq!(errors.unwrap_err()[0].field, "contact");
    }
}
