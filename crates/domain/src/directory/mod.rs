//! Directory documents for desk IP phones: small pure functions from contacts to each vendor's XML.
//!
//! Wire facts and limits come from `shared/reference/phone-directories.md`; each vendor module documents the
//! ones it enforces. The renderers share these rules:
//!
//! - every renderer takes the whole list it is given (the caller caps and sorts it) and returns the document's
//!   bytes; they never fail, and drop what cannot be written validly rather than emit a broken document;
//! - names are cleaned ([`clean`]): control characters dropped, whitespace runs made one space, NFC; so a
//!   hostile name can change what a line shows but never the document's structure;
//! - numbers are written as [`dial_string`] renders them for the workspace's [`DialSettings`]: only
//!   `0-9 * # ,`; a contact without a dialable number is left out.

mod charset;
pub mod cisco;
mod dial;
mod grandstream;
mod poly;
mod snom;
mod xml;
mod yealink;

#[cfg(test)]
mod tests;

use crate::PhoneEntry;
use unicode_normalization::UnicodeNormalization;

pub use charset::Charset;
pub use dial::{DialSettings, DomesticDialing, dial_string};
pub use grandstream::grandstream;
pub use poly::poly;
pub use snom::snom;
pub use yealink::yealink;

/// A contact as the directories need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryContact {
    pub id: uuid::Uuid,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// shown when there is no given/family name (company, nickname, email…)
    pub display_name: String,
    pub phones: Vec<PhoneEntry>,
}

impl DirectoryContact {
    /// "Given Family", else the display name; cleaned.
    pub fn name(&self) -> String {
        let (first, last) = self.first_last();
        match (first.is_empty(), last.is_empty()) {
            (false, false) => format!("{first} {last}"),
            (true, _) => last,
            (false, true) => first,
        }
    }

    /// Cleaned (first, last) name; the display name stands in as the first name when both are empty, for
    /// phones that need at least one of them.
    fn first_last(&self) -> (String, String) {
        let part = |p: &Option<String>| p.as_deref().map(clean).unwrap_or_default();
        let (first, last) = (part(&self.given_name), part(&self.family_name));
        if first.is_empty() && last.is_empty() { (clean(&self.display_name), last) } else { (first, last) }
    }

    /// [`first_last`](Self::first_last), with `number` as the first name when there is no name at all.
    fn first_last_or(&self, number: &str) -> (String, String) {
        let (first, last) = self.first_last();
        if first.is_empty() && last.is_empty() { (number.to_owned(), last) } else { (first, last) }
    }

    /// [`name`](Self::name), or `number` when there is no name at all.
    fn name_or(&self, number: &str) -> String {
        let name = self.name();
        if name.is_empty() { number.to_owned() } else { name }
    }

    /// The contact's numbers that have a dial string, in order, with it.
    fn dialable(&self, dial: &DialSettings) -> Vec<(&PhoneEntry, String)> {
        self.phones.iter().filter_map(|p| dial_string(p, dial).map(|d| (p, d))).collect()
    }
}

/// `text` fit for any document: NFC, control characters dropped (whitespace ones become spaces), runs of
/// whitespace made one space, trimmed. Also drops U+FFFE/U+FFFF, the only non-control characters a Rust
/// string can hold that XML 1.0 forbids.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfc() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}') {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Short labels telling a contact's numbers apart by type ("m", "w", "h"), numbered when a type repeats
/// ("m", "m2"). Short, because phone lines are narrow and the label must survive cutting the name.
fn type_suffixes<'a>(kinds: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    kinds
        .into_iter()
        .map(|kind| {
            let label = match kind {
                "mobile" => "m",
                "work" => "w",
                "home" => "h",
                "main" => "main",
                "fax" => "fax",
                _ => "other",
            };
            seen.push(label);
            match seen.iter().filter(|l| **l == label).count() {
                1 => label.to_owned(),
                n => format!("{label}{n}"),
            }
        })
        .collect()
}

/// How a field's limit counts: characters (XML Schema's `maxLength`) or UTF-8 bytes (Poly's `fn`/`ln`).
#[derive(Debug, Clone, Copy)]
enum Measure {
    Chars,
    Bytes,
}

impl Measure {
    fn of_char(self, c: char) -> usize {
        match self {
            Measure::Chars => 1,
            Measure::Bytes => c.len_utf8(),
        }
    }

    fn of(self, text: &str) -> usize {
        text.chars().map(|c| self.of_char(c)).sum()
    }

    /// The longest prefix of `text` (cut at a character boundary, trailing spaces dropped) within `max`.
    fn cut(self, text: &str, max: usize) -> &str {
        let mut used = 0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            used += self.of_char(c);
            if used > max {
                break;
            }
            end = i + c.len_utf8();
        }
        text[..end].trim_end()
    }

    /// `name (suffix)` within `max`: the name is cut, the suffix kept whole. No suffix: just the cut name.
    fn with_suffix(self, name: &str, suffix: &str, max: usize) -> String {
        if suffix.is_empty() {
            return self.cut(name, max).to_owned();
        }
        let tail = format!(" ({suffix})");
        let cut = self.cut(name, max.saturating_sub(self.of(&tail)));
        if cut.is_empty() {
            // Only when the suffix alone nearly fills the field (or there is no name): what fits of the suffix.
            return self.cut(tail.trim_start(), max).to_owned();
        }
        format!("{cut}{tail}")
    }
}
