//! Where each pane goes; shared by the view and by mouse handling in `update`.

use ratatui::layout::{Constraint, Layout, Rect};

/// The panes of the main screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// The room tree, border included.
    pub tree: Rect,
    /// The chat messages, border included.
    pub chat: Rect,
    /// The chat input line, border included.
    pub input: Rect,
    /// The status bar (one row).
    pub status: Rect,
    /// The key hint (one row).
    pub hint: Rect,
}

/// Splits the screen: tree left (two fifths, 24 to 48 columns), chat and
/// input right, status bar and hint at the bottom.
pub fn areas(area: Rect) -> Areas {
    let [main, status, hint] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let tree_width = (area.width * 2 / 5).clamp(24, 48).min(area.width);
    let [tree, right] =
        Layout::horizontal([Constraint::Length(tree_width), Constraint::Fill(1)]).areas(main);
    let [chat, input] = Layout::vertical([Constraint::Fill(1), Constraint::Length(3)]).areas(right);
    Areas {
        tree,
        chat,
        input,
        status,
        hint,
    }
}

/// The inside of a bordered pane.
pub fn inner(area: Rect) -> Rect {
    Rect {
        x: area.x.saturating_add(1),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    }
}

/// The first tree row shown so that row `selected` is visible in `height` rows.
pub fn tree_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        (selected + 1).saturating_sub(height)
    }
}

/// A rectangle of at most `width` × `height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
