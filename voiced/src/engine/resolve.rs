//! Turning what a user typed into room and session ids.

use voice_proto::State;

use crate::error::Error;

/// A room: an id, a path from the root (`Lobby/Games` or `/Lobby/Games`),
/// `/` for the root, or a name only one room has. Empty = the root.
pub fn room(state: &State, reference: &str) -> Result<u32, Error> {
    let r = reference.trim();
    if r.is_empty() {
        return Ok(0);
    }
    state
        .resolve_room(r)
        .map_err(|e| Error::NotFound(format!("{e}; `voicectl rooms` lists the rooms")))
}

/// A user: a session id, a display name (case-insensitive) or a prefix of
/// the public key in hex (at least 4 digits).
pub fn user(state: &State, reference: &str) -> Result<u32, Error> {
    let r = reference.trim();
    let not_found = || {
        Error::NotFound(format!(
            "no user {r:?}; `voicectl users` lists who is online"
        ))
    };
    if r.is_empty() {
        return Err(not_found());
    }
    if let Ok(id) = r.parse::<u32>()
        && state.session(id).is_some()
    {
        return Ok(id);
    }
    let by_name: Vec<u32> = state
        .sessions()
        .values()
        .filter(|s| s.name.eq_ignore_ascii_case(r))
        .map(|s| s.id)
        .collect();
    match by_name.as_slice() {
        [id] => return Ok(*id),
        [] => {}
        _ => {
            return Err(Error::Invalid(format!(
                "{} users are named {r:?}; give a key prefix or session id",
                by_name.len()
            )));
        }
    }
    let lower = r.to_ascii_lowercase();
    if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
        let by_key: Vec<u32> = state
            .sessions()
            .values()
            .filter(|s| voice_proto::hash::hex(&s.public_key).starts_with(&lower))
            .map(|s| s.id)
            .collect();
        match by_key.as_slice() {
            [id] => return Ok(*id),
            [] => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "several users have keys starting with {r:?}; give more digits"
                )));
            }
        }
    }
    Err(not_found())
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_proto::Limits;
    use voice_proto::pb::wire::{Change, Room, Session, change::Kind};

    fn state() -> State {
        let mut s = State::new("Root", Limits::default());
        for (id, parent, name) in [(1, 0, "Lobby"), (2, 1, "Games"), (3, 0, "Games")] {
            s.apply(&Change {
                kind: Some(Kind::AddRoom(Room {
                    id,
                    parent,
                    name: name.into(),
                    inherit_acl: true,
                    ..Default::default()
                })),
            })
            .unwrap();
        }
        s.apply(&Change {
            kind: Some(Kind::AddSession(Session {
                id: 7,
                public_key: vec![0xab; 32],
                name: "Ada".into(),
                room: 1,
                ..Default::default()
            })),
        })
        .unwrap();
        s
    }

    #[test]
    fn rooms_and_users_resolve() {
        let s = state();
        assert_eq!(room(&s, "Lobby/Games").unwrap(), 2);
        assert_eq!(room(&s, "/Games").unwrap(), 3);
        assert_eq!(room(&s, "lobby").unwrap(), 1);
        assert_eq!(room(&s, "").unwrap(), 0);
        assert!(room(&s, "Games").is_err());
        assert!(matches!(room(&s, "Nope"), Err(Error::NotFound(_))));
        assert_eq!(user(&s, "ada").unwrap(), 7);
        assert_eq!(user(&s, "7").unwrap(), 7);
        assert_eq!(user(&s, "abab").unwrap(), 7);
        assert!(matches!(user(&s, "Bob"), Err(Error::NotFound(_))));
    }
}
