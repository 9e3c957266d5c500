//! `voice-tui`: a terminal front end over voiced's control API.
//!
//! Model / update / view: [`model::App`] holds what the screen shows (the
//! front-end core's mirror of voiced plus this screen's own state); key,
//! mouse and daemon events become [`Action`]s; [`update`] is a pure function
//! from (model, action) to the core's [`Command`]s, which the background
//! task in [`link`] turns into calls to voiced, whose results come back as
//! actions; the view is `impl Widget for &App` in [`view`].

pub mod action;
pub mod cli;
pub mod link;
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
