//! Caller lookup (ARCHITECTURE §6): which stored numbers an incoming number matches, and how well.
//!
//! A [`LookupKey`] is what to query, built from any input (`+1 (415) 555-0100`, `0044…`, `tel:`/`sip:` URIs,
//! a bare extension, a local `555-0100`) with the workspace's [`PhonePolicy`]. [`LookupKey::score`] and
//! [`rank`] decide, without I/O, which candidates match: exact E.164 first, then the national significant
//! number, then the trailing digits (at least the workspace's minimum, never fewer); extensions exactly.

use crate::phone::{ParsedPhone, PhonePolicy, is_separator, plain_separator, uri_user_part};
use crate::{FieldError, PhoneEntry};
use serde::Serialize;
use std::ops::RangeInclusive;

/// The allowed values of the workspace setting `lookup_min_digits`: the fewest trailing digits a partial
/// match may share. Never below 7, the width of the suffix the candidate query looks up in the index of
/// reversed digits (`contact_phones.digits_rev`); never above 15, the longest E.164 number.
pub const MIN_DIGITS: RangeInclusive<u8> = 7..=15;

/// The default of `lookup_min_digits`: a local number without its area code (`555-0100`).
pub const DEFAULT_MIN_DIGITS: u8 = 7;

/// Width of the suffix the candidate query looks up (a prefix range of `contact_phones.digits_rev`).
pub const TAIL_DIGITS: usize = 7;

/// Words that introduce an extension after a number, as [`ParsedPhone::parse`] reads them.
const EXTENSION_WORDS: [&str; 4] = ["x", "ext", "extn", "extension"];

/// Most digits a number can have (E.164).
const MAX_DIGITS: usize = 15;

/// What to look an incoming number up by. Built only by [`LookupKey::parse`], so its parts are consistent:
/// either `internal` is set and nothing else is, or at least one of `e164` and `trailing` is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct LookupKey {
    /// The number in E.164 form, for the exact match (`+14155550100`).
    pub e164: Option<String>,
    /// The national significant number (`4155550100`), for a number stored under another country code or
    /// typed without one. Only when it has at least `min_digits` digits.
    pub national: Option<String>,
    /// The digits a stored number must end with for a trailing match (at least `min_digits` of them).
    pub trailing: Option<String>,
    /// A bare internal extension (`204`): matches a stored internal extension with the same digits only.
    pub internal: Option<String>,
    /// The extension written after the number (`ext. 12` → `12`).
    pub extension: Option<String>,
    /// The fewest digits a national or trailing match may share (the workspace's `lookup_min_digits`).
    pub min_digits: u8,
}

/// How a stored number matched, best last (so `Ord` ranks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The stored number ends with the input's digits (at least the minimum).
    Trailing,
    /// Same national significant number, under another (or no) country code.
    National,
    /// Same E.164 number.
    Exact,
    /// The same internal extension.
    Internal,
}

/// How the extensions compare, best last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionMatch {
    /// One side has an extension and the other has none: the same line, maybe not the same desk.
    NumberOnly,
    /// The same extension, or neither has one.
    Exact,
}

/// How well one stored number matches a key. `Ord`: a greater value is a better match (kind, then digits
/// shared, then extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
pub struct Match {
    /// What matched.
    #[serde(rename = "match")]
    pub kind: MatchKind,
    /// How many digits the numbers share: the whole number for exact and internal matches, the national
    /// number or the trailing digits otherwise.
    #[serde(rename = "matched_digits")]
    pub digits: u8,
    /// How the extensions compare.
    #[serde(rename = "extension_match")]
    pub extension: ExtensionMatch,
}

/// A stored number in the forms lookup compares (the columns of `contact_phones`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNumber<'a> {
    /// E.164 form; `None` for an internal extension.
    pub e164: Option<&'a str>,
    /// The extension after a public number.
    pub extension: Option<&'a str>,
    /// E.164 digits without `+`, or the internal extension's digits.
    pub digits: &'a str,
}

impl<'a> From<&'a PhoneEntry> for StoredNumber<'a> {
    fn from(p: &'a PhoneEntry) -> Self {
        Self { e164: p.e164.as_deref(), extension: p.extension.as_deref(), digits: &p.digits }
    }
}

