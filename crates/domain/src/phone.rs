//! Phone numbers (ARCHITECTURE §6): parsed with the `phonenumber` crate against the workspace's default region
//! and kept three ways (as typed, E.164 with the extension apart, digits only) so lookup can match any of them.

use crate::FieldError;
use phonenumber::country::Id;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Longest accepted input, in characters: generous for `+CC number ext. NNNN` or a `sip:` URI, small enough
/// that nobody stores an essay in a phone field.
const MAX_CHARS: usize = 64;

/// Words the `phonenumber` crate reads as an extension marker. Any other letter is refused: the crate would
/// turn it into a digit (vanity numbers: `O` → 6), so a letter O typed for a zero would silently become a
/// different, valid-looking number.
const EXTENSION_WORDS: [&str; 4] = ["x", "ext", "extn", "extension"];

const ALLOWED: &str = "may contain only digits, '+', spaces, '-', '.', '(', ')', '/' and an extension like 'ext. 12'";

/// An ISO 3166-1 alpha-2 region the phone-number metadata knows ("US", "GB", "DE"): the country assumed for
/// numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(Id);

impl Region {
    /// Parses `raw` (any case, stored upper-case) for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        // `Id` also names regions without numbering metadata; parsing against those could never succeed.
        (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
            .then(|| Id::from_str(&code).ok())
            .flatten()
            .filter(|id| phonenumber::metadata::DATABASE.by_id(id.as_ref()).is_some())
            .map(Self)
            .ok_or_else(|| FieldError::new(field, "must be a two-letter region code like US, GB or DE"))
    }

    /// The upper-case code, e.g. `"US"`.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The trunk prefix dialled before a national number (`1` in North America, `0` in most countries),
    /// if the region has one.
    pub fn trunk_prefix(&self) -> Option<&'static str> {
        phonenumber::metadata::DATABASE
            .by_id(self.as_str())
            .and_then(|m| m.national_prefix())
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }
}

impl Default for Region {
    fn default() -> Self {
        Self(Id::US)
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("region", s)
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("region", &raw)
            .map_err(|e| serde::de::Error::custom(format_args!("invalid region {raw:?}: {}", e.message)))
    }
}

/// How a workspace reads phone numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonePolicy {
    /// Region assumed for numbers written without a country code.
    pub region: Region,
    /// Lengths of all-digit strings that are internal extensions rather than public numbers. Keep the upper
    /// bound below the shortest public number in use, or such numbers are stored as extensions.
    pub extension_digits: RangeInclusive<u8>,
}

impl Default for PhonePolicy {
    fn default() -> Self {
        Self { region: Region::default(), extension_digits: 2..=6 }
    }
}

/// A phone number as typed and in the forms lookup matches on. Values from [`ParsedPhone::parse`] are
/// consistent; the fields are public so stores can rebuild one from its columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ParsedPhone {
    /// The input, trimmed, as typed.
    pub raw: String,
    /// E.164 form (`+14155550100`), without any extension; `None` for an internal extension.
    pub e164: Option<String>,
    /// The extension written after a public number (`ext. 12` → `12`), digits only.
    pub extension: Option<String>,
    /// The E.164 digits without `+`, or an internal extension's digits.
    pub digits: String,
    /// The digits of the number's national format, with the trunk prefix where its country dials one
    /// (`02079460958`, `4155550100`): what a phone in that country dials. `None` for an internal extension.
    pub national: Option<String>,
}

/// Loads the numbering metadata and compiles the default region's patterns now. The `phonenumber` crate does
/// both on first use, about 90 ms of regex parsing on this project's benchmark machine: without this, the
/// first write after a start pays it, and every request queued behind that write waits too.
pub fn warm_up() {
    let policy = PhonePolicy::default();
    for sample in ["+1 212-555-0100", "(212) 555-0100 ext. 12", "+44 20 7946 0958"] {
        let _ = ParsedPhone::parse("warm_up", sample, &policy);
    }
}

