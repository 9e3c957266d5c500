//! Why a permission is missing, in words: the permission, the room, and the
//! rule that decided (or that none granted it, or where `traverse` was
//! taken away). Every refusal the server sends for a missing permission is
//! built here, so that each names the same three things.

use super::{Permissions, Subject, explain};
use crate::pb::wire::{AclRule, Permission, acl_rule};
use crate::state::{RoomId, State};

/// "you lack the PERM permission in PATH: WHY", where WHY names the rule
/// that took it away, or says that no rule grants it there (and where the
/// rules start when the room or an ancestor does not inherit), or where
/// `traverse` is missing on the way.
pub fn lacking(
    state: &State,
    subject: Subject<'_>,
    permission: Permission,
    room: RoomId,
) -> String {
    let name = Permissions::name(permission);
    let place = state.path(room).unwrap_or_else(|| format!("room {room}"));
    format!(
        "you lack the {name} permission in {place}: {}",
        why(state, subject, permission, room)
    )
}

/// The reason alone (see [`lacking`]).
pub fn why(state: &State, subject: Subject<'_>, permission: Permission, room: RoomId) -> String {
    if state.room(room).is_none() {
        return format!("there is no room {room}");
    }
    let x = explain(state, subject, 0, room);
    let path = |id: RoomId| state.path(id).unwrap_or_else(|| format!("room {id}"));
    if let Some(at) = x.traverse_denied_at {
        let trace = x
            .permissions
            .iter()
            .find(|t| t.permission == Permission::Traverse as i32);
        return match trace.and_then(|t| t.matched.last()) {
            Some(r) => format!(
                "traverse is missing in {} ({}), so nothing below it is granted",
                path(at),
                rule_text(state, r.room, r.index, r.rule.as_ref())
            ),
            None => format!(
                "no rule grants traverse in {}, so nothing below it is granted",
                path(at)
            ),
        };
    }
    let trace = x
        .permissions
        .iter()
        .find(|t| t.permission == permission as i32);
    match trace.and_then(|t| t.matched.last()) {
        Some(r) => format!(
            "{} takes it away",
            rule_text(state, r.room, r.index, r.rule.as_ref())
        ),
        None if x.evaluated_from != crate::state::ROOT => format!(
            "no rule grants it there ({} does not inherit: only its rules and those below it count)",
            path(x.evaluated_from)
        ),
        None => "no rule grants it there".to_owned(),
    }
}

/// "rule #I of PATH (role R: allow …; deny …)".
pub fn rule_text(state: &State, room: RoomId, index: u32, rule: Option<&AclRule>) -> String {
    let path = state.path(room).unwrap_or_else(|| format!("room {room}"));
    let Some(rule) = rule else {
        return format!("rule #{index} of {path}");
    };
    let who = match &rule.subject {
        Some(acl_rule::Subject::Role(r)) => format!("role {r}"),
        Some(acl_rule::Subject::UserKey(k)) => {
            let names: Vec<&str> = state
                .sessions()
                .values()
                .filter(|s| &s.public_key == k)
                .map(|s| s.name.as_str())
                .collect();
            let hex = crate::hash::hex(k);
            match names.first() {
                Some(n) => format!("user {n} ({}…)", &hex[..8.min(hex.len())]),
                None => format!("user {}…", &hex[..16.min(hex.len())]),
            }
        }
        None => "nobody".to_owned(),
    };
    let mut what = Vec::new();
    if rule.allow != 0 {
        what.push(format!("allow {}", Permissions::from_bits(rule.allow)));
    }
    if rule.deny != 0 {
        what.push(format!("deny {}", Permissions::from_bits(rule.deny)));
    }
    format!("rule #{index} of {path} ({who}: {})", what.join("; "))
}
