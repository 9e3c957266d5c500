//! What the window shows, kept apart from how it is drawn: the front-end
//! core's [`Mirror`] of voiced (status, state, chat, bookmarks, audio
//! settings, trust prompts), the window's notifications, a room's access
//! rules being edited and why a call was refused, with the words
//! it gives the mirror's [`News`](voiced_client::mirror::News).

pub mod access;
mod news;
mod notifications;
pub mod refusal;

pub use access::AccessDraft;
pub use news::notification;
pub use notifications::{Level, Notification, Notifications};
pub use voiced_client::mirror::{DaemonLink, Mirror};
