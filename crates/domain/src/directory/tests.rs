//! Golden, unit and property tests of the directory renderers. Every Cisco document the tests produce is
//! validated against `tests/directory/CiscoIPPhone.xsd` with xmllint (a sample of the property cases).

use super::cisco::{self, DirectoryPage, Entry, InputItem};
use super::*;
use crate::{ParsedPhone, PhonePolicy, Region};
use proptest::prelude::*;
use quick_xml::events::Event;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------------------
// Helpers

/// Our copy of the Cisco schema's constraints, shared with the server's end-to-end tests.
const CISCO_XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/directory/CiscoIPPhone.xsd");

/// Fails with xmllint's message unless `document` is valid against [`CISCO_XSD`].
fn validate_cisco(document: &[u8]) {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--schema", CISCO_XSD, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint must be installed (Debian: apt-get install libxml2-utils)");
    child.stdin.take().expect("stdin is piped").write_all(document).expect("xmllint reads the document");
    let output = child.wait_with_output().expect("xmllint runs");
    assert!(
        output.status.success(),
        "xmllint rejected the document:\n{}{}\n--- document ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        as_text(document),
    );
}

/// The document as text: UTF-8, or each byte a character when it declares ISO-8859-1.
fn as_text(document: &[u8]) -> String {
    if document.starts_with(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>") {
        document.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8(document.to_vec()).expect("a UTF-8 document is valid UTF-8")
    }
}

/// An element of a parsed document: its attributes (unescaped), its text (unescaped; only for leaves) and
/// its child elements.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.children.iter().find(|c| c.name == name).map(|n| n.text.as_str())
    }

    fn child_names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses `document` fully with quick-xml (declaration, matching tags, unique attributes, known entities,
/// only XML characters, one root, no text beside elements) and returns its root element.
fn parse(document: &[u8]) -> Node {
    let text = as_text(document);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\""), "no declaration:\n{text}");
    assert!(text.chars().all(is_xml_char), "a character XML forbids:\n{text:?}");
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut stack = vec![Node::default()];
    let element = |e: &quick_xml::events::BytesStart<'_>| Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap_or_else(|err| panic!("bad attribute: {err}\n{text}"));
                let value = a.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned();
                (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), value)
            })
            .collect(),
        ..Node::default()
    };
    loop {
        let event = reader.read_event().unwrap_or_else(|err| panic!("not well-formed: {err}\n{text}"));
        let top = stack.len() - 1;
        match event {
            Event::Decl(_) => assert_eq!(top, 0),
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let node = element(&e);
                stack[top].children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().unwrap();
                if !node.children.is_empty() {
                    assert!(node.text.trim().is_empty(), "text beside elements in <{}>", node.name);
                }
                stack[top - 1].children.push(node);
            }
            Event::Text(t) => stack[top].text.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                Some(c) => stack[top].text.push(c),
                None => {
                    let name = r.decode().unwrap();
                    let value = quick_xml::escape::resolve_predefined_entity(&name)
                        .unwrap_or_else(|| panic!("unknown entity &{name};"));
                    stack[top].text.push_str(value);
                }
            },
            Event::Eof => break,
            other => panic!("unexpected {other:?} in\n{text}"),
        }
    }
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(document.children.len(), 1, "one root element");
    assert!(document.text.trim().is_empty());
    document.children.remove(0)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn is_dial_string(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | ','))
}

fn region(code: &str) -> Region {
    Region::parse("region", code).unwrap()
}

fn settings(code: &str, outside_line: &str, domestic: DomesticDialing) -> DialSettings {
    DialSettings { outside_line: outside_line.into(), domestic, ..DialSettings::for_region(region(code)) }
}

/// A phone as the API would store it, parsed from `raw` in the US. Numbers written with `+` are parsed with
/// the region GB: phonenumber 0.3.10 strips the default region's trunk prefix from them, so with US it reads
/// `+49 170 1234567` as `+49 701234567` (a different, valid number).
fn phone(kind: &str, raw: &str) -> PhoneEntry {
    let code = if raw.starts_with('+') { "GB" } else { "US" };
    let policy = PhonePolicy { region: region(code), ..PhonePolicy::default() };
    let parsed = ParsedPhone::parse("phone", raw, &policy).unwrap_or_else(|e| panic!("{raw}: {e}"));
    PhoneEntry::new(parsed, kind)
}

