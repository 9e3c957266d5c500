//! `voice-tui`: a terminal front end over voiced's control API.
//!
//! Model / update / view: [`model::App`] holds what the screen shows; key,
//! mouse and daemon events become [`Action`]s; [`update`] is a pure function
//! from (model, action) to [`Command`]s, which the background task in
//! [`client`] turns into calls to voiced, whose results come back as actions;
//! the view is `impl Widget for &App` in [`view`].

pub mod action;
pub mod client;
pub mod model;
mod run;
pub mod socket;
pub mod update;
pub mod view;

pub use action::{Action, Command};
pub use model::App;
pub use run::run;
pub use socket::socket_path;
pub use update::update;
