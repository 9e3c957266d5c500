//! Roles, permissions and ACL evaluation (DESIGN §5).
//!
//! A session's permissions in a room: start from nothing; walk the rooms from
//! the root down to the target; at a room that does not inherit, start again
//! from nothing; apply each rule whose subject matches (the session's key, or
//! a role it holds, `everyone` always) and that applies there (`apply_subs` in
//! an ancestor, `apply_here` in the target): `allow` bits are added, then
//! `deny` bits removed, so a later match overrides an earlier one. A room on
//! the way (the target included) without Traverse grants nothing. Holders of
//! `admin` have every permission, always.

mod authorize;
mod eval;
mod permissions;
mod refusal;

pub use authorize::{authorize, authorize_kick, is_administrator};
pub use eval::{Subject, evaluate, evaluate_child, explain, rules_in};
pub use permissions::Permissions;
pub use refusal::{lacking, rule_text, why};

use crate::pb::wire::{AclRule, Permission, acl_rule};
use crate::state::{ROLE_EVERYONE, ROLE_KNOWN};

/// The root ACL of a new server: `everyone` may Traverse, Enter, Speak,
/// Whisper, TextMessage, ShareFiles and ReadHistory everywhere; `known` may
/// also MakeRoom.
pub fn default_root_acl() -> Vec<AclRule> {
    use Permission::*;
    vec![
        AclRule {
            subject: Some(acl_rule::Subject::Role(ROLE_EVERYONE.to_owned())),
            allow: Permissions::from_iter([
                Traverse,
                Enter,
                Speak,
                Whisper,
                TextMessage,
                ShareFiles,
                ReadHistory,
            ])
            .bits(),
            deny: 0,
            apply_here: true,
            apply_subs: true,
        },
        AclRule {
            subject: Some(acl_rule::Subject::Role(ROLE_KNOWN.to_owned())),
            allow: Permissions::from(MakeRoom).bits(),
            deny: 0,
            apply_here: true,
            apply_subs: true,
        },
    ]
}
