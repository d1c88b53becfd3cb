//! Snom remote XML directory (firmware ≥ 10.1.178.0), UTF-8:
//!
//! ```xml
//! <tbook e="2" version="2.0"><contact fav="false" vip="false" blocked="false"><first_name/><last_name/>
//!   <numbers><number no="…" type="mobile" outgoing_id="0"/></numbers></contact></tbook>
//! ```
//!
//! - `e="2"`: character values may exceed 255; `version="2.0"`: this contact format;
//! - a contact with neither first nor last name gets its display name as `first_name`;
//! - number `type`: Snom's examples document `mobile` and `home` for this format and `sip` as the legacy
//!   `number_type`; those are the only values used: `mobile` → `mobile`, `home` → `home`, everything else
//!   (work, main, fax, other, internal extensions) → `sip`;
//! - the phone copies the file into its local directory, with that directory's limits (model-dependent);
//!   no field lengths are documented.

use super::xml::Xml;
use super::{Charset, DialSettings, DirectoryContact};

/// The remote directory.
pub fn snom(contacts: &[DirectoryContact], dial: &DialSettings) -> Vec<u8> {
    let mut xml = Xml::new("UTF-8");
    xml.open("tbook", &[("e", "2"), ("version", "2.0")]);
    for contact in contacts {
        let numbers = contact.dialable(dial);
        let Some((_, first_number)) = numbers.first() else { continue };
        let (first, last) = contact.first_last_or(first_number);
        xml.open("contact", &[("fav", "false"), ("vip", "false"), ("blocked", "false")]);
        xml.leaf("first_name", &first);
        xml.leaf("last_name", &last);
        xml.open("numbers", &[]);
        for (phone, number) in &numbers {
            xml.empty("number", &[("no", number), ("type", number_type(&phone.kind)), ("outgoing_id", "0")]);
        }
        xml.close();
        xml.close();
    }
    xml.finish(Charset::Utf8)
}

/// Snom's name for a number type (see the module docs).
fn number_type(kind: &str) -> &'static str {
    match kind {
        "mobile" => "mobile",
        "home" => "home",
        _ => "sip",
    }
}
