//! Synthetic contacts for benchmarks and demos (`switchboard admin generate-contacts`): realistic names
//! (some non-ASCII, a few in scripts without case), one to three numbers of mixed types in the US, the UK,
//! Germany and France, some companies, job titles, emails and labels.
//!
//! **Not the write path.** Contacts go straight through the store (`upsert_many`, `replace_phones`,
//! `replace_emails`) in large transactions, with versions after the workspace's current version; the
//! workspace's version is raised in the same transaction. **No `changes` rows are written**: there is no
//! history, no audit entry, no realtime event and no idempotency record for them. Delta sync from any
//! earlier version still returns them (delta pages read the contacts' versions), but a running server keeps
//! the latest changes of each workspace in memory and follows the feed, which never shows these versions:
//! generate while no server serves the workspace, or restart the servers afterwards.
//!
//! Deterministic for a seed: the same seed gives the same contacts (names, numbers, labels…) in the same
//! order; ids (UUIDv7) and timestamps are fresh. Numbers are written in common formats and parsed with the
//! workspace's phone policy exactly as the API parses them, so every stored form (E.164, digits, `digits_rev`)
//! is what an API write would store.

use super::Contact;
use super::store;
use crate::error::AppError;
use chrono::Utc;
use switchboard_domain::{ContactFields, EmailEntry, PhoneEntry, PhonePolicy, WorkspaceId};
use switchboard_store::{Db, conn_run, db_run};
use uuid::Uuid;

/// Contacts per transaction (and per call of `progress`).
pub const BATCH: u64 = 5_000;

/// Who the generated contacts are `created_by`.
pub const CREATED_BY: &str = "generate-contacts";

/// Inserts `count` generated contacts into `ws` (see the module documentation: no change-feed rows) and
/// returns how many were inserted. `progress` is called after each committed batch with the number
/// inserted so far. A workspace that does not exist is [`AppError::NotFound`].
pub async fn generate(
    db: &Db,
    ws: WorkspaceId,
    count: u64,
    seed: u64,
    progress: impl Fn(u64),
) -> Result<u64, AppError> {
    let settings: Option<sqlx::types::Json<serde_json::Value>> = db_run!(db, pool => sqlx::query_scalar(
        "SELECT settings FROM workspaces WHERE id = $1",
    ).bind(ws.0).fetch_optional(pool).await)?;
    let settings: crate::workspaces::WorkspaceSettings =
        serde_json::from_value(settings.ok_or(AppError::NotFound)?.0).map_err(AppError::internal)?;
    let policy = settings.phone_policy();

    // The next batch is built on a blocking thread while the current one is written.
    let build = |from: u64| {
        let policy = policy.clone();
        let n = BATCH.min(count - from);
        tokio::task::spawn_blocking(move || (from..from + n).map(|i| fields(seed, i, &policy)).collect::<Vec<_>>())
    };
    let mut done = 0;
    let mut next = (count > 0).then(|| build(0));
    while let Some(pending) = next.take() {
        let batch = pending.await.map_err(AppError::internal)?;
        let n = batch.len() as u64;
        if done + n < count {
            next = Some(build(done + n));
        }
        insert(db, ws, batch).await?;
        done += n;
        progress(done);
    }
    Ok(done)
}

