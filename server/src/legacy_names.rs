//! Names stored before names refused bidi and invisible characters (issue
//! 16): such a room or role name would make the stored state fail to load,
//! so at start they are cleaned (the unsafe characters dropped), stored
//! again, and logged. Room descriptions lose control characters other than
//! newlines.

use std::collections::{HashMap, HashSet};

use voice_proto::pb::wire::{StateSnapshot, acl_rule::Subject};
use voice_proto::text::{classify, unsafe_in_name};

use crate::store::{Store, StoreError};

/// Cleans the snapshot's room and role names (and the ACL rules and user
/// records that name a renamed role) and stores what changed.
pub fn clean(store: &Store, snapshot: &mut StateSnapshot) -> Result<(), StoreError> {
    let mut renamed_roles: HashMap<String, String> = HashMap::new();
    let taken: HashSet<String> = snapshot.roles.iter().map(|r| r.name.clone()).collect();
    for role in &mut snapshot.roles {
        if unsafe_in_name(&role.name).is_none() {
            continue;
        }
        let mut name = cleaned(&role.name, "role");
        while taken.contains(&name) || renamed_roles.values().any(|n| *n == name) {
            name.push('_');
        }
        tracing::warn!(old = ?role.name, new = %name, "stored role name held unsafe characters; renamed");
        store.remove_role(&role.name)?;
        renamed_roles.insert(role.name.clone(), name.clone());
        role.name = name;
        store.put_role(role)?;
    }
    for (old, new) in &renamed_roles {
        store.rename_role_in_users(old, new)?;
    }
    let mut siblings: HashSet<(u32, String)> = snapshot
        .rooms
        .iter()
        .filter(|r| unsafe_in_name(&r.name).is_none())
        .map(|r| (r.parent, r.name.to_lowercase()))
        .collect();
    for room in &mut snapshot.rooms {
        let mut changed = false;
        if unsafe_in_name(&room.name).is_some() {
            let mut name = cleaned(&room.name, "room");
            if siblings.contains(&(room.parent, name.to_lowercase())) {
                name = format!("{name} {}", room.id);
            }
            tracing::warn!(room = room.id, old = ?room.name, new = %name, "stored room name held unsafe characters; renamed");
            siblings.insert((room.parent, name.to_lowercase()));
            room.name = name;
            changed = true;
        }
        if room
            .description
            .chars()
            .any(|c| c.is_control() && c != '\n')
        {
            room.description.retain(|c| !c.is_control() || c == '\n');
            changed = true;
        }
        for rule in &mut room.acl {
            if let Some(Subject::Role(role)) = &mut rule.subject
                && let Some(new) = renamed_roles.get(role)
            {
                role.clone_from(new);
                changed = true;
            }
        }
        if changed {
            store.put_room(room)?;
        }
    }
    Ok(())
}

/// `name` without its unsafe characters and surrounding spaces, or `what`
/// when nothing is left.
fn cleaned(name: &str, what: &str) -> String {
    let kept: String = name.chars().filter(|&c| classify(c).is_none()).collect();
    let kept = kept.trim();
    if kept.is_empty() {
        what.to_owned()
    } else {
        kept.to_owned()
    }
}
