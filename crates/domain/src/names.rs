//! Parsed text values: once constructed they are known to be valid.

use crate::FieldError;
use serde::Serialize;

/// An email address, trimmed and lower-cased. The check is deliberately modest (one `@`, a dot in the
/// domain, no spaces): the only real test of an address is mail reaching it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses `raw` for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim().to_lowercase();
        let err = |m: &str| Err(FieldError::new(field, m));
        if value.is_empty() {
            return err("is required");
        }
        if value.len() > 254 {
            return err("must be at most 254 characters");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return err("must be an email address like name@example.com");
        };
        if local.is_empty()
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains('@')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return err("must be an email address like name@example.com");
        }
        Ok(Self(value))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trims, rejects control characters and limits the length (in characters) of a free-text name.
fn parse_text(field: &str, raw: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() && required {
        return Err(FieldError::new(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, required = $required:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses `raw` for the request field `field`.
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                parse_text(field, raw, $max, $required).map(Self)
            }

            /// The parsed text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// A workspace's display name (1–100 characters).
    WorkspaceName, max = 100, required = true
);
text_type!(
    /// A person's or agent's display name (0–200 characters; may be empty).
    PersonName, max = 200, required = false
);

/// A short code made of ASCII letters, digits, `-`, `_` and `.`, with a length range.
fn parse_code(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if value.len() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(FieldError::new(field, "may contain only letters, digits, '-', '_' and '.'"));
    }
    Ok(value.to_owned())
}

/// An agent's code (unique per workspace), as the seed's clients send in `X-Agent-Code`. Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AgentCode(String);

impl AgentCode {
    /// Parses `raw` for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        parse_code(field, raw, 64).map(Self)
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen device identifier (`X-Device-Id`): an Android id, a browser's random id, …
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceCode(String);

impl DeviceCode {
    /// Parses `raw` for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        if value.len() > 128 {
            return Err(FieldError::new(field, "must be at most 128 characters"));
        }
        if !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldError::new(field, "must be printable ASCII without spaces"));
        }
        Ok(Self(value.to_owned()))
    }
    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A workspace slug: lower-case letters, digits and `-`, 2–48 characters, used in URLs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses `raw` for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        let ok = (2..=48).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be 2-48 lower-case letters, digits or '-', not starting or ending with '-'",
            ))
        }
    }

    /// Derives a slug from a display name (`"Acme Plumbing"` → `acme-plumbing`).
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let mut slug: String = slug.trim_end_matches('-').chars().take(48).collect();
        slug = slug.trim_end_matches('-').to_owned();
        if slug.len() < 2 {
            slug = "workspace".to_owned();
        }
        Self(slug)
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse("email", "  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@.com."] {
            let err = Email::parse("email", bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(WorkspaceName::parse("name", "  Acme ").unwrap().as_str(), "Acme");
        assert!(WorkspaceName::parse("name", "   ").is_err());
        assert!(WorkspaceName::parse("name", &"x".repeat(101)).is_err());
        assert!(PersonName::parse("name", "").is_ok());
        assert!(PersonName::parse("name", "a\u{7}b").is_err());
    }

    #[test]
    fn codes_and_slugs() {
        assert!(AgentCode::parse("agent_code", "AG-01").is_ok());
        assert!(AgentCode::parse("agent_code", "AG 01").is_err());
        assert!(DeviceCode::parse("device_id", "pixel-7:abc").is_ok());
        assert!(DeviceCode::parse("device_id", "a b").is_err());
        assert_eq!(Slug::from_name("Acme Plumbing & Sons!").as_str(), "acme-plumbing-sons");
        assert_eq!(Slug::from_name("!").as_str(), "workspace");
        assert!(Slug::parse("slug", "Acme").is_err());
        assert!(Slug::parse("slug", "acme-1").is_ok());
    }
}
