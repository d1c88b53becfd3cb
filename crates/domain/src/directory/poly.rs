//! Poly (Polycom) directory file, UTF-8:
//!
//! ```xml
//! <directory><item_list><item><ln>Doe</ln><fn>John</fn><ct>1001</ct></item></item_list></directory>
//! ```
//!
//! - `fn`, `ln`: "UTF-8 encoded string of up to 40 bytes": cut at a character boundary to 40 bytes;
//! - `ct`: the number the phone dials, also used to match incoming callers: it "cannot be null or
//!   duplicated", so each item has one number and a number already in the document is left out (the first
//!   one wins);
//! - one item per number; when a contact has several, the type suffix (`Lee (m)`) goes on `ln` (on `fn`
//!   when there is no last name) and survives the cut; a contact without names gets its display name as
//!   `fn`; an empty `fn`/`ln` is left out.
//!
//! The optional elements (speed dial `sd`, ring type `rt`, …) are not written.

use super::xml::Xml;
use super::{Charset, DialSettings, DirectoryContact, Measure, type_suffixes};
use std::collections::HashSet;

/// Longest `fn` / `ln`, in UTF-8 bytes.
const MAX_NAME_BYTES: usize = 40;

/// The directory file.
pub fn poly(contacts: &[DirectoryContact], dial: &DialSettings) -> Vec<u8> {
    let mut seen = HashSet::new();
    let mut xml = Xml::new("UTF-8");
    xml.open("directory", &[]);
    xml.open("item_list", &[]);
    for contact in contacts {
        let numbers = contact.dialable(dial);
        let Some((_, first_number)) = numbers.first() else { continue };
        let (first, last) = contact.first_last_or(first_number);
        let suffixes = if numbers.len() > 1 {
            type_suffixes(numbers.iter().map(|(phone, _)| phone.kind.as_str()))
        } else {
            vec![String::new(); numbers.len()]
        };
        for ((_, number), suffix) in numbers.iter().zip(&suffixes) {
            if !seen.insert(number.clone()) {
                continue;
            }
            let (first, last) = if last.is_empty() {
                (Measure::Bytes.with_suffix(&first, suffix, MAX_NAME_BYTES), String::new())
            } else {
                (
                    Measure::Bytes.cut(&first, MAX_NAME_BYTES).to_owned(),
                    Measure::Bytes.with_suffix(&last, suffix, MAX_NAME_BYTES),
                )
            };
            xml.open("item", &[]);
            if !last.is_empty() {
                xml.leaf("ln", &last);
            }
            if !first.is_empty() {
                xml.leaf("fn", &first);
            }
            xml.leaf("ct", number);
            xml.close();
        }
    }
    xml.finish(Charset::Utf8)
}
