//! Characters that must not reach another user unseen: one classification
//! for the checks on entry (names in [`crate::state`], chat and kick
//! reasons at the server) and for the escaping on output in every front end.
//!
//! Three kinds of character are unsafe:
//! - control characters (C0, DEL, C1): a terminal obeys them (ESC starts an
//!   escape sequence that can retitle the window, clear the screen or fake
//!   output);
//! - bidirectional controls (U+061C, U+200E/200F, U+202A–202E,
//!   U+2066–2069): they reorder the text around them, so `eve\u{202E}nimda`
//!   shows as `eveadmin`;
//! - invisible characters (zero-width spaces and joiners, word joiner,
//!   invisible operators, BOM, soft hyphen, fillers, tags, line and
//!   paragraph separators…): `ad\u{200B}min` looks like `admin`.

use std::fmt;

/// Why a character is unsafe to show as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// A C0 or C1 control character, or DEL.
    Control,
    /// A bidirectional formatting control.
    Bidi,
    /// A character that shows nothing (zero-width, invisible, a filler).
    Invisible,
}

impl Unsafe {
    /// What the kind is, for an error message.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Control => "a control character",
            Self::Bidi => "a bidirectional control (it reorders the text around it)",
            Self::Invisible => "an invisible character",
        }
    }
}

/// Whether `c` is unsafe to show, and why; `None` for a character that
/// shows as itself.
pub fn classify(c: char) -> Option<Unsafe> {
    if c.is_control() {
        return Some(Unsafe::Control);
    }
    match c {
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
            Some(Unsafe::Bidi)
        }
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{115F}' | '\u{1160}'       // Hangul choseong/jungseong fillers
        | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'       // Mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200D}'       // zero-width space, non-joiner, joiner
        | '\u{2028}' | '\u{2029}'       // line and paragraph separators
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{206A}'..='\u{206F}'       // deprecated format characters
        | '\u{3164}'                    // Hangul filler
        | '\u{FEFF}'                    // zero-width no-break space (BOM)
        | '\u{FFA0}'                    // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'     // musical format controls
        | '\u{E0000}'..='\u{E007F}' => Some(Unsafe::Invisible), // tags
        _ => None,
    }
}

/// The first character of `text` that a name must not hold (any unsafe
/// character, see [`classify`]).
pub fn unsafe_in_name(text: &str) -> Option<(char, Unsafe)> {
    text.chars().find_map(|c| classify(c).map(|k| (c, k)))
}

/// The first control character of a message (chat, kick reason) other
/// than newline and tab; bidi controls and invisible characters may stay in
/// messages (right-to-left text needs some) and are escaped on output.
pub fn control_in_message(text: &str) -> Option<char> {
    text.chars()
        .find(|&c| c.is_control() && c != '\n' && c != '\t')
}

/// A message with every control character but newline and tab removed.
pub fn strip_controls(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect()
}

/// A character as `U+XXXX`, for messages that name it.
pub struct CodePoint(pub char);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", u32::from(self.0))
    }
}

/// Why a text holding `c` (of kind `kind`) is refused, and what to do:
/// `U+202E is a bidirectional control (…); remove it`.
pub fn refusal(c: char, kind: Unsafe) -> String {
    format!(
        "{} is {}; remove it (names may hold letters, digits, spaces, punctuation and emoji)",
        CodePoint(c),
        kind.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisible_are_unsafe() {
        for c in ['\u{1b}', '\0', '\n', '\u{7f}', '\u{9b}', '\u{85}'] {
            assert_eq!(classify(c), Some(Unsafe::Control), "{c:?}");
        }
        for c in [
            '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}',
        ] {
            assert_eq!(classify(c), Some(Unsafe::Bidi), "{c:?}");
        }
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{E0041}',
        ] {
            assert_eq!(classify(c), Some(Unsafe::Invisible), "{c:?}");
        }
        for c in ['a', 'é', ' ', 'ש', 'ع', '字', '😀', '\u{301}'] {
            assert_eq!(classify(c), None, "{c:?}");
        }
    }

    #[test]
    fn messages_keep_newlines_and_tabs() {
        assert_eq!(control_in_message("a\nb\tc ש"), None);
        assert_eq!(control_in_message("\u{1b}]0;pwned\u{7}"), Some('\u{1b}'));
        assert_eq!(strip_controls("\u{1b}[2Jhi\r\n\tx\u{9b}"), "[2Jhi\n\tx");
    }

    #[test]
    fn refusals_name_the_code_point() {
        let (c, kind) = unsafe_in_name("eve\u{202E}nimda").unwrap();
        let message = refusal(c, kind);
        assert!(
            message.starts_with("U+202E is a bidirectional control"),
            "{message}"
        );
        assert_eq!(CodePoint('\u{1b}').to_string(), "U+001B");
        assert_eq!(CodePoint('\u{E0041}').to_string(), "U+E0041");
    }
}
