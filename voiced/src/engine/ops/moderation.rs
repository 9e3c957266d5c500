//! Acting on other users: move, server-mute, kick; and why a user has or
//! lacks a permission.

use voice_proto::pb::wire::{
    self, Explanation, SessionFlags, SessionMove, change::Kind, client_msg,
};

use crate::engine::link::Reply;
use crate::engine::{Engine, resolve};
use crate::error::Error;

impl Engine {
    /// Moves a user to a room.
    pub async fn move_user(&self, user: &str, room: &str) -> Result<(), Error> {
        let (user, room) = (user.to_owned(), room.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::MoveSession(SessionMove {
                session: resolve::user(s, &user)?,
                room: resolve::room(s, &room)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Server-mutes or -deafens a user.
    pub async fn server_mute(&self, user: &str, mute: bool, deaf: bool) -> Result<(), Error> {
        let user = user.to_owned();
        self.propose(move |s, _| {
            Ok(Kind::SetSessionFlags(SessionFlags {
                session: resolve::user(s, &user)?,
                server_mute: Some(mute),
                server_deaf: Some(deaf),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    /// Why a user (empty = me) has or lacks permissions in a room.
    pub async fn explain(&self, room: &str, user: &str) -> Result<Explanation, Error> {
        let (room, session) = self.with_state(|s, _| {
            let room = resolve::room(s, room)?;
            let session = if user.trim().is_empty() {
                0
            } else {
                resolve::user(s, user)?
            };
            Ok((room, session))
        })?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Explain(wire::ExplainRequest {
            request_id: id,
            room,
            session,
        });
        match self.request(&link, id, msg).await? {
            Reply::Explain(x) => Ok(x),
            Reply::Failed(m) => Err(Error::Failed(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }

    /// Kicks (or bans) a user.
    pub async fn kick(
        &self,
        user: &str,
        reason: &str,
        ban: bool,
        ban_seconds: u64,
    ) -> Result<(), Error> {
        let session = self.with_state(|s, _| resolve::user(s, user))?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Kick(wire::KickRequest {
            request_id: id,
            session,
            reason: reason.to_owned(),
            ban,
            ban_seconds,
        });
        match self.request(&link, id, msg).await? {
            Reply::Accepted(_) => Ok(()),
            Reply::Failed(m) => Err(Error::Denied(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }
}
