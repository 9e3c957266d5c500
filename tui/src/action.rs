//! What flows into [`update`](crate::update::update) (actions) and out of it (commands).

use crossterm::event::{KeyEvent, MouseEvent};
use voiced_client::command::Answer;
use voiced_client::link::Report;

/// Something that happened: a key, the mouse, the daemon, or the clock.
// A daemon report carries a whole status (over 200 bytes); an action is
// moved once, from the link task or the terminal to `update`, so boxing it
// would cost an allocation per event and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Action {
    /// A key event from the terminal.
    Key(KeyEvent),
    /// A mouse event from the terminal.
    Mouse(MouseEvent),
    /// The terminal has a new size (columns, rows).
    Resize(u16, u16),
    /// The clock: Unix time in milliseconds (drives countdowns).
    Tick(u64),
    /// Whether the terminal reports key releases (push-to-talk can be held).
    KeyReleases(bool),
    /// What the link to voiced reported: it came or went, an event, a
    /// call's answer or its failure.
    Link(Report<Answer>),
}

/// A call to voiced that the background task makes: the front-end core's
/// command; its results come back as [`Action::Link`].
pub use voiced_client::command::Command;