fn contact(
    n: u128,
    given: Option<&str>,
    family: Option<&str>,
    display: &str,
    phones: Vec<PhoneEntry>,
) -> DirectoryContact {
    DirectoryContact {
        id: uuid::Uuid::from_u128(n),
        given_name: given.map(Into::into),
        family_name: family.map(Into::into),
        display_name: display.into(),
        phones,
    }
}

/// A small realistic book: several numbers of different types, a company-only contact, an internal
/// extension, a number with an extension, non-ASCII names, a long name, a number too long for Cisco.
fn book() -> Vec<DirectoryContact> {
    vec![
        contact(
            1,
            Some("Ann"),
            Some("Lee"),
            "Ann Lee",
            vec![
                phone("mobile", "+1 415 555 0100"),
                phone("work", "(415) 555-0199 ext. 12"),
                phone("home", "+44 20 7946 0958"),
            ],
        ),
        contact(
            2,
            None,
            None,
            "Acme & Sons \"Supply\" <Ltd>",
            vec![phone("main", "202-555-0143"), phone("fax", "202-555-0144")],
        ),
        contact(3, Some("Front"), Some("Desk"), "Front Desk", vec![phone("work", "100")]),
        contact(4, Some("Łukasz"), Some("Żółć"), "Łukasz Żółć", vec![phone("mobile", "+48 601 234 567")]),
        contact(5, Some("Zoë"), Some("O'Brien"), "Zoë O'Brien", vec![phone("work", "+33 1 42 68 53 00")]),
        contact(6, Some("太郎"), Some("山田"), "太郎 山田", vec![phone("work", "+81 3-1234-5678")]),
        contact(
            7,
            Some("Maximilian Alexander"),
            Some("von Hohenzollern-Sigmaringen"),
            "Maximilian Alexander von Hohenzollern-Sigmaringen",
            vec![
                phone("mobile", "+49 170 1234567"),
                phone("work", "+49 30 901820"),
                phone("mobile", "+49 171 1234567"),
            ],
        ),
        contact(
            8,
            Some("Conference"),
            Some("Bridge"),
            "Conference Bridge",
            vec![
                phone("work", "415 555 0123"),
                PhoneEntry {
                    raw: "+1 415 555 0123 ext. 1234567890123456789012".into(),
                    e164: Some("+14155550123".into()),
                    extension: Some("1234567890123456789012".into()),
                    digits: "14155550123".into(),
                    kind: "other".into(),
                    national: Some("4155550123".into()),
                },
            ],
        ),
        // No number: left out everywhere.
        contact(9, Some("No"), Some("Number"), "No Number", vec![]),
    ]
}

/// The golden book's dialling: a US office behind a PBX that wants 9 for an outside line.
fn golden_dial() -> DialSettings {
    settings("US", "9", DomesticDialing::National)
}

fn golden_page(charset_title: &str) -> DirectoryPage {
    let dial = golden_dial();
    let entries = book().iter().flat_map(|c| cisco::entries(c, &dial).0).collect();
    DirectoryPage {
        title: format!("Acme Directory {charset_title}"),
        prompt: "Page 1 of 2".into(),
        entries,
        previous: None,
        next: Some("http://switchboard.example/cisco/directory?page=2&t=abc".into()),
        search: Some("http://switchboard.example/cisco/search?t=abc".into()),
    }
}

/// Checks a Cisco document against the schema, and returns its text for a snapshot.
fn cisco_golden(document: &[u8]) -> String {
    validate_cisco(document);
    parse(document);
    as_text(document)
}

// ---------------------------------------------------------------------------------------------------------
// Golden documents

#[test]
fn golden_cisco_directory_utf8() {
    let document = cisco::directory(&golden_page("(UTF-8)"), Charset::Utf8);
    insta::assert_snapshot!("cisco_directory_utf8", cisco_golden(&document));
}

