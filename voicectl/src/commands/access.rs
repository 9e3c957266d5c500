//! Access: `acl show ROOM`, `acl effective ROOM` and `role list`, read from
//! the daemon's copy of the server's state (`voiced_client::acl` names the
//! rules and decides nothing itself: `voice_proto::acl` does).

use serde_json::{Value, json};
use voice_proto::State;
use voiced_client::acl::{self, Effective, Entry, Listing, RoleRow, RuleSubject};
use voiced_client::text::printable;

use voice_proto::pb::control as c;

use super::{Client, Failure, Output, daemon_state, done, out};

/// The server's state as the daemon holds it; an error when offline.
async fn server_state(client: &mut Client) -> Result<State, Failure> {
    let (reply, snap) = daemon_state(client).await?;
    if reply.state.is_none() {
        return Err(Failure::Other(
            "not connected to a server: `voicectl connect SERVER` first".to_owned(),
        ));
    }
    State::from_snapshot(&snap, voiced_client::mirror::mirror_limits()).map_err(|e| {
        Failure::Other(format!(
            "the daemon's copy of the server's state does not read ({e}); try again"
        ))
    })
}

/// The server's state and the room `room` names in it.
async fn state_and_room(client: &mut Client, room: &str) -> Result<(State, u32), Failure> {
    let state = server_state(client).await?;
    let id = state.resolve_room(room).map_err(Failure::Other)?;
    Ok((state, id))
}

fn gone(id: u32) -> Failure {
    Failure::Other(format!("room {id} is gone; `voicectl rooms` lists them"))
}

/// `voicectl acl show ROOM`: the rules in force in a room and its own.
pub async fn acl_show(client: &mut Client, room: &str) -> Result<Output, Failure> {
    let (state, id) = state_and_room(client, room).await?;
    let listing = acl::listing(&state, id).ok_or_else(|| gone(id))?;
    Ok(out(listing_text(&listing), listing_json(&listing)))
}

/// `voicectl acl effective ROOM`: every user × every permission in a room.
pub async fn acl_effective(client: &mut Client, room: &str) -> Result<Output, Failure> {
    let (state, id) = state_and_room(client, room).await?;
    let users = acl::effective(&state, id).ok_or_else(|| gone(id))?;
    let path = state.path(id).unwrap_or_default();
    Ok(out(
        effective_text(&path, id, &users),
        json!({
            "room": id,
            "path": path,
            "users": users.iter().map(effective_json).collect::<Vec<_>>(),
        }),
    ))
}

/// One line per user and permission: held or not, and why.
fn effective_text(path: &str, room: u32, users: &[Effective]) -> String {
    let mut out = format!("{} (room {room})\n", printable(path));
    for u in users {
        let name = printable(&u.name);
        if u.admin {
            out.push_str(&format!("{name:<20} admin: every permission\n"));
            continue;
        }
        if let Some(at) = &u.traverse_denied_at {
            out.push_str(&format!(
                "{name:<20} no traverse at {}: nothing here\n",
                printable(at)
            ));
            continue;
        }
        for d in &u.permissions {
            let why = match &d.rule {
                Some((_, path, index)) => format!("rule #{index} of {}", printable(path)),
                None => "no rule grants it".to_owned(),
            };
            out.push_str(&format!(
                "{name:<20} {:<14} {:<7} {why}\n",
                d.permission,
                if d.granted { "allowed" } else { "denied" }
            ));
        }
    }
    out
}

fn effective_json(u: &Effective) -> Value {
    json!({
        "session": u.session,
        "name": u.name,
        "admin": u.admin,
        "traverse_denied_at": u.traverse_denied_at,
        "permissions": u.permissions.iter().map(|d| json!({
            "permission": d.permission,
            "granted": d.granted,
            "rule": d.rule.as_ref().map(|(room, path, index)| json!({
                "room": room, "room_path": path, "index": index,
            })),
        })).collect::<Vec<_>>(),
    })
}

/// `voicectl role list`: every role and who holds it.
pub async fn role_list(client: &mut Client) -> Result<Output, Failure> {
    let state = server_state(client).await?;
    let roles = acl::roles(&state);
    Ok(out(
        roles_text(&roles),
        Value::Array(roles.iter().map(role_json).collect()),
    ))
}

/// `voicectl role create NAME`.
pub async fn role_create(
    client: &mut Client,
    name: &str,
    description: &str,
) -> Result<Output, Failure> {
    client
        .create_role(c::CreateRoleRequest {
            name: name.to_owned(),
            description: description.to_owned(),
        })
        .await?;
    Ok(done(&format!("created role {name}")))
}

