//! Cisco IP phone directories: a top menu for large directories, pages of at most 32 entries read by
//! keyset with short opaque cursors, search by name or number. Every URL handed to the phone is absolute,
//! uses the token's path form and stays well under Cisco's 256 characters.

use super::access::PhoneAccess;
use super::store::{self, Direction, Search};
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
    /// The page cursor: where the page starts (`p`), or what it ends just before (`b`, with `back`).
    pub cursor: Option<Cursor>,
    /// The page ends just before the cursor (a Previous link).
    pub back: bool,
    /// The filter: letter (`l`), name (`n`) or number (`t`).
    pub search: Option<Search>,
    /// `v=all`: the list, even when the directory is large enough for the menu.
    pub all: bool,
}

impl Request {
    /// Reads the phone's query parameters.
    pub fn parse(query: &[(String, String)]) -> Result<Self, String> {
        let get = |k: &str| query.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.trim());
        let (cursor, back) = match (get("p").filter(|p| !p.is_empty()), get("b").filter(|b| !b.is_empty())) {
            (Some(p), _) => (Some(Cursor::decode(p).ok_or("This page link is not valid; start again")?), false),
            (None, Some(b)) => (Some(Cursor::decode(b).ok_or("This page link is not valid; start again")?), true),
            (None, None) => (None, false),
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
        Ok(Self { cursor, back, search, all: get("v") == Some("all") })
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

/// A contact's entries with the positions of their numbers, logging the numbers that are too long for a
/// Cisco entry.
fn entries_of(contact: &Contact, dial: &DialSettings) -> Vec<(usize, cisco::Entry)> {
    let (entries, skipped) = cisco::numbered_entries(&directory_contact(contact), dial);
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

/// A page cursor's place in the listing; `None` when its contact (or number) no longer exists.
async fn start_at(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    dial: &DialSettings,
    cursor: Cursor,
    inclusive: bool,
) -> Result<Option<store::Start>, AppError> {
    let phone = if search.lists_numbers() { i32::from(cursor.entry) } else { 0 };
    let at = store::position_of(conn, access.workspace, search, dial, cursor.contact, phone).await?;
    Ok(at.map(|at| store::Start { at, inclusive }))
}

/// Up to `PAGE + 1` entries from `start` in `direction`, nearest first, each with its cursor. A contact
/// listing has one entry per number (the cursor's `entry` counts them); a number search one per matching
/// number (`entry` is the number's position). Going forward the cursor's own entry comes first; going
/// backward the entries before it.
async fn read_entries(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    dial: &DialSettings,
    start: Option<Cursor>,
    direction: Direction,
) -> Result<Vec<(Cursor, cisco::Entry)>, AppError> {
    let numbers = search.lists_numbers();
    // A contact listing starts at the cursor's contact whichever the direction (its entries around the
    // cursor's are kept or dropped below); a number listing at the number itself, or just before it.
    let inclusive = !numbers || direction == Direction::Forward;
    let mut from = match start {
        Some(cursor) => match start_at(conn, access, search, dial, cursor, inclusive).await? {
            Some(at) => Some(at),
            None if direction == Direction::Backward => return Ok(Vec::new()),
            None => None,
        },
        None => None,
    };
    let mut out = Vec::with_capacity(PAGE + 1);
    loop {
        let limit = PAGE as i64 + 1;
        let rows =
            store::read(conn, access.workspace, &access.token.labels, search, dial, from.as_ref(), direction, limit)
                .await?;
        for row in &rows {
            let mut entries: Vec<(Cursor, cisco::Entry)> = entries_of(&row.contact, dial)
                .into_iter()
                .enumerate()
                .filter(|(_, (phone, _))| !numbers || *phone == row.at.phone as usize)
                .map(|(i, (phone, entry))| {
                    let index = if numbers { phone } else { i };
                    (Cursor { contact: row.contact.id, entry: index.min(255) as u8 }, entry)
                })
                .collect();
            if let Some(cursor) = start.filter(|c| !numbers && c.contact == row.contact.id) {
                entries.retain(|(c, _)| match direction {
                    Direction::Forward => c.entry >= cursor.entry,
                    Direction::Backward => c.entry < cursor.entry,
                });
            }
            if direction == Direction::Backward {
                entries.reverse();
            }
            out.extend(entries);
            if out.len() > PAGE {
                out.truncate(PAGE + 1);
                return Ok(out);
            }
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == limit => {
                from = Some(store::Start { at: last.at.clone(), inclusive: false })
            }
            _ => return Ok(out),
        }
    }
}

/// One directory page: the first (no cursor), the one starting at a cursor (`p`), or the one ending just
/// before it (`b`, what Previous links to). Each reads one page of rows: Previous needs no look back, and
/// a page is as cheap at the end of a million contacts as at the start.
pub async fn page(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    request: &Request,
    urls: &Urls,
    dial: &DialSettings,
    charset: Charset,
) -> Result<Vec<u8>, AppError> {
    let search = request.search.clone().unwrap_or(Search::All);
    let (entries, previous, next) = match request.cursor {
        Some(cursor) if request.back => {
            let mut before = read_entries(conn, access, &search, dial, Some(cursor), Direction::Backward).await?;
            if before.len() > PAGE {
                before.truncate(PAGE);
                before.reverse();
                let previous = before.first().map(|(c, _)| Link::Back(*c));
                (before, previous, Some(Link::From(cursor)))
            } else {
                // Fewer than a page before the cursor: that is the first page, shown whole.
                first_page(conn, access, &search, dial).await?
            }
        }
        Some(cursor) => {
            let (entries, next) = forward(conn, access, &search, dial, Some(cursor)).await?;
            let previous = Link::Back(entries.first().map_or(cursor, |(c, _)| *c));
            (entries, Some(previous), next)
        }
        None => first_page(conn, access, &search, dial).await?,
    };
    let link = |link: Link| {
        let mut query = request.filter_query();
        query.push(match link {
            Link::From(c) => ("p", c.encode()),
            Link::Back(c) => ("b", c.encode()),
        });
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

/// A page link: the page starting at a cursor, or the one ending just before it.
#[derive(Debug, Clone, Copy)]
enum Link {
    From(Cursor),
    Back(Cursor),
}

type PageParts = (Vec<(Cursor, cisco::Entry)>, Option<Link>, Option<Link>);

/// The first page: no Previous.
async fn first_page(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    dial: &DialSettings,
) -> Result<PageParts, AppError> {
    let (entries, next) = forward(conn, access, search, dial, None).await?;
    Ok((entries, None, next))
}

/// A page read forward from `start` (or the beginning), and the link to the page after it, if any.
async fn forward(
    conn: &mut Conn<'_>,
    access: &PhoneAccess,
    search: &Search,
    dial: &DialSettings,
    start: Option<Cursor>,
) -> Result<(Vec<(Cursor, cisco::Entry)>, Option<Link>), AppError> {
    let mut entries = read_entries(conn, access, search, dial, start, Direction::Forward).await?;
    let next = entries.get(PAGE).map(|(c, _)| Link::From(*c));
    entries.truncate(PAGE);
    Ok((entries, next))
}
