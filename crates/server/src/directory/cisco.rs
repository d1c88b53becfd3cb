//! Cisco IP phone directories: a top menu for large directories, pages of at most 32 entries read by
//! keyset with short opaque cursors, search by name or number. Every URL handed to the phone is absolute,
//! uses the token's path form and stays well under Cisco's 256 characters.

use super::access::PhoneAccess;
use super::store::{self, Search};
use crate::contacts::Contact;
use crate::error::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use switchboard_domain::directory::{Charset, DialSettings, DirectoryContact, cisco};
use switchboard_store::Conn;
use uuid::Uuid;

/// Entries per page: the most a `CiscoIPPhoneDirectory` may hold.
pub const PAGE: usize = 32;

/// Directories with more contacts than this open on the letter menu instead of the first page.
pub const MENU_ABOVE: i64 = 3 * PAGE as i64;

/// Where a page starts: a contact and the index of its first entry shown (a contact has one entry per
/// number). Encoded as 23 URL-safe characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The contact.
    pub contact: Uuid,
    /// Its first entry on the page.
    pub entry: u8,
}

impl Cursor {
    /// The opaque form.
    pub fn encode(self) -> String {
        let mut bytes = self.contact.as_bytes().to_vec();
        bytes.push(self.entry);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses the opaque form; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (id, entry) = bytes.split_at_checked(16)?;
        let entry = *entry.first().filter(|_| entry.len() == 1)?;
        Some(Self { contact: Uuid::from_slice(id).ok()?, entry })
    }
}

/// What the phone asked for, from the query string (phones may append parameters of their own; unknown
/// ones are ignored).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The page cursor (`p`).
    pub cursor: Option<Cursor>,
    /// The filter: letter (`l`), name (`n`) or number (`t`).
    pub search: Option<Search>,
    /// `v=all`: the list, even when the directory is large enough for the menu.
    pub all: bool,
}

impl Request {
    /// Reads the phone's query parameters.
    pub fn parse(query: &[(String, String)]) -> Result<Self, String> {
        let get = |k: &str| query.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.trim());
        let cursor = match get("p").filter(|p| !p.is_empty()) {
            Some(p) => Some(Cursor::decode(p).ok_or("This page link is not valid; start again")?),
            None => None,
        };
        let search = if let Some(name) = get("n").filter(|n| !n.is_empty()) {
            Some(Search::Name(switchboard_domain::fold(name)))
        } else if let Some(number) = get("t").filter(|t| !t.is_empty()) {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return Err("Enter digits to search for a number".into());
            }
            Some(Search::Number(digits))
        } else if let Some(letter) = get("l").filter(|l| !l.is_empty()) {
            let c = letter.chars().next().unwrap_or('#').to_ascii_lowercase();
            Some(Search::Letter(if c.is_ascii_lowercase() { c } else { '#' }))
        } else {
            None
        };
        Ok(Self { cursor, search, all: get("v") == Some("all") })
    }

    /// The query string of this request's filter, to carry into page links.
    fn filter_query(&self) -> Vec<(&'static str, String)> {
        match &self.search {
            None | Some(Search::All) => vec![("v", "all".into())],
            Some(Search::Letter(c)) => vec![("l", c.to_string())],
            Some(Search::Name(n)) => vec![("n", n.clone())],
            Some(Search::Number(d)) => vec![("t", d.clone())],
        }
    }
}

/// Builds the absolute URLs of one token's Cisco documents.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `scheme://host/d/{token}`.
    pub base: String,
}

impl Urls {
    /// The directory URL with these query parameters.
    pub fn directory(&self, query: &[(&str, String)]) -> String {
        let mut url = format!("{}/directory.xml", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
        }
        url
    }

    /// The search form's URL.
    pub fn search(&self) -> String {
        format!("{}/search.xml", self.base)
    }
}

/// The phone's contact as the renderers take it.
pub fn directory_contact(c: &Contact) -> DirectoryContact {
    DirectoryContact {
        id: c.id,
        given_name: c.fields.given_name.clone(),
        family_name: c.fields.family_name.clone(),
        display_name: c.display_name.clone(),
        phones: c.fields.phones.clone(),
    }
}

/// A contact's entries, logging the numbers that are too long for a Cisco entry.
fn entries_of(contact: &Contact, dial: &DialSettings) -> Vec<cisco::Entry> {
    let (entries, skipped) = cisco::entries(&directory_contact(contact), dial);
    for number in skipped {
        tracing::warn!(contact = %contact.id, digits = number.len(), "number too long for a Cisco directory entry; skipped");
    }
    entries
}

