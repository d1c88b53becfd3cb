//! Person JSON: input validation, Google's output-only decorations and field masks.
//!
//! People are kept as JSON so every field a client sends survives, as on Google.

use serde_json::{Map, Value, json};

use crate::errors::{ApiError, people as err};

/// Valid `personFields` paths (discovery, people.connections.list).
pub(crate) const READ_FIELDS: &[&str] = &[
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
];

/// Valid `updatePersonFields` paths (discovery, people.updateContact); all are arrays.
pub(crate) const UPDATE_FIELDS: &[&str] = &[
    "addresses",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "relations",
    "sipAddresses",
    "urls",
    "userDefined",
];

/// Fields that hold at most one item on a contact source.
const SINGLETONS: &[&str] = &["biographies", "birthdays", "genders", "names"];

/// Every property of the Person schema: anything else is an unknown JSON name.
const PERSON_KEYS: &[&str] = &[
    "addresses",
    "ageRange",
    "ageRanges",
    "biographies",
    "birthdays",
    "braggingRights",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "etag",
    "events",
    "externalIds",
    "fileAses",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "relationshipInterests",
    "relationshipStatuses",
    "residences",
    "resourceName",
    "sipAddresses",
    "skills",
    "taglines",
    "urls",
    "userDefined",
];

/// Parses a field mask parameter (`personFields`, `updatePersonFields`); the legacy
/// `person.` prefix of `requestMask.includeField` is accepted.
pub(crate) fn parse_mask(raw: Option<&str>, name: &str, valid: &[&str], doc: &str) -> Result<Vec<String>, ApiError> {
    let paths: Vec<String> = raw
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().trim_start_matches("person.").to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if paths.is_empty() {
        return Err(err::invalid_argument(&format!(
            "{name} mask is required. Please specify one or more valid paths. Valid paths are documented at {doc}."
        )));
    }
    if let Some(bad) = paths.iter().find(|p| !valid.contains(&p.as_str())) {
        return Err(err::invalid_argument(&format!(
            "Invalid {name} mask path: \"{bad}\". Valid paths are documented at {doc}."
        )));
    }
    Ok(paths)
}

/// Checks a Person body and returns its writable fields with output-only parts removed.
pub(crate) fn writable_fields(body: &Value) -> Result<Map<String, Value>, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(err::invalid_argument("Invalid JSON payload received. Expected an object for 'person'."));
    };
    if let Some(unknown) = object.keys().find(|k| !PERSON_KEYS.contains(&k.as_str())) {
        let message =
            format!("Invalid JSON payload received. Unknown name \"{unknown}\" at 'person': Cannot find field.");
        return Err(err::invalid_field("person", &message));
    }
    let mut fields = Map::new();
    for (key, value) in object {
        if !UPDATE_FIELDS.contains(&key.as_str()) || value.is_null() {
            continue; // output-only (resourceName, etag, metadata, photos, …) is ignored on input
        }
        let Some(items) = value.as_array() else {
            let message = format!("Invalid value at 'person.{key}', expected a list.");
            return Err(err::invalid_field(&format!("person.{key}"), &message));
        };
        if SINGLETONS.contains(&key.as_str()) && items.len() > 1 {
            let message = format!("Only one {key} field is allowed per contact (person.{key} has {}).", items.len());
            return Err(err::invalid_field(&format!("person.{key}"), &message));
        }
        fields.insert(key.clone(), Value::Array(items.clone()));
    }
    Ok(fields)
}

/// Adds Google's output-only parts to stored fields: item metadata (`primary` on the first),
/// name display forms, phone `canonicalForm`, and `formattedType`.
pub(crate) fn decorate(fields: &mut Map<String, Value>, source_id: &str) {
    for (key, value) in fields.iter_mut() {
        let Some(items) = value.as_array_mut() else { continue };
        for (i, item) in items.iter_mut().enumerate() {
            let Some(item) = item.as_object_mut() else { continue };
            for output_only in ["metadata", "formattedType", "canonicalForm", "displayName", "displayNameLastFirst"] {
                // emailAddresses[].displayName is writable; only names' display forms are derived.
                if output_only == "displayName" && key != "names" {
                    continue;
                }
                item.remove(output_only);
            }
            let mut metadata = json!({ "source": { "type": "CONTACT", "id": source_id } });
            if i == 0 {
                metadata["primary"] = json!(true);
                metadata["sourcePrimary"] = json!(true);
            }
            item.insert("metadata".into(), metadata);
            match key.as_str() {
                "names" => name_display(item),
                "phoneNumbers" => {
                    if let Some(canonical) = item.get("value").and_then(Value::as_str).and_then(canonical_phone) {
                        item.insert("canonicalForm".into(), json!(canonical));
                    }
                }
                _ => {}
            }
            if let Some(kind) = item.get("type").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                let formatted = formatted_type(kind);
                item.insert("formattedType".into(), json!(formatted));
            }
        }
    }
}