impl LookupKey {
    /// Builds the key for the request field `field` from any written form of a number. Whatever
    /// [`ParsedPhone::parse`] accepts is used as parsed; a number it refuses but that is plainly digits (a
    /// local `555-0100`, an international prefix the region does not use, a number of another country
    /// written without `+`) falls back to its digits when it has at least `min_digits` of them. Anything
    /// else is the parser's field error. `min_digits` is clamped to [`MIN_DIGITS`].
    pub fn parse(field: &str, raw: &str, policy: &PhonePolicy, min_digits: u8) -> Result<Self, FieldError> {
        let min = min_digits.clamp(*MIN_DIGITS.start(), *MIN_DIGITS.end());
        match ParsedPhone::parse_for_matching(field, raw, policy) {
            Ok(phone) => Ok(Self::from_parsed(&phone, min)),
            // The fallback's own error only when it says more than the parser's (too few digits).
            Err(error) => match Written::read(raw).map(|w| Self::from_written(field, w, policy, min)) {
                Some(Ok(key)) => Ok(key),
                Some(Err(Some(too_short))) => Err(too_short),
                Some(Err(None)) | None => Err(error),
            },
        }
    }

    fn from_parsed(phone: &ParsedPhone, min: u8) -> Self {
        if phone.is_internal() {
            return Self {
                e164: None,
                national: None,
                trailing: None,
                internal: Some(phone.digits.clone()),
                extension: None,
                min_digits: min,
            };
        }
        let national = national_number(&phone.digits).unwrap_or(&phone.digits);
        let long_enough = (national.len() >= usize::from(min)).then(|| national.to_owned());
        Self {
            e164: phone.e164.clone(),
            national: long_enough.clone(),
            trailing: long_enough,
            internal: None,
            extension: phone.extension.clone(),
            min_digits: min,
        }
    }

    /// The key of a plain digit string; `Err(None)` when it has more digits than any number.
    fn from_written(field: &str, written: Written, policy: &PhonePolicy, min: u8) -> Result<Self, Option<FieldError>> {
        let Written { international, mut digits, extension } = written;
        if !international {
            // A trunk prefix (`0` in most countries, `1` in North America) is no part of the stored number.
            if let Some(rest) = policy.region.trunk_prefix().and_then(|p| digits.strip_prefix(p)) {
                digits = rest.to_owned();
            }
            // So does the `0` most other countries dial before a national number (a UK `020 …` typed in a US
            // workspace); stored numbers have their country code in front, so the rest still ends them.
            digits = digits.trim_start_matches('0').to_owned();
        }
        if digits.len() < usize::from(min) {
            let (lo, hi) = (policy.extension_digits.start(), policy.extension_digits.end());
            return Err(Some(FieldError::new(
                field,
                format!(
                    "must be a phone number of at least {min} digits, or an internal extension of {lo} to {hi} digits"
                ),
            )));
        }
        if digits.len() > MAX_DIGITS {
            return Err(None);
        }
        let national = if international { national_number(&digits) } else { Some(digits.as_str()) }
            .filter(|n| n.len() >= usize::from(min))
            .map(str::to_owned);
        Ok(Self {
            e164: international.then(|| format!("+{digits}")),
            trailing: Some(national.clone().unwrap_or_else(|| digits.clone())),
            national,
            internal: None,
            extension,
            min_digits: min,
        })
    }

    /// Whether the key is a bare internal extension.
    pub fn is_internal(&self) -> bool {
        self.internal.is_some()
    }

    /// The last [`TAIL_DIGITS`] digits every national or trailing match ends with: the suffix to look up in
    /// the index of reversed digits. `None` when only an exact (or internal) match is possible.
    pub fn tail7(&self) -> Option<&str> {
        let digits = self.trailing.as_deref().or(self.national.as_deref())?;
        digits.len().checked_sub(TAIL_DIGITS).map(|start| &digits[start..])
    }

    /// How `stored` matches this key, or `None`. A public number never matches an internal extension (nor
    /// the other way round); two different extensions never match; a national or trailing match shares at
    /// least `min_digits` digits.
    pub fn score(&self, stored: StoredNumber<'_>) -> Option<Match> {
        if let Some(internal) = &self.internal {
            return (stored.e164.is_none() && stored.digits == internal).then(|| Match {
                kind: MatchKind::Internal,
                digits: digit_count(internal),
                extension: ExtensionMatch::Exact,
            });
        }
        let stored_e164 = stored.e164?;
        let extension = match (self.extension.as_deref(), stored.extension) {
            (a, b) if a == b => ExtensionMatch::Exact,
            (Some(_), Some(_)) => return None,
            _ => ExtensionMatch::NumberOnly,
        };
        let min = usize::from(self.min_digits);
        let (kind, digits) = if self.e164.as_deref() == Some(stored_e164) {
            (MatchKind::Exact, stored.digits)
        } else if let Some(national) = self.national.as_deref().filter(|n| n.len() >= min)
            && national_number(stored.digits) == Some(national)
        {
            (MatchKind::National, national)
        } else if let Some(trailing) = self.trailing.as_deref().filter(|t| t.len() >= min)
            && stored.digits.ends_with(trailing)
        {
            (MatchKind::Trailing, trailing)
        } else {
            return None;
        };
        Some(Match { kind, digits: digit_count(digits), extension })
    }

