//! Grandstream XML downloadable phonebook (`AddressBook`), UTF-8 ("UTF-8 is used as encoding method for
//! correct display"):
//!
//! ```xml
//! <AddressBook><Contact><LastName/><FirstName/><Phone type="Work"><phonenumber/><accountindex/></Phone></Contact></AddressBook>
//! ```
//!
//! - element names are case-sensitive; one `Contact` per contact;
//! - `FirstName`/`LastName` are optional but at least one is required: a contact with neither gets its
//!   display name (e.g. the company) as `FirstName`; an empty one is left out;
//! - `Phone type` is `Work|Home|Mobile|Fax|Other` (newer models; older ones ignore it): our `main` is `Work`;
//! - `phonenumber` and `accountindex` are required; `accountindex` is the SIP account the phone dials with,
//!   0 for account 1 (0–5 on GVC3200, 0–2 on GXV3140), passed through as given.
//!
//! No length limits are documented.

use super::xml::Xml;
use super::{Charset, DialSettings, DirectoryContact};

/// The address book; `account_index` is the phone's account to dial with (0 = account 1).
pub fn grandstream(contacts: &[DirectoryContact], dial: &DialSettings, account_index: u8) -> Vec<u8> {
    let account = account_index.to_string();
    let mut xml = Xml::new("UTF-8");
    xml.open("AddressBook", &[]);
    for contact in contacts {
        let numbers = contact.dialable(dial);
        let Some((_, first_number)) = numbers.first() else { continue };
        let (first, last) = contact.first_last_or(first_number);
        xml.open("Contact", &[]);
        if !last.is_empty() {
            xml.leaf("LastName", &last);
        }
        if !first.is_empty() {
            xml.leaf("FirstName", &first);
        }
        for (phone, number) in &numbers {
            xml.open("Phone", &[("type", phone_type(&phone.kind))]);
            xml.leaf("phonenumber", number);
            xml.leaf("accountindex", &account);
            xml.close();
        }
        xml.close();
    }
    xml.finish(Charset::Utf8)
}

/// Grandstream's name for a number type.
fn phone_type(kind: &str) -> &'static str {
    match kind {
        "work" | "main" => "Work",
        "home" => "Home",
        "mobile" => "Mobile",
        "fax" => "Fax",
        _ => "Other",
    }
}