fn name_display(name: &mut Map<String, Value>) {
    let part = |k: &str| name.get(k).and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let (prefix, given, middle, family, suffix) =
        (part("honorificPrefix"), part("givenName"), part("middleName"), part("familyName"), part("honorificSuffix"));
    let join = |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
    let mut display = join(&[&prefix, &given, &middle, &family, &suffix]);
    if display.is_empty() {
        display = part("unstructuredName");
    }
    if display.is_empty() {
        return;
    }
    let last_first = if family.is_empty() {
        display.clone()
    } else {
        let rest = join(&[&prefix, &given, &middle]);
        let mut text = if rest.is_empty() { family.clone() } else { format!("{family}, {rest}") };
        if !suffix.is_empty() {
            text = format!("{text}, {suffix}");
        }
        text
    };
    name.insert("displayName".into(), json!(display));
    name.insert("displayNameLastFirst".into(), json!(last_first));
}

/// E.164 form, deliberately simple: a value that is plainly `+` and 8–15 digits, or a US
/// number of 10 digits (11 with a leading 1), once spaces, dashes, dots and parentheses are
/// dropped. Anything else (letters, extensions, other national formats) gets no canonicalForm.
pub(crate) fn canonical_phone(value: &str) -> Option<String> {
    let compact: String = value.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}')).collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match (plus, digits.len()) {
        (true, 8..=15) if !digits.starts_with('0') => Some(format!("+{digits}")),
        (false, 10) if !digits.starts_with(['0', '1']) => Some(format!("+1{digits}")),
        (false, 11) if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

/// English `formattedType`: known camelCase types become words ("homeFax" → "Home Fax");
/// custom types are shown as given.
fn formatted_type(kind: &str) -> String {
    if !kind.chars().next().is_some_and(|c| c.is_ascii_lowercase()) || !kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return kind.to_owned();
    }
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Merges `other`'s fields into `survivor`'s: phones and emails are unioned (deduplicated by
/// canonical number / lower-cased address); any other field the survivor lacks is taken over.
pub(crate) fn merge_fields(survivor: &mut Map<String, Value>, other: &Map<String, Value>) {
    for (key, value) in other {
        match key.as_str() {
            "phoneNumbers" | "emailAddresses" => {
                let identity = |item: &Value| {
                    let value = item.get("value").and_then(Value::as_str).unwrap_or_default();
                    if key == "phoneNumbers" {
                        canonical_phone(value).unwrap_or_else(|| value.to_owned())
                    } else {
                        value.to_lowercase()
                    }
                };
                let list = survivor.entry(key.clone()).or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else { continue };
                for item in value.as_array().into_iter().flatten() {
                    let id = identity(item);
                    if !list.iter().any(|existing| identity(existing) == id) {
                        list.push(item.clone());
                    }
                }
            }
            _ => {
                let empty = survivor.get(key).and_then(Value::as_array).is_none_or(|a| a.is_empty());
                if empty {
                    survivor.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_phone("+49 30 1234567").as_deref(), Some("+49301234567"));
        assert_eq!(canonical_phone("(415) 555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(canonical_phone("1-415-555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(canonical_phone("030 1234567"), None);
        assert_eq!(canonical_phone("+1 415 555 0100 ext 2"), None);
    }

    #[test]
    fn decorations() {
        let mut fields = writable_fields(&json!({
            "names": [{ "givenName": "Ada", "familyName": "Lovelace", "displayName": "ignored" }],
            "phoneNumbers": [{ "value": "+44 20 7946 0000", "type": "workMobile" }, { "value": "x", "type": "Boat" }],
        }))
        .unwrap();
        decorate(&mut fields, "abc");
        let name = &fields["names"][0];
        assert_eq!(name["displayName"], "Ada Lovelace");
        assert_eq!(name["displayNameLastFirst"], "Lovelace, Ada");
        assert_eq!(name["metadata"]["primary"], true);
        let phones = &fields["phoneNumbers"];
        assert_eq!(phones[0]["canonicalForm"], "+442079460000");
        assert_eq!(phones[0]["formattedType"], "Work Mobile");
        assert_eq!(phones[1]["formattedType"], "Boat");
        assert!(phones[1]["metadata"].get("primary").is_none());
    }

    #[test]
    fn rejects_unknown_and_multiple_names() {
        assert!(writable_fields(&json!({ "nmes": [] })).is_err());
        assert!(writable_fields(&json!({ "names": [{}, {}] })).is_err());
    }
}
