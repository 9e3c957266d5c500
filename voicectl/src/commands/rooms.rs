//! Rooms and who is in them: `rooms`, `users`, `join`, `room create|delete|rename|move`,
//! `move`, `explain`.

use serde_json::json;
use voice_proto::pb::control as c;

use super::{Client, Failure, Output, daemon_state, done, out};
use crate::render;

/// `voicectl rooms`: the room tree.
pub async fn rooms(client: &mut Client) -> Result<Output, Failure> {
    let (s, snap) = daemon_state(client).await?;
    Ok(out(
        render::rooms_text(&snap, s.session_id),
        render::rooms_json(&snap),
    ))
}

/// `voicectl users`: who is online.
pub async fn users(client: &mut Client) -> Result<Output, Failure> {
    let (s, snap) = daemon_state(client).await?;
    Ok(out(
        render::users_text(&snap, s.session_id),
        json!(
            snap.sessions
                .iter()
                .map(|x| render::session_json(&snap, x))
                .collect::<Vec<_>>()
        ),
    ))
}

/// `voicectl join ROOM`: moves me to a room.
pub async fn join(client: &mut Client, room: &str) -> Result<Output, Failure> {
    client
        .join(c::RoomRef {
            room: room.to_owned(),
        })
        .await?;
    Ok(done(&format!("joined {room}")))
}

/// `voicectl room create ROOM`: creates a room; `ROOM` is a path, its last
/// part the new room's name.
pub async fn create_room(
    client: &mut Client,
    room: &str,
    description: &str,
) -> Result<Output, Failure> {
    let (parent, name) = split_path(room);
    let id = client
        .create_room(c::CreateRoomRequest {
            parent,
            name,
            description: description.to_owned(),
        })
        .await?
        .into_inner()
        .id;
    Ok(out(
        format!("created {room} (id {id})\n"),
        json!({"ok": true, "id": id}),
    ))
}

/// `voicectl room delete ROOM`: deletes a room (its users move to the parent).
pub async fn delete_room(client: &mut Client, room: &str) -> Result<Output, Failure> {
    client
        .delete_room(c::RoomRef {
            room: room.to_owned(),
        })
        .await?;
    Ok(done(&format!("deleted {room}")))
}

/// `voicectl room rename ROOM NAME`: renames a room.
pub async fn rename_room(client: &mut Client, room: &str, name: &str) -> Result<Output, Failure> {
    client
        .rename_room(c::RenameRoomRequest {
            room: room.to_owned(),
            name: name.to_owned(),
        })
        .await?;
    Ok(done(&format!("renamed {room} to {name}")))
}

/// `voicectl room move ROOM PARENT`: moves a room under another.
pub async fn move_room(client: &mut Client, room: &str, parent: &str) -> Result<Output, Failure> {
    client
        .move_room(c::MoveRoomRequest {
            room: room.to_owned(),
            parent: parent.to_owned(),
        })
        .await?;
    Ok(done(&format!("moved {room} under {parent}")))
}

/// `voicectl move USER ROOM`: moves a user to a room.
pub async fn move_user(client: &mut Client, user: &str, room: &str) -> Result<Output, Failure> {
    client
        .move_user(c::MoveUserRequest {
            user: user.to_owned(),
            room: room.to_owned(),
        })
        .await?;
    Ok(done(&format!("moved {user} to {room}")))
}

/// `voicectl explain ROOM [USER]`: why I (or `user`) have or lack
/// permissions in a room.
pub async fn explain(
    client: &mut Client,
    room: &str,
    user: Option<&str>,
) -> Result<Output, Failure> {
    let x = client
        .explain(c::ExplainRequest {
            room: room.to_owned(),
            user: user.unwrap_or_default().to_owned(),
        })
        .await?
        .into_inner();
    Ok(out(
        render::explanation_text(&x),
        render::explanation_json(&x),
    ))
}

/// Splits `A/B/C` into parent path `A/B` and name `C`.
fn split_path(path: &str) -> (String, String) {
    let p = path.trim().trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((parent, name)) if !parent.is_empty() => (parent.to_owned(), name.to_owned()),
        Some((_, name)) => (String::new(), name.to_owned()),
        None => (String::new(), p.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split() {
        assert_eq!(split_path("Lobby/Games"), ("Lobby".into(), "Games".into()));
        assert_eq!(split_path("/Lobby"), ("".into(), "Lobby".into()));
        assert_eq!(split_path("Lobby"), ("".into(), "Lobby".into()));
    }
}
