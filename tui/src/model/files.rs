//! The files pane: the files shared in the current room and voiced's
//! transfers, both as the front-end core's mirror holds them.

/// What the right-hand pane shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    /// The chat of the current room.
    #[default]
    Chat,
    /// The files of the current room and the transfers.
    Files,
}

/// A row of the files pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilesRow {
    /// A file shared in the current room, by its id in the shared state.
    File(u32),
    /// A transfer (share or download), by its local id.
    Transfer(u32),
}