impl ParsedPhone {
    /// Parses `raw` for the request field `field`: a short all-digit string is an internal extension, anything
    /// else must be a valid public number in `policy.region` or carry a country code. Accepts visual
    /// separators, `011`/`00`-style international prefixes as the region dials them, and `tel:`/`sip:` URIs.
    pub fn parse(field: &str, raw: &str, policy: &PhonePolicy) -> Result<Self, FieldError> {
        Self::parse_with(field, raw, policy, true)
    }

    /// [`ParsedPhone::parse`] without the national form (`national` is `None`): what a caller lookup needs.
    /// Formatting runs the numbering metadata's patterns, a good part of a parse, and only stored numbers
    /// are dialled from their national form.
    pub fn parse_for_matching(field: &str, raw: &str, policy: &PhonePolicy) -> Result<Self, FieldError> {
        Self::parse_with(field, raw, policy, false)
    }

    fn parse_with(field: &str, raw: &str, policy: &PhonePolicy, with_national: bool) -> Result<Self, FieldError> {
        let err = |message: &str| FieldError::new(field, message);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(err("must not be empty"));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(err(&format!("must be at most {MAX_CHARS} characters")));
        }
        // Pasted numbers often carry typographic dashes and no-break spaces; anything else non-ASCII is refused
        // before it reaches the crate, which would map letters and foreign digits to digits.
        let text: String = trimmed.chars().map(plain_separator).collect();
        if !text.is_ascii() || text.chars().any(|c| c.is_ascii_control()) {
            return Err(err(ALLOWED));
        }

        // `written` is the number without URI parameters; a URI's user part goes to the crate as a tel URI, whose
        // `;` parameters (ext, phone-context) it reads itself.
        let (written, input) = match uri_user_part(&text) {
            Some(user) => (user.split(';').next().unwrap_or_default(), format!("tel:{user}")),
            None => (text.as_str(), text.clone()),
        };
        let has_stray_letter = written
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| !word.is_empty() && !EXTENSION_WORDS.contains(&word.to_ascii_lowercase().as_str()));
        if has_stray_letter {
            return Err(err("must be written with digits, not letters (an extension may follow 'ext.')"));
        }

        let digits: String = written.chars().filter(char::is_ascii_digit).collect();
        let is_extension = !digits.is_empty()
            && written.chars().all(|c| c.is_ascii_digit() || is_separator(c))
            && u8::try_from(digits.len()).is_ok_and(|n| policy.extension_digits.contains(&n));
        if is_extension {
            return Ok(Self { raw: trimmed.to_owned(), e164: None, extension: None, digits, national: None });
        }

        // Parsing alone accepts any digit string of a plausible length; validity against the region's
        // numbering metadata (known area codes, exchanges and lengths) is what catches a typo or a missing
        // country code, so a number that merely parses is still refused.
        // A number in international form is parsed without the home region: given one, phonenumber 0.3.10
        // strips the home region's trunk prefix from it (with US, `+49 151 23456789` and `011 49 151 23456789`
        // became `+49 5123456789`). So a leading international prefix of the home region (`011`, `00`) is
        // turned into `+` here first.
        let (region, input) = match international_form(&input, policy.region.0) {
            Some(plus) => (None, plus),
            None if written.trim_start().starts_with('+') => (None, input),
            None => (Some(policy.region.0), input),
        };
        let international = region.is_none();
        let Some(number) = phonenumber::parse(region, &input)
            .ok()
            .filter(phonenumber::is_valid)
            .filter(|n| !international || keeps_typed_digits(n, &input))
        else {
            return Err(if written.trim_start().starts_with('+') {
                err("is not a valid phone number (check the country code and the number of digits)")
            } else {
                err(&format!(
                    "is not a valid phone number for region {} (use +country code for other countries)",
                    policy.region
                ))
            });
        };
        // What the crate's E.164 formatter writes, without its `fmt::Error` path for unknown country codes.
        let digits = format!("{}{}", number.code().value(), number.national());
        Ok(Self {
            raw: trimmed.to_owned(),
            e164: Some(format!("+{digits}")),
            // A dangling "ext" with no digits is no extension.
            extension: number.extension().map(ToString::to_string).filter(|e| !e.is_empty()),
            digits,
            // Formatting runs the metadata's patterns (microseconds): done once here, not on every
            // directory page that dials the number.
            national: if with_national { national_form(&number) } else { None },
        })
    }

    /// Whether this is an internal extension rather than a public number.
    pub fn is_internal(&self) -> bool {
        self.e164.is_none()
    }
}

