//! Text from other users (names, rooms, chat, reasons) made safe to show:
//! every front end passes peer-provided strings through [`printable`] or
//! [`printable_multiline`] before a terminal or a UI shows them. A server
//! refuses such characters in names and control characters in chat, but a
//! front end does not rely on a server it does not control.
//!
//! The rule: each character that [`voice_proto::text::classify`] finds
//! unsafe (control characters, bidi controls, invisible characters) is
//! written as the visible ASCII escape `\u{XXXX}` (`\u{1B}` for ESC,
//! `\u{202E}` for a right-to-left override); everything else, including
//! right-to-left letters and emoji, shows as itself.

use std::borrow::Cow;
use std::fmt::Write;

use voice_proto::text::classify;

/// One line of untrusted text (a name, a room name, a reason) made safe:
/// every unsafe character, newline and tab included, becomes `\u{XXXX}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// Free text (a chat message, a description) made safe: like
/// [`printable`], but newlines and tabs stay.
pub fn printable_multiline(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| !keep(c) && classify(c).is_some();
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_bidi_and_invisible_characters_visibly() {
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "\\u{1B}]0;pwned\\u{7}\\u{1B}[2J"
        );
        assert_eq!(printable("eve\u{202E}nimda"), "eve\\u{202E}nimda");
        assert_eq!(printable("ad\u{200B}min"), "ad\\u{200B}min");
        assert_eq!(printable("a\nb\tc\u{9b}"), "a\\u{A}b\\u{9}c\\u{9B}");
        assert_eq!(printable_multiline("a\nb\tc\r"), "a\nb\tc\\u{D}");
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        for text in ["Ada", "שלום עולם", "字 😀 é", "C:\\path"] {
            assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
        }
    }
}
