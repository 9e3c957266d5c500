//! Access: a room's rules, registering users, the ban list. The server
//! checks each (edit_room in the room, register and ban at the root) and
//! that nobody grants what they do not hold; its refusal names the
//! permission, the room and the rule that decided.

use voice_proto::pb::wire::{self, AclRule, BanEntry, RoomAcl, change::Kind, client_msg};
use voice_proto::state::ROOT;

use crate::engine::link::Reply;
use crate::engine::{Engine, resolve};
use crate::error::Error;

/// Rules one room may hold, at most (the server's own limit is checked
/// there too; this catches a runaway file before it is sent).
const MAX_RULES: usize = 256;

impl Engine {
    /// Replaces a room's own rules and whether it inherits its ancestors'.
    pub async fn set_acl(
        &self,
        room: &str,
        inherit: bool,
        rules: Vec<AclRule>,
    ) -> Result<(), Error> {
        if rules.len() > MAX_RULES {
            return Err(Error::Invalid(format!(
                "{} rules; a room holds at most {MAX_RULES}",
                rules.len()
            )));
        }
        let room = room.to_owned();
        self.propose(move |s, _| {
            let room = resolve::room(s, &room)?;
            if room == ROOT && !inherit {
                return Err(Error::Invalid(
                    "the root has no ancestors to inherit from; leave inheritance on".into(),
                ));
            }
            Ok(Kind::SetRoomAcl(RoomAcl {
                room,
                inherit_acl: inherit,
                rules: rules.clone(),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Makes an online user registered (`known`).
    pub async fn register(&self, user: &str) -> Result<(), Error> {
        let session = self.with_state(|s, _| {
            let id = resolve::user(s, user)?;
            let held = s
                .session(id)
                .is_some_and(|x| x.roles.iter().any(|r| r == voice_proto::state::ROLE_KNOWN));
            if held {
                return Err(Error::Invalid(format!("{user} is registered already")));
            }
            Ok(id)
        })?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Register(wire::RegisterRequest {
            request_id: id,
            session,
        });
        match self.request(&link, id, msg).await? {
            Reply::Accepted(_) => Ok(()),
            Reply::Failed(m) => Err(Error::Denied(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }

    /// The bans in force on the server (newest first, at most 500), and
    /// how many more there are.
    pub async fn bans(&self) -> Result<(Vec<BanEntry>, u32), Error> {
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Bans(wire::BansRequest { request_id: id });
        match self.request(&link, id, msg).await? {
            Reply::Bans(b) => Ok((b.bans, b.omitted)),
            Reply::Failed(m) => Err(Error::Denied(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }

    /// Lifts a ban: `user` is a key in hex (or a prefix only one ban has)
    /// or the name a ban shows.
    pub async fn unban(&self, user: &str) -> Result<(), Error> {
        let (bans, _) = self.bans().await?;
        let key = banned_key(&bans, user)?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Unban(wire::UnbanRequest {
            request_id: id,
            public_key: key,
        });
        match self.request(&link, id, msg).await? {
            Reply::Accepted(_) => Ok(()),
            Reply::Failed(m) => Err(Error::Denied(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }
}

/// The key of the one ban `reference` names: a hex key or prefix (at least
/// 4 digits), or a name (case-insensitive).
fn banned_key(bans: &[BanEntry], reference: &str) -> Result<Vec<u8>, Error> {
    let r = reference.trim();
    if r.is_empty() {
        return Err(Error::Invalid(
            "name the ban to lift: a key, a key prefix or a name from `voicectl bans`".into(),
        ));
    }
    let lower = r.to_ascii_lowercase();
    let by_key: Vec<&BanEntry> = if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit())
    {
        bans.iter()
            .filter(|b| voice_proto::hash::hex(&b.public_key).starts_with(&lower))
            .collect()
    } else {
        Vec::new()
    };
    let found: Vec<&BanEntry> = if by_key.is_empty() {
        bans.iter()
            .filter(|b| b.name.eq_ignore_ascii_case(r))
            .collect()
    } else {
        by_key
    };
    match found.as_slice() {
        [one] => Ok(one.public_key.clone()),
        [] => Err(Error::NotFound(format!(
            "no ban on {r:?}; `voicectl bans` lists them"
        ))),
        many => Err(Error::Invalid(format!(
            "{} bans match {r:?}; give more digits of the key",
            many.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(key: u8, name: &str) -> BanEntry {
        BanEntry {
            public_key: vec![key; 32],
            name: name.into(),
            ..BanEntry::default()
        }
    }

    #[test]
    fn a_ban_is_named_by_key_prefix_or_name_and_only_once() {
        let bans = [
            ban(0xab, "Mallory"),
            ban(0xac, "Trudy"),
            ban(0xab ^ 0x01, "mallory"),
        ];
        assert_eq!(banned_key(&bans, "acac").unwrap(), vec![0xac; 32]);
        assert_eq!(banned_key(&bans, "ABAB").unwrap(), vec![0xab; 32]);
        assert!(matches!(banned_key(&bans, "Trudy"), Ok(k) if k == vec![0xac; 32]));
        assert!(matches!(
            banned_key(&bans, "mallory"),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(banned_key(&bans, "Eve"), Err(Error::NotFound(_))));
        assert!(matches!(banned_key(&bans, " "), Err(Error::Invalid(_))));
    }
}
