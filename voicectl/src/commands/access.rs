//! Access: `acl show|effective|set|clear`, `role …`, `register`, `kick`,
//! `ban`, `unban` and `bans`. Listings are read from the daemon's copy of
//! the server's state (`voiced_client::acl` names the rules and decides
//! nothing itself: `voice_proto::acl` does); every change goes through the
//! daemon to the server, which checks it.

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use voice_proto::State;
use voice_proto::pb::wire::{AclRule, acl_rule};
use voice_proto::state::{ROLE_EVERYONE, ROLE_KNOWN};
use voiced_client::acl::{self, Effective, Entry, Listing, RoleRow, RuleSubject};
use voiced_client::names::format_time_ms;
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
        e.subject.text(),
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

/// What `voicectl acl set` was asked for.
pub struct AclEdit<'a> {
    /// Rules from a file (`-` = standard input).
    pub file: Option<&'a Path>,
    /// `WHO PERMS` pairs to allow, flattened.
    pub allow: &'a [String],
    /// `WHO PERMS` pairs to deny, flattened.
    pub deny: &'a [String],
    /// `false` with `--no-inherit`.
    pub inherit: bool,
    /// Rules from flags apply in the room.
    pub here: bool,
    /// Rules from flags apply below it.
    pub below: bool,
    /// Keep the room's own rules and add after them.
    pub keep: bool,
}

/// Largest rules file read, in bytes.
const MAX_RULES_FILE: u64 = 1 << 20;

/// `voicectl acl set ROOM …`: replaces the room's own rules, then prints
/// what is in force there now.
pub async fn acl_set(
    client: &mut Client,
    room: &str,
    edit: &AclEdit<'_>,
) -> Result<Output, Failure> {
    let (state, id) = state_and_room(client, room).await?;
    if edit.file.is_none() && edit.allow.is_empty() && edit.deny.is_empty() && edit.inherit {
        return Err(Failure::Other(
            "nothing to set: give --allow WHO PERMS, --deny WHO PERMS, --no-inherit or --file FILE (`voicectl acl clear ROOM` removes the room's rules)".to_owned(),
        ));
    }
    let (current_inherit, current) = acl::own_rules(&state, id).ok_or_else(|| gone(id))?;
    let (inherit, mut rules) = match edit.file {
        Some(path) => {
            let (inherit, rules) = rules_file(&state, path)?;
            (inherit && edit.inherit, rules)
        }
        None if edit.keep => (current_inherit && edit.inherit, current),
        None => (edit.inherit, Vec::new()),
    };
    rules.extend(flag_rules(&state, edit)?);
    let count = rules.len();
    client
        .set_acl(c::SetAclRequest {
            room: id.to_string(),
            inherit,
            rules,
        })
        .await?;
    // The daemon's copy has the change before the call returns.
    let state = server_state(client).await?;
    let listing = acl::listing(&state, id).ok_or_else(|| gone(id))?;
    let path = printable(&listing.path).into_owned();
    Ok(out(
        format!(
            "set {count} rule{} on {path}\n{}",
            if count == 1 { "" } else { "s" },
            listing_text(&listing)
        ),
        listing_json(&listing),
    ))
}

/// `voicectl acl clear ROOM`: no own rules, inheriting again.
pub async fn acl_clear(client: &mut Client, room: &str) -> Result<Output, Failure> {
    let (_, id) = state_and_room(client, room).await?;
    client
        .set_acl(c::SetAclRequest {
            room: id.to_string(),
            inherit: true,
            rules: Vec::new(),
        })
        .await?;
    let state = server_state(client).await?;
    let listing = acl::listing(&state, id).ok_or_else(|| gone(id))?;
    Ok(out(
        format!(
            "cleared the rules of {}\n{}",
            printable(&listing.path),
            listing_text(&listing)
        ),
        listing_json(&listing),
    ))
}

/// The rules of `--allow`/`--deny`, broadest subject first (everyone,
/// known, other roles by name, users), allow before deny for one subject.
fn flag_rules(state: &State, edit: &AclEdit<'_>) -> Result<Vec<AclRule>, Failure> {
    let mut rules = Vec::new();
    for (pairs, allow) in [(edit.allow, true), (edit.deny, false)] {
        for pair in pairs.chunks(2) {
            let [who, perms] = pair else {
                return Err(Failure::Other(
                    "--allow and --deny take two values: WHO PERMS".to_owned(),
                ));
            };
            let subject = acl::parse_subject(state, who).map_err(Failure::Other)?;
            let bits = acl::parse_permissions(perms).map_err(Failure::Other)?;
            rules.push(AclRule {
                subject: Some(subject),
                allow: if allow { bits } else { 0 },
                deny: if allow { 0 } else { bits },
                apply_here: edit.here,
                apply_subs: edit.below,
            });
        }
    }
    rules.sort_by_key(|r| match &r.subject {
        Some(acl_rule::Subject::Role(role)) if role == ROLE_EVERYONE => (0, String::new()),
        Some(acl_rule::Subject::Role(role)) if role == ROLE_KNOWN => (1, String::new()),
        Some(acl_rule::Subject::Role(role)) => (2, role.clone()),
        _ => (3, String::new()),
    });
    Ok(rules)
}

