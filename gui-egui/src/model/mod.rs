//! What the window shows, kept apart from how it is drawn: the front-end
//! core's [`Mirror`] of voiced (status, state, chat, bookmarks, audio
//! settings, trust prompts) and the window's notifications, with the words
//! it gives the mirror's [`News`](voiced_client::mirror::News).

mod news;
mod notifications;

pub use news::notification;
pub use notifications::{Level, Notification, Notifications};
pub use voiced_client::mirror::{DaemonLink, Mirror};