    /// The best-matching number among `phones` with its position; the first one wins a tie.
    pub fn best_of(&self, phones: &[PhoneEntry]) -> Option<(usize, Match)> {
        phones
            .iter()
            .enumerate()
            .filter_map(|(i, p)| self.score(p.into()).map(|m| (i, m)))
            // `max_by` keeps the last of equals; reversing the order makes the first position win.
            .max_by(|(i, a), (j, b)| a.cmp(b).then(j.cmp(i)))
    }
}

/// An item (a contact) that matched, with the position of its best-matching number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked<T> {
    /// The item.
    pub item: T,
    /// Position of the matched number in the item's phone list.
    pub phone: usize,
    /// How well it matched.
    pub quality: Match,
}

/// The items with a number matching `key`, best first. An item ranks by its best number; equal matches are
/// ordered by `tie` (e.g. the contact id, ascending), so the answer does not depend on the input order.
pub fn rank<T, K: Ord>(
    key: &LookupKey,
    items: impl IntoIterator<Item = T>,
    phones: impl Fn(&T) -> &[PhoneEntry],
    tie: impl Fn(&T) -> K,
) -> Vec<Ranked<T>> {
    let mut ranked: Vec<Ranked<T>> = items
        .into_iter()
        .filter_map(|item| {
            let (phone, quality) = key.best_of(phones(&item))?;
            Some(Ranked { item, phone, quality })
        })
        .collect();
    ranked.sort_by(|a, b| b.quality.cmp(&a.quality).then_with(|| tie(&a.item).cmp(&tie(&b.item))));
    ranked
}

/// The national significant number of E.164 digits (the digits after the country code), or `None` when
/// they start with no known country code. Country codes are prefix-free, so the first hit is the code.
pub fn national_number(digits: &str) -> Option<&str> {
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (1..=3).filter(|&n| digits.len() > n).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        phonenumber::metadata::DATABASE.region(&code).map(|_| &digits[n..])
    })
}

fn digit_count(digits: &str) -> u8 {
    u8::try_from(digits.len()).unwrap_or(u8::MAX)
}

/// A number that is plainly digits: what the fallback reads when the parser refused the input.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    /// Written with `+`, `00` or `011` before the country code.
    international: bool,
    /// The digits after any international prefix.
    digits: String,
    /// The extension, digits only.
    extension: Option<String>,
}

