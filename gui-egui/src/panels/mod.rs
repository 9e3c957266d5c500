//! One module per part of the window; each draws with a `*_ui` function
//! that reads the model and queues calls through [`App::send`](crate::App::send).

pub mod chat;
pub mod connect;
pub mod notifications;
pub mod offline;
pub mod rooms;
pub mod settings;
pub mod status;
pub mod toolbar;
pub mod user_menu;
