//! Cisco IP Phone Services XML (schema `CiscoIPPhone.xsd` version 3.3.4; our copy of its constraints is
//! `tests/directory/CiscoIPPhone.xsd`).
//!
//! Limits this module enforces, all counted in characters of the unescaped value (as the schema does), after
//! transliteration for ISO-8859-1:
//!
//! - every object: `Title`, `Prompt` ≤ 32; at most 8 `SoftKeyItem` (`Name` ≤ 32, `Position` 1–8,
//!   `URL` ≤ 256);
//! - `CiscoIPPhoneDirectory`: at most 32 `DirectoryEntry`, `Name` and `Telephone` ≤ 32 each; the phone
//!   dials `Telephone`, so it holds only `0-9 * # ,` (the Dial URI's sequence; `+` is not in it);
//! - `CiscoIPPhoneMenu`: at most 100 `MenuItem`, `Name` ≤ 64, `URL` ≤ 256;
//! - `CiscoIPPhoneInput`: `URL` 1–256, at most 5 `InputItem` (`DisplayName` ≤ 32, `QueryStringParam` 1–32,
//!   `InputFlags` from the schema's list, `DefaultValue` ≤ 32);
//! - `CiscoIPPhoneText`: `Text` ≤ 4000.
//!
//! Elements follow the schema's order: `Title`, `Prompt`, `SoftKeyItem`…, then the object's own elements
//! (and inside `SoftKeyItem`: `Name`, `Position`, `URL`). The phone's parser is not a full XML parser and
//! accepts only the tags the definitions name, so nothing else is written. Text too long is cut at a
//! character boundary (no ellipsis); a URL too long cannot be cut, so its soft key or menu item is left out.
//! Non-ASCII characters in URLs are percent-encoded (as UTF-8), so URLs are the same in either charset.
//!
//! Custom soft keys remove all of the phone's default ones, so a directory page lists Dial, EditDial and
//! Exit itself, then Next / Previous / Search when it has them. Menus, inputs and texts keep the phone's
//! defaults (no custom keys).

use super::dial::is_dialable;
use super::xml::Xml;
use super::{Charset, DialSettings, DirectoryContact, Measure, clean, type_suffixes};

/// Most entries on one directory page.
pub const MAX_ENTRIES: usize = 32;
/// Longest `Name`, `Telephone`, `Title`, `Prompt`, soft key name, input display name and default value.
pub const MAX_FIELD: usize = 32;
/// Longest URL.
pub const MAX_URL: usize = 256;
/// Most soft keys on one object.
pub const MAX_SOFT_KEYS: usize = 8;
/// Most items in a menu.
pub const MAX_MENU_ITEMS: usize = 100;
/// Longest menu item name.
pub const MAX_MENU_NAME: usize = 64;
/// Most input items.
pub const MAX_INPUT_ITEMS: usize = 5;
/// Longest `Text` of a text object.
pub const MAX_TEXT: usize = 4000;

/// The `InputFlags` values the schema allows: A (ASCII text), T (telephone number), N (numeric),
/// E (equation), U (upper case), L (lower case), each alone or with P (password) before or after it.
pub const INPUT_FLAGS: [&str; 18] =
    ["A", "T", "N", "E", "U", "L", "AP", "TP", "NP", "EP", "UP", "LP", "PA", "PT", "PN", "PE", "PU", "PL"];

/// A soft key; its position is its place in the list (1–8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftKey {
    pub name: String,
    /// A page URL, or one of the phone's own actions (`SoftKey:Dial`, `SoftKey:Exit`, …).
    pub url: String,
}

/// One line of a directory page: one number of a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The contact's name; cut to fit (with the suffix) when the page is rendered, in the page's charset.
    pub name: String,
    /// Short type label shown as `Name (m)` when the contact has several numbers, kept whole when the name
    /// is cut; empty for none.
    pub suffix: String,
    /// What the phone dials: a [`super::dial_string`] of at most 32 characters.
    pub telephone: String,
}

impl Entry {
    /// An entry without a type suffix.
    pub fn new(name: impl Into<String>, telephone: impl Into<String>) -> Self {
        Self { name: name.into(), suffix: String::new(), telephone: telephone.into() }
    }

    /// The `Name` the page shows in `charset`: at most 32 characters, the suffix kept whole; the number
    /// when nothing of the name is left (a name of emoji on a Latin-1 phone).
    pub fn label(&self, charset: Charset) -> String {
        let name = charset.text(&clean(&self.name)).into_owned();
        let name = if name.is_empty() { clean(&self.telephone) } else { name };
        let suffix = charset.text(&clean(&self.suffix)).into_owned();
        Measure::Chars.with_suffix(&name, &suffix, MAX_FIELD)
    }
}

