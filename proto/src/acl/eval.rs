//! Effective permissions and their explanation.

use super::Permissions;
use crate::pb::wire::{
    AclRule, Explanation, Permission, PermissionTrace, RuleRef, Session, acl_rule,
};
use crate::state::{ROLE_ADMIN, ROLE_EVERYONE, RoomId, State};

/// Whom permissions are evaluated for: a key and the roles it holds.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The ed25519 public key.
    pub key: &'a [u8],
    /// Roles held (`everyone` is implied).
    pub roles: &'a [String],
}

impl<'a> From<&'a Session> for Subject<'a> {
    fn from(s: &'a Session) -> Self {
        Self {
            key: &s.public_key,
            roles: &s.roles,
        }
    }
}

impl Subject<'_> {
    /// Whether the subject holds `admin`.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ROLE_ADMIN)
    }

    fn matches(&self, rule: &AclRule) -> bool {
        match &rule.subject {
            Some(acl_rule::Subject::Role(role)) => {
                role == ROLE_EVERYONE || self.roles.iter().any(|r| r == role)
            }
            Some(acl_rule::Subject::UserKey(key)) => key.as_slice() == self.key,
            None => false,
        }
    }
}

/// The outcome of one walk down the tree.
struct Walk {
    granted: Permissions,
    traverse_denied_at: Option<RoomId>,
    evaluated_from: RoomId,
}

/// Walks from the root to `room`; when `trace` is given, records every rule
/// that applied and matched (room, index), in evaluation order, forgetting
/// those before a room that stops inheritance. With `room_is_target` false,
/// `room` counts as an ancestor too (its `apply_subs` rules apply, not its
/// `apply_here` ones): the walk then gives what a new child of `room` with an
/// empty, inheriting ACL would grant.
fn walk(
    state: &State,
    subject: Subject<'_>,
    room: RoomId,
    room_is_target: bool,
    mut trace: Option<&mut Vec<(RoomId, usize)>>,
) -> Walk {
    let chain = state.chain(room);
    let mut granted = Permissions::NONE;
    let mut evaluated_from = crate::state::ROOT;
    for &id in &chain {
        let Some(r) = state.room(id) else { break };
        if !r.inherit_acl && id != crate::state::ROOT {
            granted = Permissions::NONE;
            evaluated_from = id;
            if let Some(t) = trace.as_deref_mut() {
                t.clear();
            }
        }
        let is_target = room_is_target && id == room;
        for (index, rule) in r.acl.iter().enumerate() {
            let applies = if is_target {
                rule.apply_here
            } else {
                rule.apply_subs
            };
            if applies && subject.matches(rule) {
                granted = (granted | Permissions::from_bits(rule.allow))
                    & !Permissions::from_bits(rule.deny);
                if let Some(t) = trace.as_deref_mut() {
                    t.push((id, index));
                }
            }
        }
        if !granted.contains(Permission::Traverse) {
            return Walk {
                granted: Permissions::NONE,
                traverse_denied_at: Some(id),
                evaluated_from,
            };
        }
    }
    if chain.is_empty() {
        granted = Permissions::NONE;
    }
    Walk {
        granted,
        traverse_denied_at: None,
        evaluated_from,
    }
}

/// The effective permissions of `subject` in `room` (none for an unknown room).
pub fn evaluate(state: &State, subject: Subject<'_>, room: RoomId) -> Permissions {
    if state.room(room).is_none() {
        return Permissions::NONE;
    }
    if subject.is_admin() {
        return Permissions::ALL;
    }
    walk(state, subject, room, true, None).granted
}

/// The permissions `subject` would hold in a new room under `parent` whose
/// own ACL is empty and inherits: what `parent`'s ancestors and `parent`
/// pass down (`apply_subs`). This is the most a session may grant in a room
/// it creates or moves under `parent` (none for an unknown parent).
pub fn evaluate_child(state: &State, subject: Subject<'_>, parent: RoomId) -> Permissions {
    if state.room(parent).is_none() {
        return Permissions::NONE;
    }
    if subject.is_admin() {
        return Permissions::ALL;
    }
    walk(state, subject, parent, false, None).granted
}

/// The rules in force in `room` for anyone, in evaluation order: the rules
/// of its ancestors that pass down (`apply_subs`), then its own that apply
/// in it (`apply_here`), from the nearest room that stops inheritance (the
/// root when none does). Folding those that match a subject in this order
/// gives [`evaluate`]'s answer, unless `traverse` is taken away on the way.
/// Empty for an unknown room.
pub fn rules_in(state: &State, room: RoomId) -> Vec<RuleRef> {
    let mut rules = Vec::new();
    for id in state.chain(room) {
        let Some(r) = state.room(id) else { break };
        if !r.inherit_acl && id != crate::state::ROOT {
            rules.clear();
        }
        for (index, rule) in r.acl.iter().enumerate() {
            let applies = if id == room {
                rule.apply_here
            } else {
                rule.apply_subs
            };
            if applies {
                rules.push(RuleRef {
                    room: id,
                    index: index as u32,
                    rule: Some(rule.clone()),
                });
            }
        }
    }
    rules
}

/// Why `subject` has or lacks each permission in `room`: for each permission
/// the matching rules in order, the last of which decided.
pub fn explain(state: &State, subject: Subject<'_>, session: u32, room: RoomId) -> Explanation {
    let admin = subject.is_admin();
    let mut trace = Vec::new();
    let outcome = walk(state, subject, room, true, Some(&mut trace));
    let mut matched: Vec<Vec<RuleRef>> = vec![Vec::new(); Permissions::EVERY.len()];
    for (id, index) in trace {
        let Some(rule) = state.room(id).and_then(|r| r.acl.get(index)) else {
            continue;
        };
        for (i, p) in Permissions::EVERY.iter().enumerate() {
            if (rule.allow | rule.deny) & Permissions::bit(*p) != 0 {
                matched[i].push(RuleRef {
                    room: id,
                    index: index as u32,
                    rule: Some(rule.clone()),
                });
            }
        }
    }
    let granted = if state.room(room).is_none() {
        Permissions::NONE
    } else if admin {
        Permissions::ALL
    } else {
        outcome.granted
    };
    Explanation {
        room,
        session,
        granted: granted.bits(),
        admin,
        traverse_denied_at: if admin {
            None
        } else {
            outcome.traverse_denied_at
        },
        evaluated_from: outcome.evaluated_from,
        permissions: Permissions::EVERY
            .iter()
            .zip(matched)
            .map(|(p, matched)| PermissionTrace {
                permission: *p as i32,
                granted: granted.contains(*p),
                matched,
            })
            .collect(),
    }
}