/// Writes one batch in one transaction: versions after the workspace's current one (its row is locked by
/// the first statement, as the feed writer does, so versions never collide with concurrent writes).
async fn insert(db: &Db, ws: WorkspaceId, batch: Vec<ContactFields>) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let start: i64 = conn_run!(&mut conn, c => sqlx::query_scalar(
        "UPDATE workspaces SET version = version WHERE id = $1 RETURNING version",
    ).bind(ws.0).fetch_optional(&mut **c).await)?
    .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let contacts: Vec<Contact> = batch
        .into_iter()
        .zip(start + 1..)
        .map(|(fields, version)| Contact {
            id: Uuid::now_v7(),
            display_name: fields.display_name(),
            fields,
            source: "import".to_owned(),
            created_by: CREATED_BY.to_owned(),
            version,
            deleted: false,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let refs: Vec<&Contact> = contacts.iter().collect();
    store::upsert_many(&mut conn, ws, &refs).await?;
    store::replace_phones(&mut conn, ws, &[], &refs).await?;
    store::replace_emails(&mut conn, ws, &[], &refs).await?;
    let version = start + contacts.len() as i64;
    conn_run!(&mut conn, c => sqlx::query("UPDATE workspaces SET version = $2 WHERE id = $1")
        .bind(ws.0).bind(version).execute(&mut **c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(())
}

/// SplitMix64: small, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    /// The generator of contact `index` for `seed`: each contact has its own stream, so a contact does
    /// not depend on the batch size.
    fn for_contact(seed: u64, index: u64) -> Self {
        let mut r = Self(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `n` random decimal digits.
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
}

const GIVEN: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Laura",
    "Edward",
    "Helen",
    "Jeffrey",
    "Sharon",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Ruth",
    "Larry",
    "Brenda",
    "Justin",
    "Pamela",
    "Scott",
    "Nicole",
    "Brandon",
    "Katherine",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Christine",
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
    "Noah",
    "Ava",
    "Leo",
    "Mia",
    "Lukas",
    "Hannah",
    "Felix",
    "Lena",
    "Jonas",
    "Emma",
    "Louis",
    "Chloé",
    "Hugo",
    "Léa",
    "Gabriel",
    "Manon",
    "Raphaël",
    "Inès",
    "Zoë",
    "José",
    "María",
    "Łukasz",
    "Søren",
    "Björn",
    "François",
    "Jürgen",
    "Ångela",
    "Åsa",
    "Dóra",
    "Íñigo",
    "Çağlar",
    "Ørjan",
    "Małgorzata",
    "Renée",
    "Noémie",
    "Élodie",
    "Ana",
    "Mateo",
    "Sofía",
    "Priya",
    "Arjun",
    "Wei",
    "Yuki",
    "Kenji",
    "Aiko",
    "Olumide",
    "Chiamaka",
    "Fatima",
    "Omar",
    "Aisha",
    "Dmitri",
    "Olga",
    "Nikos",
    "太郎",
    "花子",
    "Алексей",
];

const FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Evans",
    "Turner",
    "Phillips",
    "Parker",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Peterson",
    "Cooper",
    "Reed",
    "Bailey",
    "Bell",
    "Gomez",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Diaz",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "James",
    "Reyes",
    "Cruz",
    "Hughes",
    "Price",
    "Myers",
    "Long",
    "Foster",
    "Sanders",
    "Ross",
    "Morales",
    "Powell",
    "Sullivan",
    "Russell",
    "Ortiz",
    "Jenkins",
    "Gutierrez",
    "Perry",
    "Butler",
    "Barnes",
    "Fisher",
    "O'Brien",
    "McDonald",
    "MacLeod",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Köhler",
    "Groß",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Lefebvre",
    "Bernard",
    "Durand",
    "Petit",
    "Roux",
    "Fournier",
    "Girard",
    "Bonnet",
    "Muñoz",
    "Núñez",
    "Ibáñez",
    "Peña",
    "Łukaszewski",
    "Wiśniewski",
    "Kowalczyk",
    "Dvořák",
    "Novák",
    "Ångström",
    "Østergaard",
    "Søndergaard",
    "Çelik",
    "Yılmaz",
    "Şahin",
    "Öztürk",
    "Þórsson",
    "Van der Berg",
    "De Vries",
    "da Silva",
    "dos Santos",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Patel",
    "Singh",
    "Shah",
    "Okafor",
    "Adeyemi",
    "Ivanov",
    "Papadopoulos",
    "佐藤",
    "鈴木",
    "Смирнов",
];

/// Syllables for family names outside the lists (the long tail of a real directory).
const SYLLABLES: &[&str] = &[
    "ab", "bel", "car", "dan", "el", "fen", "gar", "hol", "ing", "jor", "kes", "lan", "mor", "nor", "ost", "pel",
    "quin", "ros", "stan", "tor", "ul", "vin", "wes", "yar", "zel", "berg", "field", "ton", "ley", "son",
];

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Blue Harbor",
    "Redwood",
    "Summit",
    "Pioneer",
    "Evergreen",
    "Atlas",
    "Beacon",
    "Cedar",
    "Harbor",
    "Keystone",
    "Meridian",
    "Orion",
    "Riverside",
    "Sterling",
    "Crescent",
    "Lakeside",
    "Müller & Söhne",
    "Café Lumière",
    "Żabka",
    "Østfold",
];

const COMPANY_KINDS: &[&str] = &[
    "Plumbing",
    "Electric",
    "Dental",
    "Law Group",
    "Logistics",
    "Bakery",
    "Motors",
    "Insurance",
    "Realty",
    "Consulting",
    "Roofing",
    "Pharmacy",
    "Veterinary Clinic",
    "Accounting",
    "Landscaping",
    "Printing",
    "Catering",
];

const COMPANY_SUFFIXES: &[&str] = &["", "", "Inc.", "LLC", "Ltd", "GmbH", "SARL", "& Co."];

const TITLES: &[&str] = &[
    "Owner",
    "Manager",
    "Office Manager",
    "Accountant",
    "Sales",
    "Technician",
    "Receptionist",
    "Director",
    "Dispatcher",
    "Project Manager",
    "Support",
    "Buyer",
];

const LABELS: &[&str] = &["customer", "supplier", "vip", "staff", "family", "lead", "partner"];

const NICKNAMES: &[&str] = &["Bob", "Liz", "Jim", "Kate", "Max", "Sam", "Alex", "Tom", "Jo", "Bea"];

/// US area codes where every exchange 200–999 is a valid number.
const US_AREAS: &[&str] = &["201", "202", "212", "213", "305", "312", "415", "617", "650", "718", "720", "917"];

/// The fields of contact `index` for `seed`.
fn fields(seed: u64, index: u64, policy: &PhonePolicy) -> ContactFields {
    let mut r = Rng::for_contact(seed, index);
    let mut f = ContactFields::default();
    let company_only = r.chance(4);
    if !company_only {
        f.given_name = (!r.chance(2)).then(|| r.pick(GIVEN).to_owned());
        f.family_name = Some(if r.chance(25) {
            // A made-up name: two or three syllables, capitalised.
            let n = 2 + r.below(2);
            let mut name: String = (0..n).map(|_| r.pick(SYLLABLES)).collect();
            name[..1].make_ascii_uppercase();
            name
        } else {
            r.pick(FAMILY).to_owned()
        });
        if r.chance(3) {
            f.nickname = Some(r.pick(NICKNAMES).to_owned());
        }
    }
    if company_only || r.chance(30) {
        let suffix = r.pick(COMPANY_SUFFIXES);
        let name = format!("{} {}", r.pick(COMPANY_WORDS), r.pick(COMPANY_KINDS));
        f.company = Some(if suffix.is_empty() { name } else { format!("{name} {suffix}") });
        if !company_only && r.chance(50) {
            f.job_title = Some(r.pick(TITLES).to_owned());
        }
    }
    if r.chance(2) {
        f.notes = Some("Prefers calls in the morning.".to_owned());
    }
    let labels = match r.below(10) {
        0..=5 => 0,
        6..=8 => 1,
        _ => 2,
    };
    for _ in 0..labels {
        let label = r.pick(LABELS).to_owned();
        if !f.labels.contains(&label) {
            f.labels.push(label);
        }
    }
    let phones = match r.below(10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    for i in 0..phones {
        let kind = match (i, r.below(10)) {
            (0, 0..=5) => "mobile",
            (0, _) => "work",
            (_, 0..=2) => "home",
            (_, 3..=5) => "work",
            (_, 6) => "main",
            (_, 7) => "fax",
            (_, 8) => "mobile",
            _ => "other",
        };
        let entry = phone(&mut r, kind, policy);
        if !f.phones.iter().any(|p| p.digits == entry.digits) {
            f.phones.push(entry);
        }
    }
    if r.chance(40) {
        f.emails.push(EmailEntry { address: email(&f, index, &mut r), kind: "work".to_owned() });
        if r.chance(15) {
            f.emails.push(EmailEntry { address: format!("c{index}@mail.example.net"), kind: "home".to_owned() });
        }
    }
    f
}

/// A lower-case email address from the contact's name (or its index when the name has no ASCII letters).
fn email(f: &ContactFields, index: u64, r: &mut Rng) -> String {
    let part = |v: &Option<String>| -> String {
        switchboard_domain::fold(v.as_deref().unwrap_or_default()).chars().filter(char::is_ascii_alphanumeric).collect()
    };
    let (given, family) = (part(&f.given_name), part(&f.family_name));
    let local = match (given.is_empty(), family.is_empty()) {
        (false, false) => format!("{given}.{family}"),
        (true, false) => family,
        (false, true) => given,
        (true, true) => format!("contact{index}"),
    };
    let domain = r.pick(&["example.com", "example.org", "example.net", "mail.example.com"]);
    format!("{local}{}@{domain}", if r.chance(30) { r.below(100).to_string() } else { String::new() })
}

/// A number of type `kind`, written in one of the ways people write them, parsed with the workspace's
/// policy as the API would. Formats without a country code are only used where they mean the same number.
fn phone(r: &mut Rng, kind: &str, policy: &PhonePolicy) -> PhoneEntry {
    let us_local = policy.region.as_str() == "US";
    loop {
        let raw = match r.below(100) {
            // The US: 70 %.
            0..=69 => {
                let (area, exchange, line) = (r.pick(US_AREAS), 200 + r.below(800), r.digits(4));
                let extension =
                    if kind == "work" && r.chance(8) { format!(" ext. {}", 10 + r.below(990)) } else { String::new() };
                match r.below(4) {
                    0 if us_local => format!("({area}) {exchange}-{line}{extension}"),
                    1 if us_local => format!("{area}.{exchange}.{line}"),
                    2 => format!("+1-{area}-{exchange}-{line}"),
                    _ => format!("+1 {area} {exchange} {line}{extension}"),
                }
            }
            // The UK: London and Manchester landlines, mobiles.
            70..=81 => match r.below(3) {
                0 => format!("+44 20 {}{} {}", 7 + r.below(2), r.digits(3), r.digits(4)),
                1 => format!("+44 161 {} {}", 200 + r.below(800), r.digits(4)),
                _ => format!("+44 7{}{} {}", r.pick(&["7", "8", "9"]), 1 + r.below(7), r.digits(7)),
            },
            // Germany: Berlin, Munich, mobiles.
            82..=91 => match r.below(3) {
                0 => format!("+49 30 {}{} {}", 2 + r.below(7), r.digits(3), r.digits(4)),
                1 => format!("+49 89 {}{} {}", 2 + r.below(7), r.digits(2), r.digits(4)),
                _ => match r.below(4) {
                    0 => format!("+49 151 {} {}", r.digits(4), r.digits(4)),
                    1 => format!("+49 176 {} {}", r.digits(4), r.digits(4)),
                    _ => format!("+49 {} {}", r.pick(&["160", "170", "171"]), r.digits(7)),
                },
            },
            // France: Paris, Lyon, mobiles.
            _ => {
                let prefix = r.pick(&["1", "4", "6", "7"]);
                let rest: Vec<String> = (0..4).map(|_| r.digits(2)).collect();
                format!("+33 {prefix} {}", rest.join(" "))
            }
        };
        // A rare pattern the numbering plan does not allow is simply drawn again, and so is one the parser
        // reads as another number than written (the stored digits must end with the digits typed).
        if let Ok(entry) = super::input::phone("phone", &raw, Some(kind), policy) {
            let typed: String =
                raw.split(" ext.").next().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
            if entry.digits.ends_with(&typed) {
                return entry;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_deterministic_varied_and_valid() {
        let policy = PhonePolicy::default();
        let a: Vec<ContactFields> = (0..2_000).map(|i| fields(42, i, &policy)).collect();
        let b: Vec<ContactFields> = (0..2_000).map(|i| fields(42, i, &policy)).collect();
        assert_eq!(a, b, "same seed, same contacts");
        assert_ne!(a[0], fields(43, 0, &policy), "another seed, other contacts");
        for f in &a {
            assert!(f.is_identifiable());
            assert!((1..=3).contains(&f.phones.len()), "{f:?}");
            for p in &f.phones {
                let again = super::super::input::phone("p", &p.raw, Some(&p.kind), &policy).unwrap();
                assert_eq!(&again, p);
                assert!(p.e164.is_some() && p.digits.len() >= 10, "{p:?}");
            }
        }
        let countries =
            |prefix: &str| a.iter().flat_map(|f| &f.phones).filter(|p| p.digits.starts_with(prefix)).count();
        for cc in ["1", "44", "49", "33"] {
            assert!(countries(cc) > 50, "numbers in +{cc}");
        }
        assert!(a.iter().any(|f| f.given_name.as_deref().is_some_and(|n| !n.is_ascii())), "non-ASCII names");
        assert!(a.iter().any(|f| f.company.is_some() && f.given_name.is_none() && f.family_name.is_none()));
        assert!(a.iter().any(|f| !f.labels.is_empty()) && a.iter().any(|f| !f.emails.is_empty()));
        assert!(a.iter().flat_map(|f| &f.phones).any(|p| p.extension.is_some()), "some extensions");
    }
}