/// The digits of the number's national format ("020 7946 0958" → "02079460958"), which carries the trunk
/// prefix exactly where the country uses one. `None` if the metadata cannot format it.
pub(crate) fn national_form(number: &phonenumber::PhoneNumber) -> Option<String> {
    use std::fmt::Write as _;
    let mut text = String::new();
    // The formatter reports unknown country codes as `fmt::Error`, so it is written, not `to_string`ed.
    write!(text, "{}", number.format().mode(phonenumber::Mode::National)).ok()?;
    let mut digits: String = text.chars().filter(char::is_ascii_digit).collect();
    // The format ends with the extension (" ext. 12"), which is kept apart.
    if let Some(extension) = number.extension().map(|e| e.to_string()).filter(|e| !e.is_empty()) {
        digits.truncate(digits.strip_suffix(extension.as_str()).map_or(digits.len(), str::len));
    }
    (!digits.is_empty()).then_some(digits)
}

/// Whether a number written in international form was read with the digits typed after its country code:
/// its national number, optionally after that country's trunk prefix (`+44 (0)20 …`), then the extension.
/// A guard: given a home region, phonenumber 0.3.10 strips that region's trunk prefix from foreign numbers
/// (`+49 170 …` became `+49 70 …` with US); a number read with other digits than typed would dial a
/// stranger, so it is refused rather than stored.
fn keeps_typed_digits(number: &phonenumber::PhoneNumber, input: &str) -> bool {
    let typed: String = input.chars().filter(char::is_ascii_digit).collect();
    let Some(mut rest) = typed.strip_prefix(&number.code().value().to_string()) else { return false };
    if let Some(ext) = number.extension().map(|e| e.to_string()) {
        rest = rest.strip_suffix(ext.as_str()).unwrap_or(rest);
    }
    let national = number.national().to_string();
    let trunk = phonenumber::metadata::DATABASE
        .by_code(&number.code().value())
        .and_then(|m| m.first().and_then(|m| m.national_prefix().map(str::to_owned)));
    rest == national || trunk.is_some_and(|t| rest.strip_prefix(t.as_str()) == Some(national.as_str()))
}

/// `text` with a leading international (IDD) prefix of `region` (`011` in the US, `00` in most countries,
/// from the numbering metadata) replaced by `+`, when at least 7 digits follow; `None` otherwise.
fn international_form(text: &str, region: Id) -> Option<String> {
    let meta = phonenumber::metadata::DATABASE.by_id(region.as_ref())?;
    let digits_only = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let prefixes: Vec<&str> = [meta.preferred_international_prefix(), meta.international_prefix().map(|r| r.as_str())]
        .into_iter()
        .flatten()
        .filter(digits_only)
        .collect();
    let mut seen = String::new();
    let mut best = None;
    for (i, c) in text.char_indices() {
        if c.is_ascii_digit() {
            seen.push(c);
            if prefixes.contains(&seen.as_str()) {
                best = Some(i + 1);
            }
            if seen.len() >= 6 {
                break;
            }
        } else if !is_separator(c) {
            break;
        }
    }
    let rest = &text[best?..];
    (rest.bytes().filter(u8::is_ascii_digit).count() >= 7).then(|| format!("+{}", rest.trim_start()))
}