#[test]
fn golden_cisco_directory_latin1() {
    let document = cisco::directory(&golden_page("(Latin-1)"), Charset::Latin1);
    assert!(document.starts_with(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>"));
    // Zoë keeps her ë as the single Latin-1 byte 0xEB; Łukasz Żółć keeps only the ó, which Latin-1 has.
    assert!(document.windows(3).any(|w| w == b"Zo\xEB"));
    let text = as_text(&document);
    assert!(text.contains("Lukasz Zólc") && !text.contains('Ł'), "{text}");
    insta::assert_snapshot!("cisco_directory_latin1", cisco_golden(&document));
}

#[test]
fn golden_cisco_menu_input_text() {
    let base = "http://switchboard.example/cisco";
    let mut items = vec![
        ("All".to_owned(), format!("{base}/directory?t=abc")),
        ("Search".to_owned(), format!("{base}/search?t=abc")),
    ];
    items.extend(('A'..='Z').map(|c| (c.to_string(), format!("{base}/directory?letter={c}&t=abc"))));
    items.push(("#".to_owned(), format!("{base}/directory?letter=%23&t=abc")));
    let menu = cisco::menu("Acme Directory", "Choose a group", &items, Charset::Utf8);
    insta::assert_snapshot!("cisco_menu", cisco_golden(&menu));

    let fields = [
        InputItem { display_name: "Name".into(), param: "name".into(), flags: "A", default: String::new() },
        InputItem { display_name: "Number".into(), param: "number".into(), flags: "T", default: String::new() },
    ];
    let input = cisco::input("Search", "Name or number", &format!("{base}/directory?t=abc"), &fields, Charset::Utf8);
    insta::assert_snapshot!("cisco_input", cisco_golden(&input));

    let text = cisco::text("Acme Directory", "No entries.\nTry another search.", Charset::Latin1);
    insta::assert_snapshot!("cisco_text", cisco_golden(&text));
}

#[test]
fn golden_other_vendors() {
    let (book, dial) = (book(), golden_dial());
    for (name, document) in [
        ("yealink", yealink("Acme Directory", &book, &dial)),
        ("grandstream", grandstream(&book, &dial, 0)),
        ("snom", snom(&book, &dial)),
        ("poly", poly(&book, &dial)),
    ] {
        parse(&document);
        insta::assert_snapshot!(name, as_text(&document));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Unit tests

#[test]
fn accept_charset_negotiation() {
    use Charset::{Latin1, Utf8};
    for (header, expected) in [
        (None, Utf8),
        (Some(""), Utf8),
        (Some("utf-8"), Utf8),
        (Some("UTF-8"), Utf8),
        (Some("iso-8859-1"), Latin1),
        // Old 79x0 models.
        (Some("iso-8859-1, utf-8;q=0.8"), Latin1),
        (Some("utf-8;q=0, iso-8859-1"), Latin1),
        (Some("iso-8859-1;q=0, utf-8"), Utf8),
        (Some("utf-8;q=0.5, iso-8859-1;q=0.5"), Utf8),
        (Some("utf-8 ; q=0.4 , ISO-8859-1 ; Q=0.6"), Latin1),
        (Some("latin1;q=0.9, utf-8;q=0.1"), Latin1),
        (Some("*"), Utf8),
        (Some("*;q=0.5, utf-8;q=0.1"), Latin1),
        (Some("iso-8859-1;q=0.2, *"), Utf8),
        // Only other charsets: neither is acceptable; UTF-8 rather than nothing.
        (Some("koi8-r"), Utf8),
        (Some("utf-8;q=0, iso-8859-1;q=0"), Utf8),
        // Garbage and malformed q-values are ignored.
        (Some("garbage;;;=,,"), Utf8),
        (Some("iso-8859-1;q=2, utf-8;q=0.1"), Utf8),
        (Some("iso-8859-1;q=abc"), Utf8),
        (Some("iso-8859-1;q=0.0001, utf-8;q=0"), Utf8),
        (Some("\u{0}\u{FFFF}"), Utf8),
    ] {
        assert_eq!(Charset::negotiate(header), expected, "{header:?}");
    }
    assert_eq!(Charset::Utf8.content_type(), "text/xml; charset=utf-8");
    assert_eq!(Charset::Latin1.content_type(), "text/xml; charset=iso-8859-1");
}

#[test]
fn latin1_transliterates_only_what_it_must() {
    assert_eq!(Charset::Latin1.text("Łukasz"), "Lukasz");
    assert_eq!(Charset::Latin1.text("Zoë Ångström ß"), "Zoë Ångström ß");
    assert_eq!(Charset::Latin1.text("山田 太郎"), "Shan Tian Tai Lang");
    assert_eq!(Charset::Latin1.text("Ann 🎉 Lee 👩‍👩‍👧 \u{10FFFD} ➡️ ☎"), "Ann Lee ?");
    assert_eq!(Charset::Utf8.text("Łukasz"), "Łukasz");
    // Decomposed input is composed first, so the ë survives.
    assert_eq!(Charset::Latin1.text(&clean("Zoe\u{308}")), "Zoë");
}

#[test]
fn cleaning_removes_control_characters() {
    assert_eq!(clean("  Ann\u{0}\u{7}\t\r\n Lee\u{1b}[1m \u{FFFE}"), "Ann Lee[1m");
    assert_eq!(clean("\u{202E}evil"), "\u{202E}evil");
    assert_eq!(clean(""), "");
}

#[test]
fn dial_string_defaults_come_from_the_region() {
    for (code, prefix) in
        [("US", "011"), ("CA", "011"), ("GB", "00"), ("DE", "00"), ("FR", "00"), ("JP", "010"), ("AU", "0011")]
    {
        let dial = DialSettings::for_region(region(code));
        assert_eq!(dial.international_prefix, prefix, "{code}");
        assert_eq!((dial.outside_line.as_str(), &dial.domestic), ("", &DomesticDialing::National));
        dial.validate().unwrap();
    }
}

#[test]
fn dial_strings_per_country_and_mode() {
    use DomesticDialing::{International, National, NationalWithPrefix};
    let us = phone("work", "+1 415 555 0100");
    let ca = phone("work", "+1 416 555 0100");
    let uk = phone("work", "+44 20 7946 0958");
    let de = phone("work", "+49 30 901820");
    let fr = phone("work", "+33 1 42 68 53 00");
    let cases: [(&str, DomesticDialing, &PhoneEntry, &str); 16] = [
        ("US", National, &us, "4155550100"),
        ("US", National, &ca, "4165550100"),
        ("US", NationalWithPrefix("1".into()), &us, "14155550100"),
        ("US", International, &us, "01114155550100"),
        ("US", National, &uk, "011442079460958"),
        ("GB", National, &uk, "02079460958"),
        ("GB", NationalWithPrefix("0".into()), &uk, "02079460958"),
        ("GB", International, &uk, "00442079460958"),
        ("GB", National, &us, "0014155550100"),
        ("DE", National, &de, "030901820"),
        ("DE", NationalWithPrefix("0".into()), &de, "030901820"),
        ("DE", International, &de, "004930901820"),
        ("DE", National, &fr, "0033142685300"),
        ("FR", National, &fr, "0142685300"),
        ("FR", International, &fr, "0033142685300"),
        ("FR", National, &de, "004930901820"),
    ];
    for (code, mode, phone, expected) in cases {
        let plain = settings(code, "", mode.clone());
        assert_eq!(dial_string(phone, &plain).as_deref(), Some(expected), "{code} {mode:?} {}", phone.raw);
        // An outside-line prefix goes before every public number.
        let outside = settings(code, "9", mode.clone());
        assert_eq!(dial_string(phone, &outside), Some(format!("9{expected}")), "{code} {mode:?} {}", phone.raw);
    }
}

#[test]
fn dial_strings_for_extensions() {
    let us = settings("US", "9,", DomesticDialing::National);
    // Internal extensions are dialled as they are, without the outside line.
    assert_eq!(dial_string(&phone("work", "100"), &us).as_deref(), Some("100"));
    assert_eq!(dial_string(&phone("work", "12-34"), &us).as_deref(), Some("1234"));
    // A number with an extension: the number, a pause, the extension.
    assert_eq!(dial_string(&phone("work", "415 555 0100 ext. 12"), &us).as_deref(), Some("9,4155550100,12"));
    let uk = settings("GB", "", DomesticDialing::National);
    assert_eq!(dial_string(&phone("work", "+44 20 7946 0958 x 345"), &uk).as_deref(), Some("02079460958,345"));
    // Nothing dialable.
    let empty = PhoneEntry {
        raw: "?".into(),
        e164: None,
        extension: None,
        digits: String::new(),
        kind: "work".into(),
        national: None,
    };
    assert_eq!(dial_string(&empty, &us), None);
    // Settings with junk never leak it into a dial string, and validation names the field.
    let junk = settings("US", "9 (outside)", DomesticDialing::NationalWithPrefix("+1".into()));
    assert_eq!(dial_string(&phone("work", "+1 415 555 0100"), &junk).as_deref(), Some("914155550100"));
    assert_eq!(junk.validate().unwrap_err().field, "outside_line");
    let junk = DialSettings { international_prefix: String::new(), ..DialSettings::default() };
    assert_eq!(junk.validate().unwrap_err().field, "international_prefix");
}

#[test]
fn cisco_entries_one_per_number_with_suffixes() {
    let dial = golden_dial();
    let book = book();
    let (ann, skipped) = cisco::entries(&book[0], &dial);
    assert!(skipped.is_empty());
    let lines: Vec<(String, &str)> = ann.iter().map(|e| (e.label(Charset::Utf8), e.telephone.as_str())).collect();
    assert_eq!(
        lines,
        [
            ("Ann Lee (m)".to_owned(), "94155550100"),
            ("Ann Lee (w)".to_owned(), "94155550199,12"),
            ("Ann Lee (h)".to_owned(), "9011442079460958"),
        ]
    );
    // One number: no suffix.
    let (desk, _) = cisco::entries(&book[2], &dial);
    assert_eq!((desk[0].label(Charset::Utf8).as_str(), desk[0].telephone.as_str()), ("Front Desk", "100"));
    // A long name is cut, its suffix kept; a repeated type is numbered.
    let (max, _) = cisco::entries(&book[6], &dial);
    let labels: Vec<String> = max.iter().map(|e| e.label(Charset::Utf8)).collect();
    assert_eq!(
        labels,
        ["Maximilian Alexander von Hoh (m)", "Maximilian Alexander von Hoh (w)", "Maximilian Alexander von Ho (m2)"]
    );
    assert!(labels.iter().all(|l| chars(l) <= 32));
    // A number too long to dial from a Cisco directory is skipped and reported; the other one has no suffix.
    let (bridge, skipped) = cisco::entries(&book[7], &dial);
    assert_eq!(skipped, ["+1 415 555 0123 ext. 1234567890123456789012"]);
    assert_eq!(bridge.len(), 1);
    assert_eq!(bridge[0].suffix, "");
    // No name at all: listed under the number.
    let nameless = contact(10, Some("\u{7}"), None, " ", vec![phone("work", "101")]);
    assert_eq!(cisco::entries(&nameless, &dial).0[0].label(Charset::Utf8), "101");
    let emoji = Entry { name: "🎉".into(), suffix: "m".into(), telephone: "102".into() };
    assert_eq!((emoji.label(Charset::Utf8).as_str(), emoji.label(Charset::Latin1).as_str()), ("🎉 (m)", "102 (m)"));
}

#[test]
fn cisco_latin1_lengths_count_after_transliteration() {
    // 20 CJK characters fit in UTF-8 but transliterate to far more than 32 characters.
    let name = "山".repeat(20);
    let entry = Entry { name: name.clone(), suffix: "m".into(), telephone: "100".into() };
    assert_eq!(entry.label(Charset::Utf8), format!("{name} (m)"));
    let latin1 = entry.label(Charset::Latin1);
    assert!(latin1.ends_with(" (m)") && chars(&latin1) <= 32 && latin1.starts_with("Shan Shan"), "{latin1}");
    let page = DirectoryPage { entries: vec![entry], ..DirectoryPage::default() };
    validate_cisco(&cisco::directory(&page, Charset::Latin1));
}

#[test]
fn cisco_refuses_what_the_schema_does_not_allow() {
    let long_url = format!("http://switchboard.example/{}", "x".repeat(250));
    let entries: Vec<Entry> = (0..40)
        .map(|i| Entry::new(format!("Person {i}"), format!("{}", 1000 + i)))
        .chain([Entry::new("Bad", "+14155550100"), Entry::new("Too long", "1".repeat(33)), Entry::new("Empty", "")])
        .collect();
    let page = DirectoryPage {
        title: "T".repeat(40),
        prompt: String::new(),
        entries,
        previous: Some("http://switchboard.example/é?q=ü ".into()),
        next: Some(long_url.clone()),
        search: Some(String::new()),
    };
    let document = cisco::directory(&page, Charset::Utf8);
    validate_cisco(&document);
    let root = parse(&document);
    assert_eq!(root.text_of("Title").map(chars), Some(32));
    assert_eq!(root.all("Prompt").count(), 0);
    assert_eq!(root.all("DirectoryEntry").count(), 32);
    let keys: Vec<(&str, &str)> =
        root.all("SoftKeyItem").map(|k| (k.text_of("Name").unwrap(), k.text_of("URL").unwrap())).collect();
    // The overlong Next and the empty Search are left out; the Previous URL is percent-encoded.
    assert_eq!(
        keys,
        [
            ("Dial", "SoftKey:Dial"),
            ("EditDial", "SoftKey:EditDial"),
            ("Exit", "SoftKey:Exit"),
            ("Previous", "http://switchboard.example/%C3%A9?q=%C3%BC"),
        ]
    );

    // A menu shows at most 100 items with usable URLs, names cut to 64 characters.
    let items: Vec<(String, String)> = (0..120)
        .map(|i| ("N".repeat(70), if i % 10 == 0 { long_url.clone() } else { format!("http://x.example/{i}") }))
        .collect();
    let menu = cisco::menu("Menu", "", &items, Charset::Latin1);
    validate_cisco(&menu);
    let root = parse(&menu);
    assert_eq!(root.all("MenuItem").count(), 100);
    assert!(root.all("MenuItem").all(|m| chars(m.text_of("Name").unwrap()) == 64));

    // An input shows at most 5 valid items; without a usable URL it becomes a text.
    let item = |param: &str, flags: &'static str| InputItem {
        display_name: "Field".into(),
        param: param.into(),
        flags,
        default: "x".repeat(40),
    };
    let items = [item("a", "A"), item("", "A"), item("b c", "T"), item("c", "X"), item(&"p".repeat(33), "T")]
        .into_iter()
        .chain((0..6).map(|i| item(&format!("f{i}"), "T")))
        .collect::<Vec<_>>();
    let input = cisco::input("Search", "", "http://x.example/s", &items, Charset::Utf8);
    validate_cisco(&input);
    let root = parse(&input);
    let params: Vec<&str> = root.all("InputItem").map(|i| i.text_of("QueryStringParam").unwrap()).collect();
    assert_eq!(params, ["a", "f0", "f1", "f2", "f3"]);
    let refused = cisco::input("Search", "", &long_url, &items, Charset::Utf8);
    validate_cisco(&refused);
    assert_eq!(parse(&refused).name, "CiscoIPPhoneText");

    // A text is cut to 4000 characters.
    let text = cisco::text("Title", &"é".repeat(5000), Charset::Latin1);
    validate_cisco(&text);
    assert_eq!(parse(&text).text_of("Text").map(chars), Some(4000));
}

#[test]
fn poly_cuts_names_to_40_bytes_and_keeps_numbers_unique() {
    let dial = golden_dial();
    let long = "Żółć".repeat(10); // 2 bytes a character
    let book = [
        contact(1, Some(&long), Some(&long), "", vec![phone("mobile", "100"), phone("work", "101")]),
        contact(2, None, None, &long, vec![phone("work", "101"), phone("home", "102")]),
    ];
    let root = parse(&poly(&book, &dial));
    let items: Vec<(Option<&str>, Option<&str>, &str)> = root
        .all("item_list")
        .flat_map(|l| l.all("item"))
        .map(|i| (i.text_of("fn"), i.text_of("ln"), i.text_of("ct").unwrap()))
        .collect();
    let twenty = "Żółć".repeat(5);
    let eighteen: String = "Żółć".repeat(5).chars().take(18).collect(); // 36 bytes + " (m)"
    assert_eq!(
        items,
        [
            (Some(twenty.as_str()), Some(format!("{eighteen} (m)").as_str()), "100"),
            (Some(twenty.as_str()), Some(format!("{eighteen} (w)").as_str()), "101"),
            // 101 is already listed: the company keeps only its home number.
            (Some(format!("{eighteen} (h)").as_str()), None, "102"),
        ]
    );
}

#[test]
fn yealink_splits_more_than_three_numbers_into_units() {
    let phones = (0..5).map(|i| phone("work", &format!("10{i}"))).collect();
    let root = parse(&yealink("Book", &[contact(1, Some("Ann"), None, "Ann", phones)], &DialSettings::default()));
    let units: Vec<&Vec<(String, String)>> = root.all("Menu").flat_map(|m| m.all("Unit")).map(|u| &u.attrs).collect();
    let pairs = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(
        units,
        [
            &pairs(&[("Name", "Ann"), ("Phone1", "100"), ("Phone2", "101"), ("Phone3", "102")]),
            &pairs(&[("Name", "Ann"), ("Phone1", "103"), ("Phone2", "104")]),
        ]
    );
}

// ---------------------------------------------------------------------------------------------------------
// Property tests

/// Names as hostile as we can make them.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        proptest::sample::select(vec![
            "<",
            "&",
            "\"'",
            "&amp;",
            "]]>",
            "</Name><Telephone>1</Telephone>",
            "<!-- x -->",
            "<![CDATA[x]]>",
            "👩‍👩‍👧‍👦 🎉",
            "مرحبا بالعالم",
            "שלום עולם",
            "\u{202E}evil\u{202C}",
            "a\u{0}b\u{7}c\u{1b}[31m",
            "\u{FFFE}\u{FFFF}",
            "\r\n\t",
            "Ł\u{308}",
            "&#0;",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Zäöü山 ]{250,300}",
        "[\u{0590}-\u{05FF}\u{0600}-\u{06FF} ]{1,60}",
    ]
}

