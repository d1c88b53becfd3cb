//! Yealink remote phonebook (`YealinkIPPhoneBook`, the Menu/Unit format), UTF-8:
//!
//! ```xml
//! <YealinkIPPhoneBook><Title>…</Title><Menu Name="…"><Unit Name="…" Phone1="…" Phone2="…" Phone3="…"/></Menu></YealinkIPPhoneBook>
//! ```
//!
//! A Unit holds at most 3 numbers (`Phone1`–`Phone3`); a contact with more gets further Units with the same
//! name. Yealink documents no length limits for this format (its 10 KB XML-browser object limit is not known
//! to apply to phonebook downloads), so names are not cut. The whole book is one Menu named like the title.

use super::xml::Xml;
use super::{DialSettings, DirectoryContact, clean};

/// Numbers per Unit.
const PHONES_PER_UNIT: usize = 3;

/// The phonebook titled `title`.
pub fn yealink(title: &str, contacts: &[DirectoryContact], dial: &DialSettings) -> Vec<u8> {
    let title = clean(title);
    let mut xml = Xml::new("UTF-8");
    xml.open("YealinkIPPhoneBook", &[]);
    xml.leaf("Title", &title);
    xml.open("Menu", &[("Name", &title)]);
    for contact in contacts {
        let numbers: Vec<String> = contact.dialable(dial).into_iter().map(|(_, number)| number).collect();
        let name = contact.name_or(numbers.first().map_or("", String::as_str));
        for unit in numbers.chunks(PHONES_PER_UNIT) {
            let mut attrs = vec![("Name", name.as_str())];
            attrs.extend(["Phone1", "Phone2", "Phone3"].into_iter().zip(unit.iter().map(String::as_str)));
            xml.empty("Unit", &attrs);
        }
    }
    xml.finish(super::Charset::Utf8)
}
