//! What a desk phone dials for a stored number: numbers are stored in E.164, but phones behind a PBX dial
//! them the way the workspace's lines expect (an outside-line prefix, the country's international prefix,
//! domestic numbers in national form).

use crate::{FieldError, PhoneEntry, Region};

/// How numbers in the home country are dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomesticDialing {
    /// The national form, with the country's trunk prefix where it has one: UK `02079460958`,
    /// DE `030901820`, US `4155550100` (10-digit dialling).
    National,
    /// This prefix, then the national significant number: `"1"` → US `14155550100`.
    NationalWithPrefix(String),
    /// Like any other country: international prefix and country code (for PBXes that want every number so).
    International,
}

/// A workspace's dialling rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialSettings {
    /// The home country: numbers with its country code are domestic.
    pub region: Region,
    /// Dialled before every public number to get an outside line, e.g. `"9"` (may end with `,` to wait for
    /// the dial tone); internal extensions are dialled without it. Default: none.
    pub outside_line: String,
    /// Dialled before the country code of a foreign number: `"011"` in NANP countries, `"00"` in most others.
    pub international_prefix: String,
    /// How domestic numbers are dialled.
    pub domestic: DomesticDialing,
}

/// Longest prefix accepted by [`DialSettings::validate`]: enough for an access code and a carrier code.
const MAX_PREFIX: usize = 10;

impl DialSettings {
    /// The defaults for `region`: no outside-line prefix, the region's international prefix from the
    /// numbering metadata ("011" for NANP countries, "00" for most others, "010" in Japan, …), domestic
    /// numbers in national form.
    pub fn for_region(region: Region) -> Self {
        let meta = phonenumber::metadata::DATABASE.by_id(region.as_str());
        // The metadata gives a pattern where a country has several prefixes, and a preferred one with `~`
        // ("wait for a tone") for some; only the digits of a single prefix are usable here.
        let international_prefix = meta
            .and_then(|m| {
                m.preferred_international_prefix()
                    .map(str::to_owned)
                    .or_else(|| m.international_prefix().map(|r| r.as_str().to_owned()))
            })
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'~'))
            .map(|p| p.replace('~', ""))
            .unwrap_or_else(|| {
                if meta.is_some_and(|m| m.country_code() == 1) { "011".to_owned() } else { "00".to_owned() }
            });
        Self { region, outside_line: String::new(), international_prefix, domestic: DomesticDialing::National }
    }

    /// Checks the prefixes (for settings typed by an admin): only `0-9 * # ,`, at most 10 characters, and an
    /// international prefix is required.
    pub fn validate(&self) -> Result<(), FieldError> {
        let check = |field: &str, value: &str, required: bool| {
            if required && value.is_empty() {
                Err(FieldError::new(field, "is required"))
            } else if value.chars().count() > MAX_PREFIX {
                Err(FieldError::new(field, format!("must be at most {MAX_PREFIX} characters")))
            } else if !value.chars().all(is_dialable) {
                Err(FieldError::new(field, "may contain only digits, '*', '#' and ',' (a pause)"))
            } else {
                Ok(())
            }
        };
        check("outside_line", &self.outside_line, false)?;
        check("international_prefix", &self.international_prefix, true)?;
        if let DomesticDialing::NationalWithPrefix(prefix) = &self.domestic {
            check("domestic_prefix", prefix, false)?;
        }
        Ok(())
    }

    /// What digits typed into a directory's number search can be the start of, as stored numbers (E.164
    /// digits without `+`, or an internal extension's digits): the digits as typed (an international
    /// number, or an extension), and either what follows the international prefix when they start with it
    /// or else the digits read as a national number of the home country (trunk prefix dropped, country code added). None is a prefix of another,
    /// so their ranges are disjoint. Number search also matches numbers that end with the typed digits.
    pub fn search_prefixes(&self, typed: &str) -> Vec<String> {
        let mut prefixes = vec![typed.to_owned()];
        if let Some(rest) = typed.strip_prefix(self.international_prefix.as_str()).filter(|r| !r.is_empty()) {
            prefixes.push(rest.to_owned());
        } else if let Some(code) = self.home_code() {
            let national = self.region.trunk_prefix().and_then(|t| typed.strip_prefix(t)).unwrap_or(typed);
            prefixes.push(format!("{code}{national}"));
        }
        prefixes.sort();
        prefixes.dedup();
        let all = prefixes.clone();
        prefixes.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q.as_str())));
        prefixes
    }

    /// The home country's calling code, `None` for a region without numbering metadata.
    fn home_code(&self) -> Option<u16> {
        phonenumber::metadata::DATABASE.by_id(self.region.as_str()).map(|m| m.country_code())
    }
}