fn kind() -> impl Strategy<Value = String> {
    proptest::sample::select(vec!["mobile", "work", "home", "main", "fax", "other"]).prop_map(str::to_owned)
}

fn phone_entry() -> impl Strategy<Value = PhoneEntry> {
    prop_oneof![
        3 => ("[1-9][0-9]{6,14}", proptest::option::of("[0-9]{1,30}"), kind()).prop_map(|(digits, extension, kind)| {
            // No stored national form: dialling falls back to reading it from the metadata.
            PhoneEntry { raw: format!("+{digits}"), e164: Some(format!("+{digits}")), extension, digits, kind, national: None }
        }),
        1 => ("[0-9]{2,6}", kind()).prop_map(|(digits, kind)| PhoneEntry {
            raw: digits.clone(),
            e164: None,
            extension: None,
            digits,
            kind,
            national: None,
        }),
    ]
}

fn contact_strategy() -> impl Strategy<Value = DirectoryContact> {
    (
        any::<u128>(),
        proptest::option::of(name()),
        proptest::option::of(name()),
        name(),
        proptest::collection::vec(phone_entry(), 0..6),
    )
        .prop_map(|(id, given_name, family_name, display_name, phones)| DirectoryContact {
            id: uuid::Uuid::from_u128(id),
            given_name,
            family_name,
            display_name,
            phones,
        })
}

