//! A minimal XML writer for the directory documents: one element per line, every text and attribute value
//! escaped (`& < > " '`), so callers only decide structure and content.

use super::Charset;
use quick_xml::escape::escape;

pub(super) struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document whose declaration names `encoding` (as the vendor spells it).
    pub(super) fn new(encoding: &str) -> Self {
        Self { out: format!("<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n"), open: Vec::new() }
    }

    fn start(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.out.push_str(&"  ".repeat(self.open.len()));
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            self.out.push_str(&escape(*value));
            self.out.push('"');
        }
    }

    /// Opens `<tag attrs…>`; closed by [`Xml::close`].
    pub(super) fn open(&mut self, tag: &'static str, attrs: &[(&str, &str)]) {
        self.start(tag, attrs);
        self.out.push_str(">\n");
        self.open.push(tag);
    }

    /// Closes the innermost open element.
    pub(super) fn close(&mut self) {
        let Some(tag) = self.open.pop() else { return };
        self.out.push_str(&"  ".repeat(self.open.len()));
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
    }

    /// `<tag>text</tag>`.
    pub(super) fn leaf(&mut self, tag: &str, text: &str) {
        self.start(tag, &[]);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
    }

    /// `<tag attrs…/>`.
    pub(super) fn empty(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.start(tag, attrs);
        self.out.push_str("/>\n");
    }

    /// The document's bytes in `charset` (which must match the declaration).
    pub(super) fn finish(mut self, charset: Charset) -> Vec<u8> {
        while !self.open.is_empty() {
            self.close();
        }
        charset.encode(self.out)
    }
}