/// Spaces, dashes, dots, parentheses and slashes people write between digits.
pub(crate) fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')' | '/')
}

/// Maps Unicode dashes and spaces to their ASCII forms.
pub(crate) fn plain_separator(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => '-',
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        c => c,
    }
}

/// The user part of a `tel:` or `sip:`/`sips:` URI (before `@`), or `None` for plain text.
pub(crate) fn uri_user_part(text: &str) -> Option<&str> {
    let (scheme, rest) = text.split_once(':')?;
    match scheme.to_ascii_lowercase().as_str() {
        "tel" => Some(rest),
        "sip" | "sips" => Some(rest.split_once('@').map_or(rest, |(user, _host)| user)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us(raw: &str) -> Result<ParsedPhone, FieldError> {
        ParsedPhone::parse("phone", raw, &PhonePolicy::default())
    }

    fn in_region(region: &str, raw: &str) -> Result<ParsedPhone, FieldError> {
        let policy = PhonePolicy { region: Region::parse("region", region).unwrap(), ..PhonePolicy::default() };
        ParsedPhone::parse("phone", raw, &policy)
    }

    fn e164(result: Result<ParsedPhone, FieldError>) -> String {
        let phone = result.unwrap();
        assert_eq!(phone.digits, phone.e164.as_deref().unwrap()[1..], "{phone:?}");
        phone.e164.unwrap()
    }

    /// phonenumber 0.3.10 applies the home region's trunk prefix to `+` numbers when given a region: these
    /// were stored as different numbers (or refused) from a US workspace.
    #[test]
    fn the_national_form_is_kept_with_its_trunk_prefix_and_without_the_extension() {
        for (raw, national) in [
            ("+44 20 7946 0958", "02079460958"),
            ("+1 415 555 0100 ext. 12", "4155550100"),
            ("+49 30 901820", "030901820"),
            ("+39 02 1234 5678", "0212345678"),
        ] {
            let phone = ParsedPhone::parse("phone", raw, &PhonePolicy::default()).unwrap();
            assert_eq!(phone.national.as_deref(), Some(national), "{raw}");
        }
        assert_eq!(ParsedPhone::parse("phone", "204", &PhonePolicy::default()).unwrap().national, None);
    }

    #[test]
    fn international_numbers_keep_every_digit_typed() {
        let de = PhonePolicy { region: Region::parse("region", "DE").unwrap(), ..PhonePolicy::default() };
        for raw in ["+49 170 74090451", "0049 170 74090451"] {
            let phone = ParsedPhone::parse("phone", raw, &de).unwrap();
            assert_eq!(phone.e164.as_deref(), Some("+4917074090451"), "{raw}");
        }
        for (raw, e164) in [
            ("+49 170 7409045", "+491707409045"),
            ("+49 (0)170 7409045", "+491707409045"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+39 02 1234 5678", "+390212345678"),
            ("+1 415 555 0100 ext. 12", "+14155550100"),
        ] {
            let phone = ParsedPhone::parse("phone", raw, &PhonePolicy::default()).unwrap();
            assert_eq!(phone.e164.as_deref(), Some(e164), "{raw}");
        }
    }

    #[test]
    fn foreign_numbers_keep_their_digits_whatever_the_home_region() {
        for (raw, want) in [
            ("+49 151 23456789", "+4915123456789"),
            ("tel:+49-151-23456789", "+4915123456789"),
            ("+33 1 42 68 53 00", "+33142685300"),
            ("+61 2 9876 5432", "+61298765432"),
            ("+44 20 7946 0958", "+442079460958"),
        ] {
            for region in ["US", "GB", "DE", "FR", "AU", "IN"] {
                assert_eq!(e164(in_region(region, raw)), want, "{raw} from {region}");
            }
        }
        assert_eq!(e164(us("011 49 151 23456789")), "+4915123456789");
        assert_eq!(e164(in_region("GB", "0049 151 23456789")), "+4915123456789");
    }

    #[test]
    fn region_is_checked_and_upper_cased() {
        assert_eq!(Region::parse("region", " gb ").unwrap().as_str(), "GB");
        assert_eq!(Region::parse("region", "de").unwrap().to_string(), "DE");
        assert_eq!(Region::default().as_str(), "US");
        assert_eq!("fr".parse::<Region>().unwrap().as_str(), "FR");
        for bad in ["", "U", "USA", "ZZ", "U1", "ü", "u s"] {
            assert_eq!(Region::parse("region", bad).unwrap_err().field, "region", "{bad:?}");
        }
    }

    #[test]
    fn region_serde_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de = |s: &'static str| Region::deserialize::<StrDeserializer<'_, Error>>(s.into_deserializer());
        assert_eq!(de("gb").unwrap().as_str(), "GB");
        assert!(de("XX").unwrap_err().to_string().contains("invalid region"));
    }

    #[test]
    fn us_formats_agree() {
        for raw in [
            "415-555-0100",
            "(415) 555-0100",
            "+1 415 555 0100",
            "+14155550100",
            "1-415-555-0100",
            "415.555.0100",
            "415/555/0100",
            "4155550100",
            "011 1 415 555 0100",
            "+1\u{00A0}415\u{2011}555\u{2011}0100",
            "tel:+1-415-555-0100",
            "TEL:+14155550100",
            "sip:+14155550100@pbx.example.com;user=phone",
        ] {
            let phone = us(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(phone.e164.as_deref(), Some("+14155550100"), "{raw:?}");
            assert_eq!(phone.digits, "14155550100");
            assert_eq!(phone.extension, None);
            assert_eq!(phone.raw, raw);
            assert!(!phone.is_internal());
        }
        assert_eq!(us("  202-555-0143 ").unwrap().raw, "202-555-0143");
    }

    #[test]
    fn extensions_are_kept_apart() {
        for raw in
            ["+1 415 555 0100 ext. 12", "415 555 0100 x12", "(415) 555-0100 extension 12", "tel:+1-415-555-0100;ext=12"]
        {
            let phone = us(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(phone.e164.as_deref(), Some("+14155550100"), "{raw:?}");
            assert_eq!(phone.extension.as_deref(), Some("12"), "{raw:?}");
            assert_eq!(phone.digits, "14155550100");
        }
        assert_eq!(us("415 555 0100 ext").unwrap().extension, None);
    }

    #[test]
    fn international_numbers_follow_the_region() {
        assert_eq!(e164(us("011 44 20 7946 0958")), "+442079460958");
        assert_eq!(e164(us("+44 20 7946 0958")), "+442079460958");
        assert_eq!(e164(us("+49 30 901820")), "+4930901820");
        assert_eq!(e164(in_region("GB", "020 7946 0958")), "+442079460958");
        assert_eq!(e164(in_region("GB", "00 1 415 555 0100")), "+14155550100");
        assert_eq!(e164(in_region("DE", "030 901820")), "+4930901820");
        assert_eq!(e164(in_region("DE", "0049 30 901820")), "+4930901820");
        // The US international prefix is 011; "00" is not one there.
        assert!(us("00 44 20 7946 0958").is_err());
    }

    #[test]
    fn short_digit_strings_are_internal_extensions() {
        for (raw, digits) in [("12", "12"), ("1234", "1234"), (" 12-34 ", "1234"), ("123456", "123456")] {
            let phone = us(raw).unwrap();
            assert!(phone.is_internal(), "{raw:?}");
            assert_eq!(phone.raw, raw.trim());
            assert_eq!(phone.digits, digits);
            assert_eq!(phone.extension, None);
        }
        let phone = us("sip:1234@pbx.example.com").unwrap();
        assert_eq!((phone.is_internal(), phone.digits.as_str()), (true, "1234"));

        let policy = PhonePolicy { extension_digits: 3..=4, ..PhonePolicy::default() };
        assert!(ParsedPhone::parse("phone", "12", &policy).is_err());
        assert!(ParsedPhone::parse("phone", "123", &policy).unwrap().is_internal());
        // One digit is neither an extension nor a number by default; seven is too short for a public one.
        assert!(us("1").is_err());
        assert!(us("1234567").is_err());
    }

    #[test]
    fn errors_name_the_field_and_say_why() {
        let message = |raw: &str| {
            let error = us(raw).unwrap_err();
            assert_eq!(error.field, "phone", "{raw:?}");
            error.message
        };
        assert_eq!(message(""), "must not be empty");
        assert_eq!(message("   "), "must not be empty");
        assert_eq!(message(&"1".repeat(65)), "must be at most 64 characters");
        assert_eq!(message(&format!("+1 {}", "415 555 0100 ".repeat(5))), "must be at most 64 characters");
        // Surrounding whitespace is trimmed before the length counts.
        assert!(us(&format!("  +1 415 555 0100{}", " ".repeat(60))).is_ok());
        let region_hint = "is not a valid phone number for region US (use +country code for other countries)";
        for raw in [
            "555-0100",
            "415-555-010",
            "415-155-0100",
            "555-555-0100",
            "020 7946 0958",
            "12345678901234567890",
            "!!!",
            "--",
        ] {
            assert_eq!(message(raw), region_hint, "{raw:?}");
        }
        assert!(message("+999 123 4567").starts_with("is not a valid phone number (check the country code"));
        for raw in
            ["hello", "415 555 CALL", "1-800-FLOWERS", "415-555-O1OO", "sip:alice@example.com", "Phone: 4155550100"]
        {
            assert!(message(raw).contains("not letters"), "{raw:?}");
        }
        for raw in ["\u{FF14}\u{FF11}\u{FF15}5550100", "415\u{0}5550100", "☎ 415 555 0100"] {
            assert_eq!(message(raw), ALLOWED, "{raw:?}");
        }
    }

    /// Area codes whose every `NXX-XXXX` with `NXX` in 200–999 is valid in the crate's metadata.
    const AREA_CODES: [u16; 12] = [201, 202, 212, 213, 305, 312, 415, 617, 650, 718, 720, 917];

    /// A valid US number as (area code, exchange, line).
    fn us_number() -> impl Strategy<Value = (u16, u16, u16)> {
        (proptest::sample::select(&AREA_CODES[..]), 200..=999u16, 0..=9999u16)
    }

    /// Checks what every successful parse promises.
    fn assert_invariants(phone: &ParsedPhone, raw: &str, policy: &PhonePolicy) {
        assert_eq!(phone.raw, raw.trim());
        assert!(!phone.digits.is_empty() && phone.digits.bytes().all(|b| b.is_ascii_digit()), "{phone:?}");
        match &phone.e164 {
            Some(e164) => {
                assert_eq!(e164.strip_prefix('+'), Some(phone.digits.as_str()));
                assert!(phone.digits.len() <= 15, "{phone:?}");
                if let Some(extension) = &phone.extension {
                    assert!(!extension.is_empty() && extension.bytes().all(|b| b.is_ascii_digit()), "{phone:?}");
                }
            }
            None => {
                assert_eq!(phone.extension, None);
                assert!(policy.extension_digits.contains(&u8::try_from(phone.digits.len()).unwrap()));
            }
        }
    }

    proptest! {
        #[test]
        fn us_numbers_parse_the_same_in_every_format(
            (npa, nxx, line) in us_number(),
            spaces in proptest::collection::vec(any::<bool>(), 10),
        ) {
            let expected = format!("+1{npa}{nxx}{line:04}");
            let spaced: String = format!("{npa}{nxx}{line:04}")
                .chars()
                .zip(&spaces)
                .flat_map(|(digit, &space)| [Some(digit), space.then_some(' ')])
                .flatten()
                .collect();
            for raw in [
                expected.clone(),
                format!("({npa}) {nxx}-{line:04}"),
                format!("{npa}.{nxx}.{line:04}"),
                format!("1-{npa}-{nxx}-{line:04}"),
                format!("+1 {spaced}"),
                spaced,
                format!("tel:+1-{npa}-{nxx}-{line:04}"),
            ] {
                let phone = us(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
                prop_assert_eq!(phone.e164.as_deref(), Some(expected.as_str()), "{:?}", raw);
                prop_assert_eq!(&phone.digits, &expected[1..]);
                prop_assert_eq!(phone.extension, None);
            }
        }

        #[test]
        fn parsing_the_e164_form_again_is_stable(
            (npa, nxx, line) in us_number(),
            ext in proptest::option::of(1..=99999u32),
        ) {
            let raw = match ext {
                Some(ext) => format!("({npa}) {nxx}-{line:04} ext. {ext}"),
                None => format!("({npa}) {nxx}-{line:04}"),
            };
            let first = us(&raw).unwrap();
            assert_invariants(&first, &raw, &PhonePolicy::default());
            prop_assert_eq!(first.extension.clone(), ext.map(|e| e.to_string()));
            let e164 = first.e164.clone().unwrap();
            // An E.164 string carries its country, so the region no longer matters.
            for again in [us(&e164).unwrap(), in_region("GB", &e164).unwrap(), in_region("DE", &e164).unwrap()] {
                prop_assert_eq!(&again.e164, &first.e164);
                prop_assert_eq!(&again.digits, &first.digits);
                prop_assert_eq!(&again.digits, &e164[1..]);
            }
        }

        #[test]
        fn any_input_gives_a_checked_value_or_a_field_error(
            raw in prop_oneof![
                any::<String>(),
                "[0-9+() ./#x;:=@a-z\u{00A0}\u{2013}-]{0,30}",
                "(tel:|sip:|00|011|\\+)?[0-9 -]{0,18}",
            ],
            region in proptest::sample::select(&["US", "GB", "DE", "FR", "JP", "IN"][..]),
        ) {
            let policy = PhonePolicy { region: Region::parse("region", region).unwrap(), ..PhonePolicy::default() };
            let parsed = ParsedPhone::parse("mobile", &raw, &policy);
            match &parsed {
                Ok(phone) => assert_invariants(phone, &raw, &policy),
                Err(error) => prop_assert_eq!(&error.field, "mobile"),
            }
            // Lookup's parse accepts and refuses the same inputs, with the same forms but the national one.
            let without_national = parsed.map(|phone| ParsedPhone { national: None, ..phone });
            prop_assert_eq!(ParsedPhone::parse_for_matching("mobile", &raw, &policy), without_national);
        }

        #[test]
        fn short_digit_strings_stay_as_typed(
            (low, high) in (1..=4u8).prop_flat_map(|low| (Just(low), low..=8u8)),
            seed in proptest::collection::vec((0..=9u8, proptest::sample::select(&["", "", "", " ", "-", "."][..])), 8),
            take in 0..=8usize,
            pad in "[ \t]{0,2}",
        ) {
            let policy = PhonePolicy { region: Region::default(), extension_digits: low..=high };
            let count = usize::from(low) + take % (usize::from(high - low) + 1);
            let typed: String = seed[..count].iter().map(|(digit, sep)| format!("{digit}{sep}")).collect();
            let typed = typed.trim_end_matches([' ', '-', '.']).to_owned();
            let raw = format!("{pad}{typed}{pad}");
            let phone = ParsedPhone::parse("ext", &raw, &policy).unwrap();
            prop_assert!(phone.is_internal());
            prop_assert_eq!(&phone.raw, &typed);
            prop_assert_eq!(phone.digits, typed.chars().filter(char::is_ascii_digit).collect::<String>());
            prop_assert_eq!(phone.extension, None);
        }
    }
}