impl Written {
    /// Reads `raw` as `[tel:|sip:][+]digits-and-separators[ ext N][;ext=N][@host]`; `None` for anything
    /// else (letters, symbols, no digits), whose parser error is the better answer.
    fn read(raw: &str) -> Option<Self> {
        let text: String = raw.trim().chars().map(plain_separator).collect();
        if !text.is_ascii() || text.len() > 64 {
            return None;
        }
        let (number, params) = match uri_user_part(&text) {
            Some(user) => user.split_once(';').unwrap_or((user, "")),
            None => (text.as_str(), ""),
        };
        let mut extension = None;
        for param in params.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if name.eq_ignore_ascii_case("ext") {
                extension = Some(value.trim());
            }
        }
        let (head, tail) = number.split_at(number.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(number.len()));
        if !tail.is_empty() {
            let word_end = tail.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(tail.len());
            if !EXTENSION_WORDS.contains(&tail[..word_end].to_ascii_lowercase().as_str()) {
                return None;
            }
            extension = Some(tail[word_end..].trim_start_matches(['.', ':', ' ', '\t']).trim_end());
        }
        let extension = match extension {
            Some(e) if e.bytes().all(|b| b.is_ascii_digit()) => (!e.is_empty()).then(|| e.to_owned()),
            Some(_) => return None,
            None => None,
        };
        // `+44 (0)20 …`: the trunk prefix some countries write in brackets after the country code.
        let head = head.replace("(0)", "");
        let head = head.trim();
        let (plus, body) = match head.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, head),
        };
        if !body.chars().all(|c| c.is_ascii_digit() || is_separator(c)) {
            return None;
        }
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        let (international, digits) = if plus {
            (true, digits)
        } else if let Some(rest) = digits.strip_prefix("011").or_else(|| digits.strip_prefix("00")) {
            (true, rest.to_owned())
        } else {
            (false, digits)
        };
        Some(Self { international, digits, extension })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Region;
    use proptest::prelude::*;

    fn policy(region: &str) -> PhonePolicy {
        PhonePolicy { region: Region::parse("region", region).unwrap(), ..PhonePolicy::default() }
    }

    fn key_in(region: &str, raw: &str) -> LookupKey {
        LookupKey::parse("phone", raw, &policy(region), DEFAULT_MIN_DIGITS)
            .unwrap_or_else(|e| panic!("{raw:?} in {region}: {e}"))
    }

    fn key(raw: &str) -> LookupKey {
        key_in("US", raw)
    }

    fn error(raw: &str) -> FieldError {
        LookupKey::parse("phone", raw, &PhonePolicy::default(), DEFAULT_MIN_DIGITS).unwrap_err()
    }

    /// A stored number as the contacts API stores it (parsed in `region`).
    fn stored(region: &str, raw: &str) -> PhoneEntry {
        let p = ParsedPhone::parse("phone", raw, &policy(region)).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        PhoneEntry::new(p, "work")
    }

    fn score(key: &LookupKey, phone: &PhoneEntry) -> Option<Match> {
        key.score(phone.into())
    }

    fn kind(key: &LookupKey, phone: &PhoneEntry) -> Option<MatchKind> {
        score(key, phone).map(|m| m.kind)
    }

    #[test]
    fn parsed_numbers_give_e164_and_national_number() {
        let k = key("+1 (415) 555-0100");
        assert_eq!(k.e164.as_deref(), Some("+14155550100"));
        assert_eq!(k.national.as_deref(), Some("4155550100"));
        assert_eq!(k.trailing.as_deref(), Some("4155550100"));
        assert_eq!(k.tail7(), Some("5550100"));
        assert_eq!((k.internal, k.extension, k.min_digits), (None, None, 7));
        assert!(!key("415 555 0100").is_internal());

        let uk = key("+44 20 7946 0958");
        assert_eq!(uk.e164.as_deref(), Some("+442079460958"));
        assert_eq!(uk.national.as_deref(), Some("2079460958"));
        let de = key_in("DE", "030 901820");
        assert_eq!((de.e164.as_deref(), de.national.as_deref()), (Some("+4930901820"), Some("30901820")));
        let fr = key_in("FR", "01 23 45 67 89");
        assert_eq!((fr.e164.as_deref(), fr.national.as_deref()), (Some("+33123456789"), Some("123456789")));
        let india = key_in("IN", "098765 43210");
        assert_eq!(india.e164.as_deref(), Some("+919876543210"));
        assert_eq!(india.national.as_deref(), Some("9876543210"));
    }

    #[test]
    fn every_written_form_gives_the_same_key() {
        let expected = key("+14155550100");
        for raw in [
            "415-555-0100",
            "(415) 555-0100",
            "+1 415 555 0100",
            "1-415-555-0100",
            "415.555.0100",
            "4155550100",
            "011 1 415 555 0100",
            "00 1 415 555 0100",
            "001-415-555-0100",
            "+1\u{00A0}415\u{2011}555\u{2011}0100",
            "tel:+1-415-555-0100",
            "TEL:+14155550100",
            "sip:+14155550100@pbx.example.com;user=phone",
            "sips:+14155550100@pbx.example.com",
        ] {
            assert_eq!(key(raw), expected, "{raw:?}");
        }
        // The same number from another region's workspace.
        for (region, raw) in [("GB", "00 1 415 555 0100"), ("GB", "011 1 415 555 0100"), ("DE", "+1 415 555 0100")] {
            assert_eq!(key_in(region, raw), expected, "{raw:?} in {region}");
        }
        let uk = key("+44 20 7946 0958");
        for raw in ["011 44 20 7946 0958", "00 44 20 7946 0958", "0044 20 7946 0958 x", "tel:+44-20-7946-0958"] {
            let k = key(raw);
            assert_eq!(
                (k.e164, k.national, k.trailing),
                (uk.e164.clone(), uk.national.clone(), uk.trailing.clone()),
                "{raw:?}"
            );
        }
        assert_eq!(key_in("GB", "020 7946 0958"), uk);
        for region in ["US", "GB", "DE"] {
            assert_eq!(key_in(region, "+44 (0)20 7946 0958"), uk, "{region}");
        }
    }

    #[test]
    fn extensions_are_read_from_every_form() {
        for raw in [
            "+1 415 555 0100 ext. 12",
            "415 555 0100 x12",
            "(415) 555-0100 extension 12",
            "tel:+1-415-555-0100;ext=12",
            "sip:+14155550100;ext=12@pbx.example.com",
        ] {
            let k = key(raw);
            assert_eq!((k.e164.as_deref(), k.extension.as_deref()), (Some("+14155550100"), Some("12")), "{raw:?}");
        }
        // Local numbers keep theirs too.
        for raw in ["555-0100 ext 12", "555-0100 x12", "tel:555-0100;ext=12", "5550100 ext: 12"] {
            let k = key(raw);
            assert_eq!((k.trailing.as_deref(), k.extension.as_deref()), (Some("5550100"), Some("12")), "{raw:?}");
        }
        assert_eq!(key("555-0100 ext").extension, None);
    }

    #[test]
    fn local_numbers_fall_back_to_their_digits() {
        for raw in ["555-0100", "555 0100", "555.0100", "5550100", "1-555-0100", "tel:555-0100", "sip:5550100@pbx"] {
            let k = key(raw);
            assert_eq!(k.e164, None, "{raw:?}");
            assert_eq!(k.national.as_deref(), Some("5550100"), "{raw:?}");
            assert_eq!(k.trailing.as_deref(), Some("5550100"), "{raw:?}");
            assert_eq!(k.tail7(), Some("5550100"));
        }
        // A foreign number without its `+` in a US workspace: its digits, matched from the end.
        let k = key("44 20 7946 0958");
        assert_eq!((k.e164, k.trailing.as_deref()), (None, Some("442079460958")));
        // The trunk prefix goes: a UK number written nationally in a US workspace.
        let k = key("020 7946 0958");
        assert_eq!((k.national.as_deref(), k.trailing.as_deref()), (Some("2079460958"), Some("2079460958")));
        // A German local number without its area code.
        assert_eq!(key_in("DE", "901 8200").trailing.as_deref(), Some("9018200"));
    }

    #[test]
    fn short_digit_strings_are_internal_extensions() {
        let k = key("204");
        assert_eq!(k.internal.as_deref(), Some("204"));
        assert!(k.is_internal());
        assert_eq!(k.tail7(), None);
        assert_eq!((k.e164, k.national, k.trailing), (None, None, None));
        assert_eq!(key("sip:204@pbx.example.com").internal.as_deref(), Some("204"));
        assert_eq!(key(" 20-4 ").internal.as_deref(), Some("204"));
    }

    #[test]
    fn bad_input_is_a_field_error() {
        for raw in ["", "   "] {
            assert_eq!(error(raw).message, "must not be empty");
        }
        for raw in ["1", "1234567", "12-34-567", "+1 555 01", "0044 20 79"] {
            let e = error(raw);
            assert_eq!(e.field, "phone");
            assert_eq!(
                e.message, "must be a phone number of at least 7 digits, or an internal extension of 2 to 6 digits",
                "{raw:?}"
            );
        }
        for raw in
            ["hello", "415 555 CALL", "1-800-FLOWERS", "sip:alice@example.com", "555-0100 ext 12a", "555-0100 y 12"]
        {
            assert!(error(raw).message.contains("not letters"), "{raw:?}: {}", error(raw));
        }
        for raw in ["!!!", "--", "+", "555#0100", "12345678901234567890", "☎ 555 0100"] {
            let e = error(raw);
            assert_eq!(e.field, "phone");
            assert!(!e.message.is_empty(), "{raw:?}");
        }
        // More digits than any number has: the parser's answer.
        for raw in ["12345678901234567890", "00 1234 5678 9012 3456"] {
            assert!(error(raw).message.contains("not a valid phone number"), "{raw:?}: {}", error(raw));
        }
    }

    #[test]
    fn the_minimum_is_clamped_and_respected() {
        let us = PhonePolicy::default();
        assert_eq!(LookupKey::parse("phone", "555-0100", &us, 3).unwrap().min_digits, 7);
        assert_eq!(LookupKey::parse("phone", "+14155550100", &us, 99).unwrap().min_digits, 15);
        // With 10 digits required, a local number is too short and a full one keeps only its exact match
        // and its 10-digit national number.
        let e = LookupKey::parse("phone", "555-0100", &us, 10).unwrap_err();
        assert!(e.message.contains("at least 10 digits"), "{e}");
        let k = LookupKey::parse("phone", "+14155550100", &us, 11).unwrap();
        assert_eq!(k.tail7(), None);
        assert_eq!((k.e164.as_deref(), &k.national, &k.trailing), (Some("+14155550100"), &None, &None));
        assert_eq!(kind(&k, &stored("US", "+14155550100")), Some(MatchKind::Exact));
        assert_eq!(kind(&k, &stored("US", "+52 415 555 0100")), None);
    }

    #[test]
    fn exact_beats_national_beats_trailing() {
        let exact = stored("US", "+1 415 555 0100");
        let mexico = stored("US", "+52 415 555 0100");
        let other_area = stored("US", "+1 212 555 0100");
        let k = key("(415) 555-0100");
        assert_eq!(kind(&k, &exact), Some(MatchKind::Exact));
        assert_eq!(kind(&k, &mexico), Some(MatchKind::National));
        // Same last seven digits, different area code: not the same number.
        assert_eq!(kind(&k, &other_area), None);
        assert!(score(&k, &exact) > score(&k, &mexico));

        let local = key("555-0100");
        assert_eq!(kind(&local, &exact), Some(MatchKind::Trailing));
        assert_eq!(kind(&local, &other_area), Some(MatchKind::Trailing));
        assert_eq!(score(&local, &exact).unwrap().digits, 7);

        // A UK number whose region was guessed wrong: the national number still finds it.
        let uk = stored("US", "+44 20 7946 0958");
        for raw in ["020 7946 0958", "2079460958", "+44 20 7946 0958"] {
            let m = score(&key(raw), &uk).unwrap_or_else(|| panic!("{raw:?}"));
            assert!(m.kind >= MatchKind::National, "{raw:?}: {m:?}");
        }
        assert_eq!(kind(&key("44 20 7946 0958"), &uk), Some(MatchKind::Trailing));
        assert_eq!(score(&key("44 20 7946 0958"), &uk).unwrap().digits, 12);
        // A number longer than the stored one is no match (the stored one is not "contained").
        assert_eq!(kind(&key("+1 415 555 0100"), &stored("US", "+1 212 415 5550")), None);
    }

    #[test]
    fn extensions_match_exactly() {
        let main = stored("US", "+1 415 555 0100");
        let ext12 = stored("US", "+1 415 555 0100 ext 12");
        let ext13 = stored("US", "+1 415 555 0100 ext 13");
        let desk = stored("US", "204");

        let k = key("+1 415 555 0100 ext 12");
        assert_eq!(score(&k, &ext12).unwrap().extension, ExtensionMatch::Exact);
        assert_eq!(score(&k, &main).unwrap().extension, ExtensionMatch::NumberOnly);
        assert_eq!(score(&k, &ext13), None);
        assert!(score(&k, &ext12) > score(&k, &main));
        assert_eq!(k.best_of(&[main.clone(), ext13.clone(), ext12.clone()]).map(|(i, _)| i), Some(2));

        // Without an extension the main line wins; a desk behind it still matches, lower.
        let plain = key("+1 415 555 0100");
        assert!(score(&plain, &main) > score(&plain, &ext12));
        assert_eq!(score(&plain, &ext12).unwrap().extension, ExtensionMatch::NumberOnly);

        // A bare extension matches the same internal extension only.
        let internal = key("204");
        assert_eq!(kind(&internal, &desk), Some(MatchKind::Internal));
        assert_eq!(score(&internal, &desk).unwrap().digits, 3);
        assert_eq!(kind(&internal, &stored("US", "+1 415 555 0204")), None);
        assert_eq!(kind(&internal, &stored("US", "+1 415 555 0100 ext 204")), None);
        assert_eq!(kind(&internal, &stored("US", "2040")), None);
        // And a public number never matches an internal extension.
        for raw in ["555-0204", "+1 415 555 0204"] {
            assert_eq!(kind(&key(raw), &desk), None);
        }
    }

    #[test]
    fn national_number_strips_the_country_code() {
        assert_eq!(national_number("14155550100"), Some("4155550100"));
        assert_eq!(national_number("442079460958"), Some("2079460958"));
        assert_eq!(national_number("4930901820"), Some("30901820"));
        assert_eq!(national_number("919876543210"), Some("9876543210"));
        assert_eq!(national_number("3906123456"), Some("06123456"));
        assert_eq!(national_number("0123"), None);
        assert_eq!(national_number("1"), None);
        assert_eq!(national_number("99912345"), None);
        assert_eq!(national_number("12a"), None);
    }

    #[test]
    fn ranking_orders_by_quality_then_tie_key() {
        let contacts = vec![
            (5, vec![stored("US", "+1 212 555 0100")]),
            (3, vec![stored("US", "+52 415 555 0100")]),
            (9, vec![stored("US", "204"), stored("US", "+1 415 555 0100 ext 7")]),
            (1, vec![stored("US", "+1 415 555 0100")]),
            (2, vec![stored("US", "+1 415 555 0100")]),
            (4, vec![stored("US", "+44 20 7946 0958")]),
        ];
        let k = key("415 555 0100");
        let ranked = rank(&k, contacts.clone(), |c| &c.1, |c| c.0);
        let order: Vec<(i32, usize, MatchKind)> = ranked.iter().map(|r| (r.item.0, r.phone, r.quality.kind)).collect();
        assert_eq!(
            order,
            [(1, 0, MatchKind::Exact), (2, 0, MatchKind::Exact), (9, 1, MatchKind::Exact), (3, 0, MatchKind::National)]
        );
        // Reversed input, same answer.
        let reversed = rank(&k, contacts.into_iter().rev(), |c| &c.1, |c| c.0);
        assert_eq!(reversed.iter().map(|r| r.item.0).collect::<Vec<_>>(), [1, 2, 9, 3]);
        // No candidates, or none matching: nothing.
        assert!(rank(&k, Vec::<(i32, Vec<PhoneEntry>)>::new(), |c| &c.1, |c| c.0).is_empty());
        assert!(rank(&key("999-0000"), vec![(1, vec![stored("US", "+1 415 555 0100")])], |c| &c.1, |c| c.0).is_empty());
    }

    /// Area codes whose every `NXX-XXXX` with `NXX` in 200–999 is valid in the crate's metadata.
    const AREA_CODES: [u16; 12] = [201, 202, 212, 213, 305, 312, 415, 617, 650, 718, 720, 917];

    /// Inserts a separator from `seps` after each digit where `spaces` says so.
    fn spaced(digits: &str, spaces: &[u8], seps: &[char]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            out.push(c);
            let s = usize::from(spaces.get(i).copied().unwrap_or(0));
            if s > 0 && i + 1 < digits.len() {
                out.push(seps[(s - 1) % seps.len()]);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_formatting_of_a_us_number_gives_one_key(
            npa in proptest::sample::select(&AREA_CODES[..]),
            nxx in 200..=999u16,
            line in 0..=9999u16,
            ext in proptest::option::of(1..=99999u32),
            spaces in proptest::collection::vec(0..=4u8, 10),
        ) {
            let national = format!("{npa}{nxx}{line:04}");
            let suffix = ext.map(|e| format!(" ext. {e}")).unwrap_or_default();
            let expected = key(&format!("+1{national}{suffix}"));
            let loose = spaced(&national, &spaces, &[' ', '-', '.', '\u{00A0}']);
            for raw in [
                format!("({npa}) {nxx}-{line:04}{suffix}"),
                format!("{npa}.{nxx}.{line:04}{suffix}"),
                format!("1-{npa}-{nxx}-{line:04}{suffix}"),
                format!("+1 {loose}{suffix}"),
                format!("{loose}{suffix}"),
                format!("011 1 {loose}{suffix}"),
                format!("00 1 {loose}{suffix}"),
                format!("tel:+1-{npa}-{nxx}-{line:04}{}", ext.map(|e| format!(";ext={e}")).unwrap_or_default()),
                format!("sip:+1{national}{}@pbx.example.com;user=phone", ext.map(|e| format!(";ext={e}")).unwrap_or_default()),
            ] {
                let k = LookupKey::parse("phone", &raw, &PhonePolicy::default(), DEFAULT_MIN_DIGITS)
                    .map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
                prop_assert_eq!(&k, &expected, "{:?}", raw);
            }
            // Written locally (no area code), every form gives the same trailing key.
            let local = key(&format!("{nxx}-{line:04}"));
            for raw in [format!("{nxx}{line:04}"), format!("{nxx} {line:04}"), format!("{nxx}.{line:04}"), format!("tel:{nxx}-{line:04}")] {
                prop_assert_eq!(&key(&raw), &local, "{:?}", raw);
            }
            prop_assert_eq!(local.trailing.as_deref(), Some(&national[3..]));
        }

        #[test]
        fn any_formatting_of_a_foreign_number_gives_one_key(
            // Including national numbers that start like a trunk prefix (`1`, `0`): phonenumber 0.3.10 stripped
            // the home region's one after an explicit country code until `ParsedPhone::parse` worked around it.
            (number, region) in proptest::sample::select(&[
                ("442079460958", "GB"), ("447911123456", "GB"), ("4930901820", "DE"), ("4915123456789", "DE"),
                ("33123456789", "FR"), ("33612345678", "FR"), ("919876543210", "IN"), ("911123456789", "IN"),
            ][..]),
            spaces in proptest::collection::vec(0..=3u8, 15),
            workspace in proptest::sample::select(&["US", "GB", "DE", "FR", "IN"][..]),
        ) {
            let expected = key_in(region, &format!("+{number}"));
            let loose = spaced(number, &spaces, &[' ', '-', '.']);
            let mut forms = vec![format!("+{loose}"), format!("tel:+{number}"), format!("sip:+{number}@pbx.example.com;user=phone")];
            // The international prefix the workspace's region dials, and "00"/"011" from anywhere.
            forms.push(format!("00 {loose}"));
            forms.push(format!("011 {loose}"));
            for raw in forms {
                let k = key_in(workspace, &raw);
                prop_assert_eq!(&k, &expected, "{:?} in {}", raw, workspace);
            }
        }

        #[test]
        fn never_a_match_on_fewer_than_the_minimum(
            input in prop_oneof![
                "(tel:|sip:|00|011|\\+)?[0-9 ().-]{1,20}( ext [0-9]{1,3})?",
                "[0-9]{1,16}",
                any::<String>(),
            ],
            stored_digits in proptest::collection::vec("[1-9][0-9]{1,14}", 1..6),
            ext in proptest::option::of("[0-9]{1,3}"),
            min in 0..=20u8,
            region in proptest::sample::select(&["US", "GB", "DE", "FR", "IN"][..]),
        ) {
            let policy = policy(region);
            let Ok(k) = LookupKey::parse("phone", &input, &policy, min) else { return Ok(()) };
            let min = usize::from(k.min_digits);
            prop_assert!(MIN_DIGITS.contains(&k.min_digits));
            for part in [&k.national, &k.trailing].into_iter().flatten() {
                prop_assert!(part.len() >= min && part.len() <= MAX_DIGITS, "{:?}", k);
                prop_assert!(part.bytes().all(|b| b.is_ascii_digit()));
            }
            prop_assert!(k.is_internal() || k.e164.is_some() || k.trailing.is_some(), "{:?}", k);
            if let Some(tail) = k.tail7() {
                prop_assert_eq!(tail.len(), TAIL_DIGITS);
            }
            for digits in &stored_digits {
                for e164 in [Some(format!("+{digits}")), None] {
                    let phone = StoredNumber { e164: e164.as_deref(), extension: ext.as_deref(), digits };
                    let Some(m) = k.score(phone) else { continue };
                    match m.kind {
                        MatchKind::Internal => {
                            prop_assert!(e164.is_none());
                            prop_assert_eq!(k.internal.as_deref(), Some(digits.as_str()));
                        }
                        MatchKind::Exact => prop_assert_eq!(k.e164.as_deref(), e164.as_deref()),
                        MatchKind::National | MatchKind::Trailing => {
                            prop_assert!(usize::from(m.digits) >= min, "{:?} {:?}", k, m);
                            prop_assert!(digits.len() >= min);
                            // Whatever matched is the end of the stored number, and the indexed tail finds it.
                            prop_assert!(digits.ends_with(k.tail7().unwrap()), "{:?} {}", k, digits);
                        }
                    }
                    if m.kind != MatchKind::Internal {
                        prop_assert!(e164.is_some(), "a public key matched an internal extension");
                        if let (Some(a), Some(b)) = (k.extension.as_deref(), ext.as_deref()) {
                            prop_assert_eq!(a, b);
                        }
                    }
                }
            }
        }
    }
}