/// One entry per dialable number of the contact (type suffix when several); plus the numbers skipped
/// (too long), as typed, for the caller to log.
///
/// A number whose dial string is longer than 32 characters cannot be cut (a cut number dials someone
/// else), so it is left out and reported. A contact without a usable name is listed under its number.
pub fn entries(contact: &DirectoryContact, dial: &DialSettings) -> (Vec<Entry>, Vec<String>) {
    let (entries, skipped) = numbered_entries(contact, dial);
    (entries.into_iter().map(|(_, entry)| entry).collect(), skipped)
}

/// [`entries`], each with the index of its number in the contact's phone list.
pub fn numbered_entries(contact: &DirectoryContact, dial: &DialSettings) -> (Vec<(usize, Entry)>, Vec<String>) {
    let (fit, long): (Vec<_>, Vec<_>) = contact
        .phones
        .iter()
        .enumerate()
        .filter_map(|(i, p)| super::dial_string(p, dial).map(|d| (i, p, d)))
        .partition(|(_, _, dial)| dial.chars().count() <= MAX_FIELD);
    let skipped = long.into_iter().map(|(_, phone, _)| phone.raw.clone()).collect();
    let suffixes = if fit.len() > 1 {
        type_suffixes(fit.iter().map(|(_, phone, _)| phone.kind.as_str()))
    } else {
        vec![String::new(); fit.len()]
    };
    let entries = fit
        .into_iter()
        .zip(suffixes)
        .map(|((i, _, telephone), suffix)| (i, Entry { name: contact.name_or(&telephone), suffix, telephone }))
        .collect();
    (entries, skipped)
}

/// One page of the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryPage {
    pub title: String,
    pub prompt: String,
    /// At most 32 are shown; further ones, and any whose telephone is not a valid dial string of at most
    /// 32 characters, are left out.
    pub entries: Vec<Entry>,
    /// URL of the previous page, if any.
    pub previous: Option<String>,
    /// URL of the next page, if any.
    pub next: Option<String>,
    /// URL of the search form, if any.
    pub search: Option<String>,
}

impl DirectoryPage {
    /// The page's soft keys in position order: Dial, EditDial, Exit (the phone's own, which custom keys
    /// would otherwise remove), then Next, Previous and Search when the page has them. Keys whose URL is
    /// unusable (empty or longer than 256 characters) are left out by the renderer.
    pub fn soft_keys(&self) -> Vec<SoftKey> {
        let key = |name: &str, url: &str| SoftKey { name: name.to_owned(), url: url.to_owned() };
        let mut keys =
            vec![key("Dial", "SoftKey:Dial"), key("EditDial", "SoftKey:EditDial"), key("Exit", "SoftKey:Exit")];
        for (name, url) in [("Next", &self.next), ("Previous", &self.previous), ("Search", &self.search)] {
            if let Some(url) = url {
                keys.push(key(name, url));
            }
        }
        keys
    }
}

/// A `CiscoIPPhoneDirectory` page.
pub fn directory(page: &DirectoryPage, charset: Charset) -> Vec<u8> {
    let mut xml = Xml::new(charset.xml_name());
    xml.open("CiscoIPPhoneDirectory", &[]);
    title_prompt(&mut xml, &page.title, &page.prompt, charset);
    soft_keys(&mut xml, &page.soft_keys(), charset);
    let shown = page.entries.iter().filter(|e| is_telephone(&e.telephone)).take(MAX_ENTRIES);
    for entry in shown {
        xml.open("DirectoryEntry", &[]);
        xml.leaf("Name", &entry.label(charset));
        xml.leaf("Telephone", &entry.telephone);
        xml.close();
    }
    xml.finish(charset)
}

/// A `CiscoIPPhoneMenu` of `(name, url)` items (the phone's default soft keys: Select, Exit). Items whose
/// URL is unusable are left out; at most 100 are shown, names cut to 64 characters.
pub fn menu(title: &str, prompt: &str, items: &[(String, String)], charset: Charset) -> Vec<u8> {
    let mut xml = Xml::new(charset.xml_name());
    xml.open("CiscoIPPhoneMenu", &[]);
    title_prompt(&mut xml, title, prompt, charset);
    let usable = items.iter().filter_map(|(name, raw)| url(raw).map(|url| (name, url))).take(MAX_MENU_ITEMS);
    for (name, url) in usable {
        xml.open("MenuItem", &[]);
        xml.leaf("Name", &fit(name, MAX_MENU_NAME, charset));
        xml.leaf("URL", &url);
        xml.close();
    }
    xml.finish(charset)
}

