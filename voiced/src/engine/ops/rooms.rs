//! Rooms: join, create, rename, move, delete.

use voice_proto::pb::wire::{self, RoomEdit, RoomMove, RoomRemove, SessionMove, change::Kind};

use crate::engine::{Engine, resolve};
use crate::error::Error;

impl Engine {
    /// Moves me to a room.
    pub async fn join(&self, room: &str) -> Result<(), Error> {
        let room = room.to_owned();
        self.propose(move |s, me| {
            Ok(Kind::MoveSession(SessionMove {
                session: me,
                room: resolve::room(s, &room)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Creates a room; returns its id.
    pub async fn create_room(
        &self,
        parent: &str,
        name: &str,
        description: &str,
    ) -> Result<u32, Error> {
        let (parent, name, description) =
            (parent.to_owned(), name.to_owned(), description.to_owned());
        self.propose(move |s, _| {
            let parent = resolve::room(s, &parent)?;
            if s.child_named(parent, &name).is_some() {
                return Err(Error::Invalid(format!(
                    "a room named {name:?} already exists there"
                )));
            }
            Ok(Kind::AddRoom(wire::Room {
                id: 0,
                parent,
                name: name.clone(),
                description: description.clone(),
                position: 0,
                inherit_acl: true,
                acl: Vec::new(),
            }))
        })
        .await
    }

    /// Renames a room.
    pub async fn rename_room(&self, room: &str, name: &str) -> Result<(), Error> {
        let (room, name) = (room.to_owned(), name.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::EditRoom(RoomEdit {
                id: resolve::room(s, &room)?,
                name: Some(name.clone()),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    /// Moves a room under another.
    pub async fn move_room(&self, room: &str, parent: &str) -> Result<(), Error> {
        let (room, parent) = (room.to_owned(), parent.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::MoveRoom(RoomMove {
                id: resolve::room(s, &room)?,
                parent: resolve::room(s, &parent)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes a room (its users move to the parent).
    pub async fn delete_room(&self, room: &str) -> Result<(), Error> {
        let room = room.to_owned();
        self.propose(move |s, _| {
            let id = resolve::room(s, &room)?;
            if id == 0 {
                return Err(Error::Invalid("the root room cannot be deleted".into()));
            }
            Ok(Kind::RemoveRoom(RoomRemove { id }))
        })
        .await
        .map(|_| ())
    }
}