/// Rules from a file in the shape `acl show --json` prints: `inherit` and
/// the room's own `entries` (inherited ones are skipped).
fn rules_file(state: &State, path: &Path) -> Result<(bool, Vec<AclRule>), Failure> {
    let name = path.display().to_string();
    let mut text = String::new();
    let read = if name == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_RULES_FILE + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_RULES_FILE + 1).read_to_string(&mut text))
    };
    read.map_err(|e| Failure::Other(format!("cannot read {name}: {e}")))?;
    if text.len() as u64 > MAX_RULES_FILE {
        return Err(Failure::Other(format!(
            "{name} is larger than {MAX_RULES_FILE} bytes; a room's rules fit in far less"
        )));
    }
    let bad = |what: String| {
        Failure::Other(format!(
            "{name}: {what} (write it the way `voicectl acl show ROOM --json` prints)"
        ))
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let inherit = match doc.get("inherit") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("`inherit` is not true or false".to_owned())),
    };
    let entries = doc
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `entries` list".to_owned()))?;
    let mut rules = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.get("inherited").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let at = |what: &str| bad(format!("entry {i}: {what}"));
        let subject = match e.get("subject") {
            Some(s) => match (s.get("role"), s.get("user_key")) {
                (Some(Value::String(role)), None) => {
                    acl::parse_subject(state, &format!("role:{role}")).map_err(|m| at(&m))?
                }
                (None, Some(Value::String(key))) => {
                    let key = voice_proto::hash::parse_hex(key)
                        .filter(|k| k.len() == 32)
                        .ok_or_else(|| at("`user_key` is not 64 hex digits"))?;
                    acl_rule::Subject::UserKey(key)
                }
                _ => return Err(at("`subject` needs one of `role` or `user_key`")),
            },
            None => return Err(at("no `subject`")),
        };
        let perms = |field: &str| -> Result<u32, Failure> {
            match e.get(field) {
                None => Ok(0),
                Some(Value::Array(names)) if names.is_empty() => Ok(0),
                Some(Value::Array(names)) => {
                    let list: Option<Vec<&str>> = names.iter().map(Value::as_str).collect();
                    let list = list.ok_or_else(|| at(&format!("`{field}` holds a non-string")))?;
                    acl::parse_permissions(&list.join(",")).map_err(|m| at(&m))
                }
                Some(_) => Err(at(&format!("`{field}` is not a list of permission names"))),
            }
        };
        let flag = |field: &str| -> Result<bool, Failure> {
            match e.get(field) {
                None => Ok(true),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(at(&format!("`{field}` is not true or false"))),
            }
        };
        rules.push(AclRule {
            subject: Some(subject),
            allow: perms("allow")?,
            deny: perms("deny")?,
            apply_here: flag("here")?,
            apply_subs: flag("below")?,
        });
    }
    Ok((inherit, rules))
}

/// `voicectl register USER`.
pub async fn register(client: &mut Client, user: &str) -> Result<Output, Failure> {
    client
        .register(c::UserRef {
            user: user.to_owned(),
        })
        .await?;
    Ok(done(&format!(
        "registered {}: they hold the role known now",
        printable(user)
    )))
}

/// `voicectl kick USER` (`ban` = `None`) or `voicectl ban USER` (`Some`
/// seconds, 0 = for ever).
pub async fn kick(
    client: &mut Client,
    user: &str,
    reason: &str,
    ban: Option<u64>,
) -> Result<Output, Failure> {
    client
        .kick(c::KickRequest {
            user: user.to_owned(),
            reason: reason.to_owned(),
            ban: ban.is_some(),
            ban_seconds: ban.unwrap_or(0),
        })
        .await?;
    let user = printable(user);
    Ok(done(&match ban {
        None => format!("kicked {user}"),
        Some(0) => format!("banned {user} for ever"),
        Some(s) => format!("banned {user} for {}", span(s)),
    }))
}

/// `voicectl unban USER`.
pub async fn unban(client: &mut Client, user: &str) -> Result<Output, Failure> {
    client
        .unban(c::UserRef {
            user: user.to_owned(),
        })
        .await?;
    Ok(done(&format!("lifted the ban on {}", printable(user))))
}

/// `voicectl bans`: the bans in force, newest first.
pub async fn bans(client: &mut Client) -> Result<Output, Failure> {
    let reply = client.bans(c::Empty {}).await?.into_inner();
    let mut text = String::new();
    if reply.bans.is_empty() {
        text.push_str("no bans\n");
    }
    for b in &reply.bans {
        let key = voice_proto::hash::hex(&b.public_key);
        let name = if b.name.is_empty() {
            "?".to_owned()
        } else {
            printable(&b.name).into_owned()
        };
        let until = if b.expires_ms == 0 {
            "for ever".to_owned()
        } else {
            format!("until {}", format_time_ms(b.expires_ms))
        };
        text.push_str(&format!(
            "{name:<20} {}…  {until:<30} by {:<12} {}\n",
            &key[..16.min(key.len())],
            printable(&b.banned_by),
            printable(&b.reason)
        ));
    }
    if reply.omitted > 0 {
        text.push_str(&format!("… and {} older bans\n", reply.omitted));
    }
    let json = json!({
        "bans": reply.bans.iter().map(|b| json!({
            "public_key": voice_proto::hash::hex(&b.public_key),
            "name": b.name,
            "reason": b.reason,
            "created_ms": b.created_ms,
            "expires_ms": b.expires_ms,
            "banned_by": b.banned_by,
        })).collect::<Vec<_>>(),
        "omitted": reply.omitted,
    });
    Ok(out(text, json))
}

/// Seconds as the largest whole units: `2h`, `1d12h`, `90s`.
fn span(seconds: u64) -> String {
    let mut left = seconds;
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}