/// One field of a [`input`] form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputItem {
    /// The label shown (cut to 32 characters).
    pub display_name: String,
    /// The query-string name the phone sends the value under: 1–32 of `A-Z a-z 0-9 _ - . ~`.
    pub param: String,
    /// One of [`INPUT_FLAGS`]: `"A"` for a name, `"T"` for a number.
    pub flags: &'static str,
    /// Pre-filled value (cut to 32 characters); empty for none.
    pub default: String,
}

/// A `CiscoIPPhoneInput` form that sends its fields to `url` (the phone's default soft keys: Submit, <<,
/// Cancel). At most 5 items are shown; an item with an invalid `param` or `flags` is left out. A form needs
/// its URL, so when `url` is unusable (empty or over 256 characters) the result is a
/// [`text`] saying the search is unavailable rather than an invalid form.
pub fn input(title: &str, prompt: &str, url: &str, items: &[InputItem], charset: Charset) -> Vec<u8> {
    let Some(url) = self::url(url) else {
        return text(title, "Search is not available.", charset);
    };
    let mut xml = Xml::new(charset.xml_name());
    xml.open("CiscoIPPhoneInput", &[]);
    title_prompt(&mut xml, title, prompt, charset);
    xml.leaf("URL", &url);
    let usable = items.iter().filter(|i| is_param(&i.param) && INPUT_FLAGS.contains(&i.flags));
    for item in usable.take(MAX_INPUT_ITEMS) {
        xml.open("InputItem", &[]);
        xml.leaf("DisplayName", &fit(&item.display_name, MAX_FIELD, charset));
        xml.leaf("QueryStringParam", &item.param);
        xml.leaf("InputFlags", item.flags);
        let default = fit(&item.default, MAX_FIELD, charset);
        if !default.is_empty() {
            xml.leaf("DefaultValue", &default);
        }
        xml.close();
    }
    xml.finish(charset)
}

/// A `CiscoIPPhoneText` for messages such as "Unauthorized" or "No entries". Line breaks in `text` are
/// kept; it is cut to 4000 characters.
pub fn text(title: &str, text: &str, charset: Charset) -> Vec<u8> {
    let mut xml = Xml::new(charset.xml_name());
    xml.open("CiscoIPPhoneText", &[]);
    title_prompt(&mut xml, title, "", charset);
    let lines: Vec<String> = text.lines().map(|line| charset.text(&clean(line)).into_owned()).collect();
    xml.leaf("Text", Measure::Chars.cut(lines.join("\n").trim(), MAX_TEXT));
    xml.finish(charset)
}

/// `Title` and `Prompt`, each left out when empty.
fn title_prompt(xml: &mut Xml, title: &str, prompt: &str, charset: Charset) {
    for (tag, value) in [("Title", title), ("Prompt", prompt)] {
        let value = fit(value, MAX_FIELD, charset);
        if !value.is_empty() {
            xml.leaf(tag, &value);
        }
    }
}

/// Up to 8 soft keys with usable URLs, positioned in order.
fn soft_keys(xml: &mut Xml, keys: &[SoftKey], charset: Charset) {
    let usable = keys.iter().filter_map(|k| url(&k.url).map(|url| (k, url))).take(MAX_SOFT_KEYS);
    for (position, (key, url)) in (1..).zip(usable) {
        xml.open("SoftKeyItem", &[]);
        xml.leaf("Name", &fit(&key.name, MAX_FIELD, charset));
        xml.leaf("Position", &position.to_string());
        xml.leaf("URL", &url);
        xml.close();
    }
}

/// `text` cleaned, in `charset`, cut to `max` characters.
fn fit(text: &str, max: usize, charset: Charset) -> String {
    Measure::Chars.cut(&charset.text(&clean(text)), max).to_owned()
}

/// `raw` as a URL the phone accepts, or `None` when empty or longer than 256 characters. Spaces, control
/// and non-ASCII characters are percent-encoded (non-ASCII as UTF-8, as for an IRI), so the URL is ASCII.
pub fn url(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    (!out.is_empty() && out.chars().count() <= MAX_URL).then_some(out)
}

/// A dial string the phone accepts: 1–32 of `0-9 * # ,`.
fn is_telephone(telephone: &str) -> bool {
    !telephone.is_empty() && telephone.chars().count() <= MAX_FIELD && telephone.chars().all(is_dialable)
}

/// A query-string parameter name that needs no escaping: 1–32 of `A-Z a-z 0-9 _ - . ~`.
fn is_param(param: &str) -> bool {
    (1..=MAX_FIELD).contains(&param.len())
        && param.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~'))
}