fn dial_settings() -> impl Strategy<Value = DialSettings> {
    (
        proptest::sample::select(vec!["US", "GB", "DE", "FR", "JP", "IN"]),
        "[0-9,]{0,3}",
        prop_oneof![
            Just(DomesticDialing::National),
            "[0-9]{0,2}".prop_map(DomesticDialing::NationalWithPrefix),
            Just(DomesticDialing::International),
        ],
    )
        .prop_map(|(code, outside, domestic)| settings(code, &outside, domestic))
}

fn url() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "http://switchboard\\.example/cisco/[a-z]{1,20}\\?page=[0-9]{1,3}&t=[a-z0-9]{1,16}",
        "http://switchboard\\.example/\\PC{0,40}",
        "http://switchboard\\.example/[a-z]{250,260}",
        any::<String>(),
    ])
}

/// Every property case counts here; every 8th has its Cisco documents validated with xmllint.
static CASES: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn every_vendor_document_is_well_formed_within_limits_and_dials_the_dial_strings(
        contacts in proptest::collection::vec(contact_strategy(), 0..8),
        dial in dial_settings(),
        latin1 in any::<bool>(),
        (title, prompt) in (name(), name()),
        (previous, next, search) in (url(), url(), url()),
    ) {
        let charset = if latin1 { Charset::Latin1 } else { Charset::Utf8 };
        let validate = CASES.fetch_add(1, Ordering::Relaxed).is_multiple_of(8);
        let numbers: Vec<String> = contacts.iter().flat_map(|c| c.phones.iter().filter_map(|p| dial_string(p, &dial))).collect();
        prop_assert!(numbers.iter().all(|n| is_dial_string(n)));

        // Cisco: entries carry exactly the dial strings that fit; the rest are reported.
        let mut entries = Vec::new();
        for contact in &contacts {
            let (mine, skipped) = cisco::entries(contact, &dial);
            let fit: Vec<String> = contact.phones.iter().filter_map(|p| dial_string(p, &dial)).filter(|d| chars(d) <= 32).collect();
            prop_assert_eq!(mine.iter().map(|e| e.telephone.clone()).collect::<Vec<_>>(), fit);
            let long = contact.phones.iter().filter(|p| dial_string(p, &dial).is_some_and(|d| chars(&d) > 32)).count();
            prop_assert_eq!(skipped.len(), long);
            entries.extend(mine);
        }
        let page = DirectoryPage { title: title.clone(), prompt: prompt.clone(), entries: entries.clone(), previous, next, search };
        let document = cisco::directory(&page, charset);
        let root = parse(&document);
        prop_assert_eq!(&root.name, "CiscoIPPhoneDirectory");
        let shown: Vec<&Node> = root.all("DirectoryEntry").collect();
        prop_assert_eq!(shown.len(), entries.len().min(32));
        for (node, entry) in shown.iter().zip(&entries) {
            prop_assert_eq!(node.child_names(), ["Name", "Telephone"]);
            let (name, telephone) = (node.text_of("Name").unwrap(), node.text_of("Telephone").unwrap());
            prop_assert!(chars(name) <= 32 && chars(telephone) <= 32);
            prop_assert_eq!(telephone, entry.telephone.as_str());
            prop_assert_eq!(name, entry.label(charset));
            if !entry.suffix.is_empty() {
                let suffix = format!("({})", entry.suffix);
                prop_assert!(name.ends_with(&suffix), "{} lost its suffix", name);
            }
        }
        let keys: Vec<&Node> = root.all("SoftKeyItem").collect();
        prop_assert!((3..=8).contains(&keys.len()));
        for (i, key) in keys.iter().enumerate() {
            prop_assert_eq!(key.child_names(), ["Name", "Position", "URL"]);
            prop_assert_eq!(key.text_of("Position").unwrap(), (i + 1).to_string());
            prop_assert!(chars(key.text_of("URL").unwrap()) <= 256);
        }
        for tag in ["Title", "Prompt"] {
            prop_assert!(root.text_of(tag).is_none_or(|t| chars(t) <= 32 && !t.is_empty()));
        }

        let items: Vec<(String, String)> = contacts.iter().map(|c| (c.display_name.clone(), c.display_name.clone())).collect();
        let menu = cisco::menu(&title, &prompt, &items, charset);
        prop_assert!(parse(&menu).all("MenuItem").all(|m| chars(m.text_of("Name").unwrap()) <= 64));
        let fields = [InputItem { display_name: title.clone(), param: "q".into(), flags: "A", default: prompt.clone() }];
        let input = cisco::input(&title, &prompt, page.search.as_deref().unwrap_or_default(), &fields, charset);
        parse(&input);
        let text = cisco::text(&title, &prompt, charset);
        parse(&text);
        if validate {
            for document in [&document, &menu, &input, &text] {
                validate_cisco(document);
            }
        }

        // Yealink: every dial string, in order, at most 3 per Unit.
        let root = parse(&yealink(&title, &contacts, &dial));
        let units: Vec<&Node> = root.all("Menu").flat_map(|m| m.all("Unit")).collect();
        let mut phones = Vec::new();
        for unit in &units {
            prop_assert!(unit.attr("Name").is_some());
            let mine: Vec<String> = ["Phone1", "Phone2", "Phone3"].iter().filter_map(|a| unit.attr(a)).map(str::to_owned).collect();
            prop_assert!(!mine.is_empty() && unit.attrs.len() == 1 + mine.len());
            phones.extend(mine);
        }
        prop_assert_eq!(&phones, &numbers);

        // Grandstream: every dial string; each contact has a first or last name.
        let root = parse(&grandstream(&contacts, &dial, 1));
        let mut phones = Vec::new();
        for contact in root.all("Contact") {
            prop_assert!(contact.all("FirstName").chain(contact.all("LastName")).any(|n| !n.text.is_empty()));
            for phone in contact.all("Phone") {
                prop_assert!(["Work", "Home", "Mobile", "Fax", "Other"].contains(&phone.attr("type").unwrap()));
                prop_assert_eq!(phone.text_of("accountindex"), Some("1"));
                phones.push(phone.text_of("phonenumber").unwrap().to_owned());
            }
        }
        prop_assert_eq!(&phones, &numbers);

        // Snom: every dial string.
        let root = parse(&snom(&contacts, &dial));
        prop_assert_eq!((root.attr("e"), root.attr("version")), (Some("2"), Some("2.0")));
        let phones: Vec<String> = root
            .all("contact")
            .flat_map(|c| c.all("numbers").flat_map(|n| n.all("number")))
            .map(|n| n.attr("no").unwrap().to_owned())
            .collect();
        prop_assert_eq!(&phones, &numbers);

        // Poly: each dial string once (the first wins), fn/ln within 40 bytes.
        let root = parse(&poly(&contacts, &dial));
        let mut unique = numbers.clone();
        let mut seen = std::collections::HashSet::new();
        unique.retain(|n| seen.insert(n.clone()));
        let items: Vec<&Node> = root.all("item_list").flat_map(|l| l.all("item")).collect();
        let cts: Vec<String> = items.iter().map(|i| i.text_of("ct").unwrap().to_owned()).collect();
        prop_assert_eq!(&cts, &unique);
        for item in items {
            prop_assert!(item.all("fn").chain(item.all("ln")).all(|n| n.text.len() <= 40));
        }
    }
}