/// The top menu: All, Search, and the letter groups.
pub fn menu(urls: &Urls, charset: Charset) -> Vec<u8> {
    let mut items =
        vec![("All".to_owned(), urls.directory(&[("v", "all".into())])), ("Search".to_owned(), urls.search())];
    for letter in 'A'..='Z' {
        items.push((letter.to_string(), urls.directory(&[("l", letter.to_ascii_lowercase().to_string())])));
    }
    items.push(("#".to_owned(), urls.directory(&[("l", "#".into())])));
    cisco::menu("Directory", "Choose a group", &items, charset)
}

/// The search form: by name (letters) or by number (digits).
pub fn search_form(urls: &Urls, charset: Charset) -> Vec<u8> {
    let items = [
        cisco::InputItem { display_name: "Name".into(), param: "n".into(), flags: "A", default: String::new() },
        cisco::InputItem { display_name: "Number".into(), param: "t".into(), flags: "T", default: String::new() },
    ];
    cisco::input("Search", "Enter a name or a number", &urls.directory(&[]), &items, charset)
}

/// Reads contacts in directory order from `start` and returns up to `PAGE + 1` entries with their
/// positions (the extra one tells where the next page starts).
async fn entries_from(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    start: Option<Cursor>,
    dial: &DialSettings,
) -> Result<Vec<(Cursor, cisco::Entry)>, AppError> {
    let mut out = Vec::with_capacity(PAGE + 1);
    let mut from = start.map(|c| (c.contact, true));
    loop {
        let batch = store::from(conn, access.workspace, &access.token.labels, search, from, PAGE as i64 + 1).await?;
        let done = batch.len() <= PAGE;
        for contact in &batch {
            let skip = match start {
                Some(s) if s.contact == contact.id => s.entry as usize,
                _ => 0,
            };
            for (i, entry) in entries_of(contact, dial).into_iter().enumerate().skip(skip) {
                out.push((Cursor { contact: contact.id, entry: i.min(255) as u8 }, entry));
                if out.len() > PAGE {
                    return Ok(out);
                }
            }
        }
        match batch.last() {
            Some(last) if !done => from = Some((last.id, false)),
            _ => return Ok(out),
        }
    }
}

/// Where the page before the one starting at `start` begins, or `None` on the first page.
async fn previous_start(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    start: Cursor,
    dial: &DialSettings,
) -> Result<Option<Cursor>, AppError> {
    let mut earlier: Vec<Cursor> =
        (0..start.entry).rev().map(|entry| Cursor { contact: start.contact, entry }).collect();
    let mut before = start.contact;
    while earlier.len() < PAGE {
        let batch = store::before(conn, access.workspace, &access.token.labels, search, before, PAGE as i64).await?;
        for contact in &batch {
            let n = entries_of(contact, dial).len();
            earlier.extend((0..n).rev().map(|entry| Cursor { contact: contact.id, entry: entry.min(255) as u8 }));
        }
        match batch.last() {
            Some(last) if batch.len() == PAGE => before = last.id,
            _ => break,
        }
    }
    earlier.truncate(PAGE);
    Ok(earlier.pop())
}

/// One directory page.
pub async fn page(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    request: &Request,
    urls: &Urls,
    dial: &DialSettings,
    charset: Charset,
) -> Result<Vec<u8>, AppError> {
    let search = request.search.clone().unwrap_or(Search::All);
    let mut entries = entries_from(conn, access, &search, request.cursor, dial).await?;
    let next = (entries.len() > PAGE).then(|| entries[PAGE].0);
    entries.truncate(PAGE);
    let previous = match request.cursor {
        Some(start) => previous_start(conn, access, &search, start, dial).await?,
        None => None,
    };
    let link = |cursor: Cursor| {
        let mut query = request.filter_query();
        query.push(("p", cursor.encode()));
        urls.directory(&query)
    };
    let prompt = match (&search, entries.is_empty()) {
        (_, true) => "No entries".to_owned(),
        (Search::Name(n), _) => format!("Names: {n}"),
        (Search::Number(d), _) => format!("Numbers: {d}"),
        (Search::Letter(c), _) => format!("Names: {}", c.to_ascii_uppercase()),
        (Search::All, _) => "Select an entry".to_owned(),
    };
    let page = cisco::DirectoryPage {
        title: "Directory".to_owned(),
        prompt,
        entries: entries.into_iter().map(|(_, e)| e).collect(),
        previous: previous.map(link),
        next: next.map(link),
        search: Some(urls.search()),
    };
    Ok(cisco::directory(&page, charset))
}