impl Default for DialSettings {
    fn default() -> Self {
        Self::for_region(Region::default())
    }
}

/// What a phone dials for `phone` under `settings`, or `None` if nothing is dialable. Contains only
/// `0-9 * # ,`:
///
/// - an internal extension: its digits, as they are;
/// - a public number: the outside-line prefix, then the number — domestic ones (same country code as the
///   home region, so Canada is domestic from the US) as [`DomesticDialing`] says, others as international
///   prefix + country code + number;
/// - an extension after a public number: `,` (a pause) and the extension, e.g. `914155550100,12`.
pub fn dial_string(phone: &PhoneEntry, settings: &DialSettings) -> Option<String> {
    let Some(e164) = &phone.e164 else {
        let digits = dialable(&phone.digits);
        return (!digits.is_empty()).then_some(digits);
    };
    let international_digits = dialable(e164.trim_start_matches('+'));
    if international_digits.is_empty() {
        return None;
    }
    // Country codes are prefix-free, so the digits tell a domestic number without parsing it; the
    // national form was kept when the number was stored (read from the metadata for older rows).
    let home = settings.home_code().map(|code| code.to_string());
    let significant = home.as_deref().and_then(|code| international_digits.strip_prefix(code));
    let national = match (significant, &settings.domestic) {
        (Some(_), DomesticDialing::National) => phone
            .national
            .as_deref()
            .map(dialable)
            .or_else(|| phonenumber::parse(None, e164).ok().and_then(|n| crate::phone::national_form(&n))),
        (Some(significant), DomesticDialing::NationalWithPrefix(prefix)) => {
            Some(format!("{}{significant}", dialable(prefix)))
        }
        _ => None,
    };
    let mut out = dialable(&settings.outside_line);
    match national {
        Some(national) => out.push_str(&national),
        None => {
            out.push_str(&dialable(&settings.international_prefix));
            out.push_str(&international_digits);
        }
    }
    let extension = phone.extension.as_deref().map(dialable).unwrap_or_default();
    if !extension.is_empty() {
        out.push(',');
        out.push_str(&extension);
    }
    Some(out)
}

/// What a phone can dial: digits, `*`, `#` and `,` (a pause).
pub(super) fn is_dialable(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | ',')
}

/// `text` with everything a phone cannot dial removed.
fn dialable(text: &str) -> String {
    text.chars().filter(|c| is_dialable(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(region: &str) -> DialSettings {
        DialSettings::for_region(Region::parse("region", region).unwrap())
    }

    #[test]
    fn search_prefixes_read_typed_digits_nationally_and_internationally() {
        let us = settings("US");
        assert_eq!(us.search_prefixes("4155"), ["14155", "4155"]);
        assert_eq!(us.search_prefixes("14155"), ["14155"], "the trunk prefix 1 is the country code");
        assert_eq!(us.search_prefixes("01144207"), ["01144207", "44207"]);
        assert_eq!(us.search_prefixes("1"), ["1"], "'11…' is inside '1…'");
        let gb = settings("GB");
        assert_eq!(gb.search_prefixes("0207"), ["0207", "44207"]);
        assert_eq!(gb.search_prefixes("0049"), ["0049", "49"]);
        assert_eq!(gb.search_prefixes("20"), ["20", "4420"]);
    }
}
