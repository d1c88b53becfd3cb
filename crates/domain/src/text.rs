//! Text folding for sorting and searching names the way people expect: case and accents do not matter.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` lower-cased, with accents and other combining marks removed (NFD, marks dropped), Latin letters
/// without a decomposition filed under their ASCII base (`Ł` → `l`, `ß` → `ss`), control characters
/// dropped and runs of whitespace made one space, trimmed: "  Zoë  ÅSTRÖM " → "zoe astrom".
/// Scripts without case or accents (Japanese, Arabic, …) are kept as they are. The result is compared
/// byte-wise, so SQLite and PostgreSQL (`COLLATE "C"`) order folded keys identically.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // Lower-case first: some capitals lower-case into letters that decompose or need `latin_base`.
    let lowered: String = text.chars().flat_map(char::to_lowercase).collect();
    let letters = lowered.nfd().filter(|c| !is_combining_mark(*c)).flat_map(latin_base).flat_map(char::to_lowercase);
    for c in letters {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    // Characters that decompose differently after lower-casing (rare) are normalised once more.
    out.nfc().collect()
}

/// Latin letters that do not decompose into a base letter and a mark (`Ł`, `Ø`, `ß`, `Æ`, `Đ`, `Þ`) as the
/// ASCII letters people file them under; every other character as it is.
fn latin_base(c: char) -> impl Iterator<Item = char> {
    let latin = matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}');
    let replaced = latin.then(|| deunicode::deunicode_char(c)).flatten().filter(|s| !s.is_empty());
    let (one, many) = match replaced {
        Some(s) => (None, Some(s.chars().collect::<Vec<_>>())),
        None => (Some(c), None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::fold;
    use proptest::prelude::*;

    #[test]
    fn folds_case_accents_and_spaces() {
        assert_eq!(fold("  Zoë  ÅSTRÖM "), "zoe astrom");
        assert_eq!(fold("Ñandú Çelik"), "nandu celik");
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("Straße Łukasz Øre Æsir"), "strasse lukasz ore aesir");
        assert_eq!(fold("Ann\u{7}\tLee"), "ann lee");
        assert_eq!(fold("日本 太郎"), "日本 太郎");
        assert_eq!(fold(""), "");
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert!(!once.chars().any(char::is_control));
        }
    }
}
