//! The rules tab: the rules in force in a room, inherited ones (each with
//! the room it comes from) before the room's own, with their scope.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use voiced_client::acl::{Entry, Listing};
use voiced_client::text::printable;

use super::{dim, heading};

/// Indentation of a rule's permissions under its first line.
const GRANTS_INDENT: usize = 8;

/// The room's rules, a heading over the inherited and over its own.
pub(super) fn lines(listing: &Listing, width: usize) -> Vec<Line<'static>> {
    let mut out = vec![Line::styled(
        format!(
            "{} (room {}){}",
            printable(&listing.path),
            listing.room,
            if listing.inherit {
                ""
            } else {
                ": does not inherit, only its own rules count"
            }
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if listing.entries.is_empty() {
        out.push(Line::styled(
            "  no rules: nobody but an admin may do anything here",
            dim(),
        ));
        return out;
    }
    let (inherited, own): (Vec<&Entry>, Vec<&Entry>) =
        listing.entries.iter().partition(|e| e.inherited);
    if !inherited.is_empty() {
        out.push(heading("Inherited, in the order they apply"));
        for e in inherited {
            out.extend(entry_lines(e, width));
        }
    }
    out.push(heading("This room's own"));
    if own.is_empty() {
        out.push(Line::styled("  none", dim()));
    }
    for e in own {
        out.extend(entry_lines(e, width));
    }
    out
}

/// A rule: where it comes from, its place, whom it is about and its scope;
/// under it, what it allows and denies.
fn entry_lines(e: &Entry, width: usize) -> Vec<Line<'static>> {
    let from = if e.inherited {
        format!("from {}", printable(&e.room_path))
    } else {
        "own".to_owned()
    };
    let scope = match (e.here, e.below) {
        (true, true) => "here and below",
        (true, false) => "here only",
        (false, true) => "below only",
        (false, false) => "nowhere",
    };
    let base = if e.in_force { Style::new() } else { dim() };
    let mut head = vec![
        Span::styled(format!("  {from:<16} #{:<2} ", e.index), base),
        Span::styled(e.subject.text(), base.add_modifier(Modifier::BOLD)),
        Span::styled(format!("  [{scope}]"), dim()),
    ];
    if !e.in_force {
        head.push(Span::styled(" (not in force here)", dim()));
    }
    let mut out = vec![Line::from(head)];
    let mut grants = Vec::new();
    if !e.allow.is_empty() {
        grants.push((format!("allow {}", e.allow.join(",")), Color::Green));
    }
    if !e.deny.is_empty() {
        grants.push((format!("deny {}", e.deny.join(",")), Color::Red));
    }
    if grants.is_empty() {
        grants.push(("nothing".to_owned(), Color::DarkGray));
    }
    for (text, color) in grants {
        let style = if e.in_force {
            Style::new().fg(color)
        } else {
            dim()
        };
        for part in wrap(&text, width.saturating_sub(GRANTS_INDENT)) {
            out.push(Line::styled(
                format!("{}{part}", " ".repeat(GRANTS_INDENT)),
                style,
            ));
        }
    }
    out
}

/// `text` in lines of at most `width` columns, broken after commas and at
/// spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_inclusive([',', ' ']) {
        let fits = line.chars().count() + word.trim_end().chars().count() <= width;
        if !line.is_empty() && !fits {
            out.push(line.trim_end().to_owned());
            line.clear();
        }
        line.push_str(word);
    }
    if !line.trim_end().is_empty() || out.is_empty() {
        out.push(line.trim_end().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn grants_wrap_after_commas_and_keep_every_name() {
        let text = "allow traverse,enter,speak,whisper,text_message";
        let lines = wrap(text, 24);
        assert!(lines.iter().all(|l| l.chars().count() <= 24), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
        assert_eq!(lines[0], "allow traverse,enter,");
        assert_eq!(wrap("deny speak", 40), ["deny speak"]);
    }
}
