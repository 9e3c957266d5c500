//! Tests of voice-tui without a terminal: `update` with synthetic key, mouse
//! and daemon events, and the view rendered to ratatui's `TestBackend`.

mod access;
mod audio;
mod files;
mod fixtures;
mod history;
mod render;
mod update;
