//! The character set of a Cisco document, chosen from the phone's `Accept-Charset`.
//!
//! Cisco: the encoding in the XML declaration and in the `Content-Type` charset must match one the phone
//! lists in `Accept-Charset`; without them the phone assumes its locale's encoding. Old 79x0 models send
//! `iso-8859-1, utf-8;q=0.8` and show only Latin-1 characters, so they get ISO-8859-1 with other characters
//! transliterated; newer models send `utf-8`.

use super::clean;
use std::borrow::Cow;

/// The encoding of a Cisco document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    Utf8,
    /// ISO-8859-1: characters outside Latin-1 are transliterated ("Łukasz" → "Lukasz"; "Zoë" stays), emoji
    /// dropped.
    Latin1,
}

impl Charset {
    /// The charset the phone prefers by its `Accept-Charset` header (RFC 9110 §12.5.2): the higher q-value
    /// wins, `*` stands for any charset not listed, `q=0` means "not acceptable", a charset missing from a
    /// header without `*` is not acceptable. UTF-8 wins ties, and is the answer when there is no header or
    /// neither charset is acceptable (we send something rather than a 406).
    pub fn negotiate(accept_charset: Option<&str>) -> Self {
        let Some(header) = accept_charset else { return Charset::Utf8 };
        let (mut utf8, mut latin1, mut any) = (None, None, None);
        for item in header.split(',') {
            let mut params = item.split(';');
            let name = params.next().unwrap_or_default().trim().to_ascii_lowercase();
            let mut q = Some(1000);
            for param in params {
                if let Some((key, value)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    q = qvalue(value.trim());
                }
            }
            // An item with a malformed q-value is ignored rather than guessed at.
            let Some(q) = q else { continue };
            let slot = match name.as_str() {
                "utf-8" | "utf8" | "csutf8" => &mut utf8,
                "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "iso_8859-1:1987" | "latin1" | "l1" | "iso-ir-100"
                | "ibm819" | "cp819" | "csisolatin1" => &mut latin1,
                "*" => &mut any,
                _ => continue,
            };
            slot.get_or_insert(q);
        }
        let utf8 = utf8.or(any).unwrap_or(0);
        let latin1 = latin1.or(any).unwrap_or(0);
        if latin1 > utf8 { Charset::Latin1 } else { Charset::Utf8 }
    }

    /// The HTTP `Content-Type` for a Cisco document in this charset.
    pub fn content_type(self) -> &'static str {
        match self {
            Charset::Utf8 => "text/xml; charset=utf-8",
            Charset::Latin1 => "text/xml; charset=iso-8859-1",
        }
    }

    /// The name in the XML declaration.
    pub fn xml_name(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Latin1 => "iso-8859-1",
        }
    }

    /// `text` (already [`clean`]) in characters this charset can carry. Lengths are counted on the result.
    pub fn text(self, text: &str) -> Cow<'_, str> {
        match self {
            Charset::Utf8 => Cow::Borrowed(text),
            Charset::Latin1 if text.chars().all(is_latin1) => Cow::Borrowed(text),
            Charset::Latin1 => {
                let mut out = String::with_capacity(text.len());
                for c in text.chars() {
                    if is_latin1(c) {
                        out.push(c);
                    } else if !is_pictograph(c) {
                        // deunicode knows most scripts ("Ł" → "L", "日" → "Ri "); "?" for what it does not.
                        out.push_str(deunicode::deunicode_char(c).unwrap_or("?"));
                    }
                }
                // Transliterations may add spaces at either end or double them.
                Cow::Owned(clean(&out))
            }
        }
    }

    /// The document's bytes. Markup and URLs are ASCII and text went through [`Charset::text`], so every
    /// character fits; anything else would become `?` rather than produce bytes that lie about the encoding.
    pub(super) fn encode(self, document: String) -> Vec<u8> {
        match self {
            Charset::Utf8 => document.into_bytes(),
            Charset::Latin1 => document.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect(),
        }
    }
}

fn is_latin1(c: char) -> bool {
    u32::from(c) <= 0xFF
}

/// Emoji, arrows, dingbats and their joiners and selectors: deunicode spells them as words ("🎉" → "tada"),
/// which read as part of a name, so a Latin-1 phone gets nothing for them instead.
fn is_pictograph(c: char) -> bool {
    matches!(
        u32::from(c),
        0x200D
            | 0x2190..=0x21FF
            | 0x2300..=0x23FF
            | 0x2500..=0x27BF
            | 0x2900..=0x297F
            | 0x2B00..=0x2BFF
            | 0xFE00..=0xFE0F
            | 0x1F000..=0x1FAFF
            | 0xE0000..=0xE007F
    )
}

/// An HTTP q-value in thousandths: `0`, `0.5`, `1`, `1.000`; `None` when malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}
