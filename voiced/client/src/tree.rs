//! The room tree flattened into rows (each room, then its users, then its
//! sub-rooms) in the order every front end shows them.

use voice_proto::State;
use voice_proto::state::{ROOT, RoomId};

/// What a row of the tree shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// A room, by id.
    Room(u32),
    /// A user, by session id.
    User(u32),
}

/// One line of the room tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The room or user.
    pub kind: RowKind,
    /// Indentation level (the root is 0).
    pub depth: usize,
}

/// Every room from the root down, siblings by (position, name, id), each
/// followed by its users (by name) and then its sub-rooms.
pub fn rows(state: &State) -> Vec<Row> {
    let mut out = Vec::new();
    if state.room(ROOT).is_some() {
        push_room(state, ROOT, 0, &mut out);
    }
    out
}

fn push_room(state: &State, id: RoomId, depth: usize, out: &mut Vec<Row>) {
    // The tree is valid (State checks it), but a depth cap keeps this total.
    if depth > state.rooms().len() {
        return;
    }
    out.push(Row {
        kind: RowKind::Room(id),
        depth,
    });
    let mut users: Vec<_> = state.sessions_in(id).collect();
    users.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    out.extend(users.into_iter().map(|s| Row {
        kind: RowKind::User(s.id),
        depth: depth + 1,
    }));
    let mut children: Vec<_> = state.children(id).filter_map(|c| state.room(c)).collect();
    children.sort_by(|a, b| {
        a.position
            .cmp(&b.position)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then(a.id.cmp(&b.id))
    });
    for child in children {
        push_room(state, child.id, depth + 1, out);
    }
}
