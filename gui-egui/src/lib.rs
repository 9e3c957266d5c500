//! `voice-gui`: a desktop front end (egui/eframe) over voiced's control API.
//!
//! A thin client: it speaks only `control.proto` to voiced, so closing the
//! window never drops the call. [`App`] holds the state (the [`model`], fed
//! by the [`link`] on a background runtime, and what only the window keeps);
//! each part of the window is a module of [`panels`] with a `*_ui` function.

pub mod app;
pub mod cli;
pub mod link;
pub mod model;
pub mod panels;
pub mod prefs;
mod run;

pub use app::App;
pub use link::{Answer, Command, Link};
pub use model::Mirror;
pub use run::run;
