//! ACLs stored before the `read_history` permission existed (issue 18): a
//! server upgraded from then would refuse every history request, since no
//! stored rule grants it. Once, at the first start with this version, every
//! rule that allows `text_message` also allows `read_history` (a new
//! server's root ACL grants both to `everyone`); rules that deny are left
//! as they are. A mark in the meta tree keeps it from running again, so a
//! rule an administrator changes later stays as they set it.

use voice_proto::acl::Permissions;
use voice_proto::pb::wire::{Permission, StateSnapshot};

use crate::store::{Store, StoreError};

/// The meta key set once stored ACLs know `read_history`.
pub const META_READ_HISTORY: &str = "acl_read_history";

/// Grants `read_history` wherever a stored rule allows `text_message`,
/// unless done before; stores the rooms it changed and sets the mark.
pub fn grant_read_history(store: &Store, snapshot: &mut StateSnapshot) -> Result<(), StoreError> {
    if store.meta_text(META_READ_HISTORY)?.is_some() {
        return Ok(());
    }
    let text = Permissions::bit(Permission::TextMessage);
    let read = Permissions::bit(Permission::ReadHistory);
    let mut rules = 0usize;
    for room in &mut snapshot.rooms {
        let mut changed = false;
        for rule in &mut room.acl {
            if rule.allow & text != 0 && rule.allow & read == 0 {
                rule.allow |= read;
                changed = true;
                rules += 1;
            }
        }
        if changed {
            store.put_room(room)?;
        }
    }
    if rules > 0 {
        tracing::warn!(
            rules,
            "stored ACL rules predate read_history: each that allows text_message now also \
             allows read_history"
        );
    }
    store.set_meta_text(META_READ_HISTORY, "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_proto::pb::wire::{AclRule, Room, acl_rule::Subject};

    fn rule(allow: u32, deny: u32) -> AclRule {
        AclRule {
            subject: Some(Subject::Role("everyone".to_owned())),
            allow,
            deny,
            apply_here: true,
            apply_subs: true,
        }
    }

    #[test]
    fn grants_once_where_text_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let text = Permissions::bit(Permission::TextMessage);
        let read = Permissions::bit(Permission::ReadHistory);
        let speak = Permissions::bit(Permission::Speak);
        let mut snapshot = StateSnapshot {
            rooms: vec![Room {
                id: 0,
                acl: vec![rule(text | speak, 0), rule(speak, text)],
                ..Room::default()
            }],
            ..StateSnapshot::default()
        };
        store.put_room(&snapshot.rooms[0]).unwrap();
        grant_read_history(&store, &mut snapshot).unwrap();
        let acl = &snapshot.rooms[0].acl;
        assert_eq!(
            acl[0].allow,
            text | speak | read,
            "allowed text: reads history"
        );
        assert_eq!(
            (acl[1].allow, acl[1].deny),
            (speak, text),
            "a deny stays as it was"
        );
        assert_eq!(store.rooms().unwrap()[0].acl, *acl, "stored");
        // An administrator takes it away again: a later start keeps that.
        snapshot.rooms[0].acl[0].allow = text;
        store.put_room(&snapshot.rooms[0]).unwrap();
        grant_read_history(&store, &mut snapshot).unwrap();
        assert_eq!(snapshot.rooms[0].acl[0].allow, text, "runs once");
    }
}