/// `voicectl role delete NAME`.
pub async fn role_delete(client: &mut Client, name: &str) -> Result<Output, Failure> {
    client
        .delete_role(c::RoleRef {
            name: name.to_owned(),
        })
        .await?;
    Ok(done(&format!("deleted role {name}")))
}

/// `voicectl role grant|revoke USER ROLE`.
pub async fn role_set(
    client: &mut Client,
    user: &str,
    role: &str,
    grant: bool,
) -> Result<Output, Failure> {
    let r = c::RoleGrant {
        user: user.to_owned(),
        role: role.to_owned(),
    };
    if grant {
        client.grant_role(r).await?;
        Ok(done(&format!("gave {user} the role {role}")))
    } else {
        client.revoke_role(r).await?;
        Ok(done(&format!("took the role {role} from {user}")))
    }
}

fn subject_text(s: &RuleSubject) -> String {
    match s {
        RuleSubject::Role(r) => format!("role {}", printable(r)),
        RuleSubject::User { key, names } if names.is_empty() => {
            format!("user {}…", &key[..16.min(key.len())])
        }
        RuleSubject::User { key, names } => format!(
            "user {} ({}…)",
            printable(&names.join(", ")),
            &key[..8.min(key.len())]
        ),
        RuleSubject::Nobody => "nobody".to_owned(),
    }
}

fn subject_json(s: &RuleSubject) -> Value {
    match s {
        RuleSubject::Role(r) => json!({"role": r}),
        RuleSubject::User { key, names } => json!({"user_key": key, "names": names}),
        RuleSubject::Nobody => json!({}),
    }
}

fn entry_text(e: &Entry) -> String {
    let from = if e.inherited {
        format!("from {}", printable(&e.room_path))
    } else {
        "own".to_owned()
    };
    let mut grants = Vec::new();
    if !e.allow.is_empty() {
        grants.push(format!("allow {}", e.allow.join(",")));
    }
    if !e.deny.is_empty() {
        grants.push(format!("deny {}", e.deny.join(",")));
    }
    if grants.is_empty() {
        grants.push("nothing".to_owned());
    }
    let scope = match (e.here, e.below) {
        (true, true) => "here and below",
        (true, false) => "here only",
        (false, true) => "below only",
        (false, false) => "nowhere",
    };
    let force = if e.in_force {
        ""
    } else {
        " (not in force here)"
    };
    format!(
        "  {from:<20} #{:<2} {:<28} {}  [{scope}]{force}\n",
        e.index,
        subject_text(&e.subject),
        grants.join("; ")
    )
}

/// A listing for people: a header line, then one line per rule.
pub fn listing_text(l: &Listing) -> String {
    let mut out = format!(
        "{} (room {}){}\n",
        printable(&l.path),
        l.room,
        if l.inherit {
            ""
        } else {
            ": does not inherit, only its own rules count"
        }
    );
    if l.entries.is_empty() {
        out.push_str("  no rules: nobody but an admin may do anything here\n");
    }
    for e in &l.entries {
        out.push_str(&entry_text(e));
    }
    out
}

/// A listing as JSON.
pub fn listing_json(l: &Listing) -> Value {
    json!({
        "room": l.room,
        "path": l.path,
        "inherit": l.inherit,
        "entries": l.entries.iter().map(|e| json!({
            "room": e.room,
            "room_path": e.room_path,
            "index": e.index,
            "subject": subject_json(&e.subject),
            "allow": e.allow,
            "deny": e.deny,
            "here": e.here,
            "below": e.below,
            "inherited": e.inherited,
            "in_force": e.in_force,
        })).collect::<Vec<_>>(),
    })
}

fn roles_text(roles: &[RoleRow]) -> String {
    let mut out = String::new();
    for r in roles {
        let what = if r.builtin {
            "(built-in)".to_owned()
        } else {
            printable(&r.description).into_owned()
        };
        let holders = if r.holders.is_empty() {
            "-".to_owned()
        } else {
            printable(&r.holders.join(", ")).into_owned()
        };
        out.push_str(&format!(
            "{:<16} {:<24} {holders}\n",
            printable(&r.name),
            what
        ));
    }
    out
}

fn role_json(r: &RoleRow) -> Value {
    json!({
        "name": r.name,
        "description": r.description,
        "builtin": r.builtin,
        "holders": r.holders,
    })
}
