//! Human and JSON forms of what the daemon returns.

use serde_json::{Value, json};
use voice_proto::hash::hex;
use voice_proto::pb::control::{self as c, event};
use voice_proto::pb::wire::{self as w, StateSnapshot};
use voiced_client::chat::{SERVER_TAG, from_server};
use voiced_client::files::{
    human_size, human_speed, is_finished, percent, route_name, transfer_kind_name,
    transfer_state_name, with_relay_share,
};
use voiced_client::history::{EARLIER_END, EARLIER_MARKER, HistorySummary};
use voiced_client::names::{
    device_action_name, device_health_name, device_problem_name, format_time_ms, state_name,
    voice_mode_name,
};
use voiced_client::text::{printable, printable_multiline};

/// Status as JSON.
pub fn status_json(s: &c::StatusReply) -> Value {
    json!({
        "state": state_name(s.state),
        "server": s.server,
        "session_id": s.session_id,
        "room": s.room,
        "next_attempt_ms": s.next_attempt_ms,
        "last_error": s.last_error,
        "self_mute": s.self_mute,
        "self_deaf": s.self_deaf,
        "voice_mode": voice_mode_name(s.voice_mode),
        "rtt_ms": s.rtt_ms,
        "display_name": s.display_name,
        "fingerprint": s.fingerprint,
        "input_device": s.input_device.as_deref().map(audio_device_json),
        "output_device": s.output_device.as_deref().map(audio_device_json),
        "network": s.network.as_deref().map(|n| json!({
            "local_address": n.local_address,
            "last_change": n.last_change.as_ref().map(network_change_json),
        })),
        "playing": s.playing.as_deref().map(playing_json),
        "recording": s.recording.as_deref().map(recording_json),
    })
}

/// A file being played, as JSON.
pub fn playing_json(p: &c::Playing) -> Value {
    json!({
        "path": p.path,
        "format": p.format,
        "duration_ms": p.duration_ms,
        "sample_rate": p.sample_rate,
        "channels": p.channels,
        "loop": p.repeat,
        "volume": p.volume,
        "replace": p.replace,
        "started_ms": p.started_ms,
    })
}

/// A file being played, for people: path, format, length and options.
pub fn playing_text(p: &c::Playing) -> String {
    let mut t = format!("{} ({}", printable(&p.path), printable(&p.format));
    if p.duration_ms > 0 {
        let s = p.duration_ms / 1000;
        t.push_str(&format!(", {}:{:02}", s / 60, s % 60));
    }
    if p.volume != 100 {
        t.push_str(&format!(", volume {} %", p.volume));
    }
    if p.repeat {
        t.push_str(", looping");
    }
    if p.replace {
        t.push_str(", replacing the microphone");
    }
    t.push(')');
    t
}

/// A recording, as JSON.
pub fn recording_json(r: &c::Recording) -> Value {
    json!({
        "path": r.path,
        "format": r.format,
        "started_ms": r.started_ms,
        "duration_ms": r.duration_ms,
        "bytes": r.bytes,
        "limit_ms": r.limit_ms,
    })
}

/// A recording, for people: path, format, length and size.
pub fn recording_text(r: &c::Recording) -> String {
    let s = r.duration_ms / 1000;
    format!(
        "{} ({}, {}:{:02}, {} bytes)",
        printable(&r.path),
        r.format,
        s / 60,
        s % 60,
        r.bytes
    )
}

/// A change of the local address under the connection, as JSON.
pub fn network_change_json(n: &c::NetworkChange) -> Value {
    json!({
        "from": n.from,
        "to": n.to,
        "migrated": n.migrated,
        "took_ms": n.took_ms,
        "at_ms": n.at_ms,
        "message": voiced_client::status::network_change(n),
    })
}

/// One side's audio device as JSON: name, health, last problem (or null).
pub fn audio_device_json(d: &c::AudioDeviceStatus) -> Value {
    json!({
        "name": d.name,
        "health": device_health_name(d.health),
        "last_problem": d.last_problem.as_ref().map(device_problem_json),
    })
}

/// A lost or stuck device and what voiced did, as JSON.
pub fn device_problem_json(p: &c::DeviceProblem) -> Value {
    json!({
        "kind": device_problem_name(p.kind),
        "device": p.device,
        "at_ms": p.at_ms,
        "silent_ms": p.silent_ms,
        "action": device_action_name(p.action),
        "message": p.message,
    })
}

/// `input device: default (ok)` and, indented below, its last problem.
fn audio_device_text(out: &mut String, side: &str, d: &c::AudioDeviceStatus) {
    let name = if d.name.is_empty() { "none" } else { &d.name };
    out.push_str(&format!(
        "{side} device: {} ({})\n",
        printable(name),
        device_health_name(d.health)
    ));
    if let Some(p) = &d.last_problem {
        out.push_str(&format!(
            "  last problem at {}: {}\n",
            format_time_ms(p.at_ms),
            printable(&p.message)
        ));
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Status for people; `room_path` is the path of the current room if known.
pub fn status_text(s: &c::StatusReply, room_path: Option<&str>) -> String {
    let mut out = String::new();
    let state = state_name(s.state);
    match c::ConnectionState::try_from(s.state) {
        Ok(c::ConnectionState::Connected) => {
            out.push_str(&format!(
                "connected to {} as {} (session {}) in {}\n",
                printable(&s.server),
                printable(&s.display_name),
                s.session_id,
                printable(room_path.unwrap_or("?"))
            ));
        }
        Ok(c::ConnectionState::Reconnecting) => {
            out.push_str(&format!(
                "reconnecting to {} (next attempt at {})\n",
                printable(&s.server),
                format_time_ms(s.next_attempt_ms)
            ));
        }
        Ok(c::ConnectionState::Connecting) => {
            out.push_str(&format!("connecting to {}\n", printable(&s.server)));
        }
        _ => out.push_str(&format!("{state}\n")),
    }
    out.push_str(&format!(
        "mute: {}  deaf: {}  voice mode: {}\n",
        yes(s.self_mute),
        yes(s.self_deaf),
        voice_mode_name(s.voice_mode)
    ));
    if !s.fingerprint.is_empty() {
        out.push_str(&format!("fingerprint: {}\n", s.fingerprint));
    }
    if let Some(d) = &s.input_device {
        audio_device_text(&mut out, "input", d);
    }
    if let Some(d) = &s.output_device {
        audio_device_text(&mut out, "output", d);
    }
    let network = s.network.as_deref();
    if let Some(n) = network.filter(|n| !n.local_address.is_empty()) {
        out.push_str(&format!("local address: {}\n", n.local_address));
    }
    if let Some(n) = network.and_then(|n| n.last_change.as_ref()) {
        out.push_str(&format!(
            "network change at {}: {}\n",
            format_time_ms(n.at_ms),
            printable(&voiced_client::status::network_change(n))
        ));
    }
    if let Some(p) = &s.playing {
        out.push_str(&format!("playing: {}\n", playing_text(p)));
    }
    if let Some(r) = &s.recording {
        out.push_str(&format!("recording: {}\n", recording_text(r)));
    }
    if !s.last_error.is_empty() {
        out.push_str(&format!("last error: {}\n", printable(&s.last_error)));
    }
    out
}

/// The path of a room in a snapshot (`/` for the root).
pub fn room_path(snap: &StateSnapshot, id: u32) -> Option<String> {
    let mut parts = Vec::new();
    let mut cur = id;
    for _ in 0..64 {
        let room = snap.rooms.iter().find(|r| r.id == cur)?;
        if room.id == 0 {
            parts.reverse();
            return Some(format!("/{}", parts.join("/")));
        }
        parts.push(room.name.clone());
        cur = room.parent;
    }
    None
}

fn children(snap: &StateSnapshot, id: u32) -> Vec<&w::Room> {
    let mut kids: Vec<&w::Room> = snap
        .rooms
        .iter()
        .filter(|r| r.parent == id && r.id != id)
        .collect();
    kids.sort_by(|a, b| {
        (a.position, a.name.to_lowercase(), a.id).cmp(&(b.position, b.name.to_lowercase(), b.id))
    });
    kids
}

fn session_flags(s: &w::Session) -> String {
    let mut f = Vec::new();
    if s.recording {
        f.push("RECORDING");
    }
    if s.self_mute {
        f.push("muted");
    }
    if s.self_deaf {
        f.push("deaf");
    }
    if s.server_mute {
        f.push("server-muted");
    }
    if s.server_deaf {
        f.push("server-deaf");
    }
    if f.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.join(", "))
    }
}

/// The room tree with the users in each room.
pub fn rooms_text(snap: &StateSnapshot, me: u32) -> String {
    fn walk(snap: &StateSnapshot, id: u32, depth: usize, me: u32, out: &mut String) {
        let Some(room) = snap.rooms.iter().find(|r| r.id == id) else {
            return;
        };
        let indent = "  ".repeat(depth);
        let name = if id == 0 {
            "/".into()
        } else {
            printable(&room.name)
        };
        out.push_str(&format!("{indent}{name}\n"));
        for s in snap.sessions.iter().filter(|s| s.room == id) {
            let mark = if s.id == me { " (me)" } else { "" };
            out.push_str(&format!(
                "{indent}  - {}{mark}{}\n",
                printable(&s.name),
                session_flags(s)
            ));
        }
        for child in children(snap, id) {
            walk(snap, child.id, depth + 1, me, out);
        }
    }
    let mut out = String::new();
    walk(snap, 0, 0, me, &mut out);
    out
}

/// The room tree as JSON (nested).
pub fn rooms_json(snap: &StateSnapshot) -> Value {
    fn walk(snap: &StateSnapshot, room: &w::Room) -> Value {
        json!({
            "id": room.id,
            "name": room.name,
            "path": room_path(snap, room.id),
            "description": room.description,
            "users": snap.sessions.iter().filter(|s| s.room == room.id).map(|s| s.id).collect::<Vec<_>>(),
            "children": children(snap, room.id).into_iter().map(|c| walk(snap, c)).collect::<Vec<_>>(),
        })
    }
    match snap.rooms.iter().find(|r| r.id == 0) {
        Some(root) => walk(snap, root),
        None => Value::Null,
    }
}

/// A session as JSON.
pub fn session_json(snap: &StateSnapshot, s: &w::Session) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "public_key": hex(&s.public_key),
        "room": s.room,
        "room_path": room_path(snap, s.room),
        "self_mute": s.self_mute,
        "self_deaf": s.self_deaf,
        "server_mute": s.server_mute,
        "server_deaf": s.server_deaf,
        "recording": s.recording,
        "roles": s.roles,
    })
}

/// The users for people.
pub fn users_text(snap: &StateSnapshot, me: u32) -> String {
    let mut out = String::new();
    for s in &snap.sessions {
        let mark = if s.id == me { " (me)" } else { "" };
        out.push_str(&format!(
            "{:<4} {:<20} {}  {}{mark}{}\n",
            s.id,
            printable(&s.name),
            &hex(&s.public_key)[..16.min(s.public_key.len() * 2)],
            printable(&room_path(snap, s.room).unwrap_or_default()),
            session_flags(s)
        ));
    }
    out
}

/// A chat message as JSON.
pub fn chat_json(m: &w::ChatMessage) -> Value {
    json!({
        "id": m.id,
        "time_ms": m.time_ms,
        "room": m.room,
        "sender": m.sender,
        "sender_name": m.sender_name,
        "text": m.text,
        "seq": m.seq,
        "sender_key": hex(&m.sender_key),
        "history": m.history,
        "from_server": from_server(m),
    })
}

/// Chat messages for people, one [`chat_text`] each; a run of history
/// lines (fetched from the room's members) sits between [`EARLIER_MARKER`]
/// and, where live chat follows, [`EARLIER_END`].
pub fn chat_log_text(messages: &[w::ChatMessage]) -> String {
    let mut out = String::new();
    let mut in_history = false;
    for m in messages {
        if m.history && !in_history {
            out.push_str(EARLIER_MARKER);
            out.push('\n');
        } else if !m.history && in_history {
            out.push_str(EARLIER_END);
            out.push('\n');
        }
        in_history = m.history;
        out.push_str(&chat_text(m));
        out.push('\n');
    }
    out
}

/// A shared file as a history snapshot lists it, as JSON.
pub fn shared_file_json(f: &w::SharedFile) -> Value {
    json!({
        "id": f.id,
        "info_hash": hex(&f.info_hash),
        "name": f.name,
        "size": f.size,
        "room": f.room,
        "owner_key": hex(&f.owner_key),
    })
}

/// A room's fetched history as JSON: the reply's fields, its messages as
/// [`chat_json`] and its files as [`shared_file_json`].
pub fn history_json(h: &c::HistoryReply) -> Value {
    json!({
        "room": h.room,
        "messages": h.messages.iter().map(chat_json).collect::<Vec<_>>(),
        "first_seq": h.first_seq,
        "last_seq": h.last_seq,
        "info_hash": h.info_hash,
        "bytes": h.bytes,
        "seeders": h.seeders,
        "peers": h.peers,
        "elapsed_ms": h.elapsed_ms,
        "files": h.files.iter().map(shared_file_json).collect::<Vec<_>>(),
    })
}

/// A room's fetched history for people: its lines under [`EARLIER_MARKER`]
/// (every one marked as history, whatever voiced set), then the one-line
/// summary every front end shows, with the time it took.
pub fn history_text(h: &c::HistoryReply) -> String {
    let lines: Vec<w::ChatMessage> = h
        .messages
        .iter()
        .map(|m| w::ChatMessage {
            history: true,
            ..m.clone()
        })
        .collect();
    let mut out = if lines.is_empty() {
        format!("{EARLIER_MARKER}\n")
    } else {
        chat_log_text(&lines)
    };
    out.push_str(&format!(
        "{} in {:.1} s\n",
        HistorySummary::of(h),
        f64::from(h.elapsed_ms) / 1000.0
    ));
    out
}

/// A chat message for people: the sender's name escaped
/// ([`printable`]) and followed by `(server)` when the server sent it (a
/// bot; [`from_server`]), the text escaped but for newlines and tabs, and
/// its lines after the first indented so that no message can pass for
/// another.
pub fn chat_text(m: &w::ChatMessage) -> String {
    let tag = if from_server(m) {
        format!(" ({SERVER_TAG})")
    } else {
        String::new()
    };
    format!(
        "[{}] {}{tag}: {}",
        format_time_ms(m.time_ms),
        printable(&m.sender_name),
        printable_multiline(&m.text).replace('\n', "\n    ")
    )
}

/// A JSON value as one line, with every character a terminal could obey
/// or that hides or reorders text written as a `\uXXXX` escape (serde_json
/// escapes only C0 controls): the same data for a script, safe on a screen.
pub fn json_line(value: &Value) -> String {
    struct Escaping;
    impl serde_json::ser::Formatter for Escaping {
        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            for c in fragment.chars() {
                if voice_proto::text::classify(c).is_some() {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(writer, "\\u{unit:04x}")?;
                    }
                } else {
                    let mut buf = [0u8; 4];
                    writer.write_all(c.encode_utf8(&mut buf).as_bytes())?;
                }
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping);
    // Serialising a Value to a Vec cannot fail.
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

fn change_json(c: &w::Change) -> Value {
    use w::change::Kind;
    match &c.kind {
        Some(Kind::AddRoom(r)) => {
            json!({"add_room": {"id": r.id, "parent": r.parent, "name": r.name}})
        }
        Some(Kind::EditRoom(r)) => {
            json!({"edit_room": {"id": r.id, "name": r.name, "description": r.description, "position": r.position}})
        }
        Some(Kind::MoveRoom(r)) => json!({"move_room": {"id": r.id, "parent": r.parent}}),
        Some(Kind::RemoveRoom(r)) => json!({"remove_room": {"id": r.id}}),
        Some(Kind::SetRoomAcl(r)) => {
            json!({"set_room_acl": {"room": r.room, "inherit_acl": r.inherit_acl, "rules": r.rules.len()}})
        }
        Some(Kind::AddSession(s)) => {
            json!({"add_session": {"id": s.id, "name": s.name, "room": s.room, "public_key": hex(&s.public_key)}})
        }
        Some(Kind::RemoveSession(s)) => json!({"remove_session": {"id": s.id}}),
        Some(Kind::MoveSession(s)) => {
            json!({"move_session": {"session": s.session, "room": s.room}})
        }
        Some(Kind::SetSessionFlags(f)) => {
            json!({"set_session_flags": {"session": f.session, "self_mute": f.self_mute, "self_deaf": f.self_deaf, "server_mute": f.server_mute, "server_deaf": f.server_deaf, "recording": f.recording}})
        }
        Some(Kind::RenameSession(r)) => {
            json!({"rename_session": {"session": r.session, "name": r.name}})
        }
        Some(Kind::SetSessionRoles(r)) => {
            json!({"set_session_roles": {"session": r.session, "roles": r.roles}})
        }
        Some(Kind::AddRole(r)) => json!({"add_role": {"name": r.name}}),
        Some(Kind::RemoveRole(r)) => json!({"remove_role": {"name": r.name}}),
        Some(Kind::AddFile(f)) => json!({"add_file": {"id": f.id, "name": f.name, "room": f.room}}),
        Some(Kind::RemoveFile(f)) => json!({"remove_file": {"id": f.id}}),
        None => Value::Null,
    }
}

/// The full state as JSON.
pub fn state_json(s: &c::StateReply) -> Value {
    let snap = s.state.clone().unwrap_or_default();
    json!({
        "hash": hex(&s.hash),
        "session_id": s.session_id,
        "rooms": rooms_json(&snap),
        "users": snap.sessions.iter().map(|x| session_json(&snap, x)).collect::<Vec<_>>(),
    })
}

/// One event as a JSON line.
pub fn event_json(e: &c::Event) -> Value {
    match &e.kind {
        Some(event::Kind::Connection(s)) => {
            json!({"event": "connection", "status": status_json(s)})
        }
        Some(event::Kind::State(s)) => json!({"event": "state", "state": state_json(s)}),
        Some(event::Kind::Update(u)) => json!({
            "event": "update",
            "seq": u.seq,
            "actor": u.actor,
            "hash": hex(&u.resulting_hash),
            "change": u.change.as_ref().map(change_json),
        }),
        Some(event::Kind::Chat(m)) => json!({"event": "chat", "message": chat_json(m)}),
        Some(event::Kind::Talking(t)) => {
            json!({"event": "talking", "session": t.session, "talking": t.talking})
        }
        Some(event::Kind::Level(l)) => {
            json!({"event": "level", "dbfs": l.dbfs, "voice": l.voice, "transmitting": l.transmitting})
        }
        Some(event::Kind::Error(er)) => json!({"event": "error", "message": er.message}),
        Some(event::Kind::Device(d)) => json!({
            "event": "device",
            "message": d.message,
            "problem": d.problem.as_ref().map(device_problem_json),
        }),
        Some(event::Kind::Trust(t)) => json!({
            "event": "trust",
            "server": t.server,
            "fingerprint": t.fingerprint,
            "previous_fingerprint": t.previous_fingerprint,
            "previous_first_seen_ms": t.previous_first_seen_ms,
        }),
        Some(event::Kind::Transfer(t)) => {
            json!({"event": "transfer", "transfer": transfer_json(t)})
        }
        Some(event::Kind::History(h)) => {
            json!({"event": "history", "history": history_json(h)})
        }
        Some(event::Kind::Network(n)) => {
            json!({"event": "network", "change": network_change_json(n)})
        }
        Some(event::Kind::Media(m)) => json!({
            "event": "media",
            "kind": media_event_name(m.kind),
            "playing": m.playing.as_deref().map(playing_json),
            "recording": m.recording.as_deref().map(recording_json),
            "error": m.error,
        }),
        None => json!({"event": "unknown"}),
    }
}

/// A media event's kind, as a word.
fn media_event_name(kind: i32) -> &'static str {
    use c::media_event::Kind as K;
    match K::try_from(kind) {
        Ok(K::PlayStarted) => "play_started",
        Ok(K::PlayEnded) => "play_ended",
        Ok(K::RecordStarted) => "record_started",
        Ok(K::RecordEnded) => "record_ended",
        _ => "unknown",
    }
}

/// A permission's one name (`voice_proto::acl::Permissions::name`).
fn permission_name(p: i32) -> String {
    voice_proto::acl::Permissions::name_of(p)
        .map(str::to_owned)
        .unwrap_or_else(|| p.to_string())
}

/// An explanation as JSON.
pub fn explanation_json(x: &w::Explanation) -> Value {
    json!({
        "room": x.room,
        "session": x.session,
        "admin": x.admin,
        "traverse_denied_at": x.traverse_denied_at,
        "evaluated_from": x.evaluated_from,
        "permissions": x.permissions.iter().map(|p| json!({
            "permission": permission_name(p.permission),
            "granted": p.granted,
            "matched": p.matched.iter().map(|m| json!({"room": m.room, "index": m.index})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// An explanation for people.
pub fn explanation_text(x: &w::Explanation) -> String {
    let mut out = format!("session {} in room {}\n", x.session, x.room);
    if x.admin {
        out.push_str("admin: every permission is granted\n");
    }
    if let Some(r) = x.traverse_denied_at {
        out.push_str(&format!(
            "traverse is denied at room {r}: nothing below is granted\n"
        ));
    }
    if x.evaluated_from != 0 {
        out.push_str(&format!("inheritance stops at room {}\n", x.evaluated_from));
    }
    for p in &x.permissions {
        let by = p
            .matched
            .last()
            .map(|m| format!(" (rule {} of room {})", m.index, m.room))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<14} {}{by}\n",
            permission_name(p.permission),
            if p.granted { "granted" } else { "denied" }
        ));
    }
    out
}

/// `text` cut to `width` characters, with `…` where it was cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A shared file as JSON.
pub fn file_json(f: &c::FileEntry) -> Value {
    json!({
        "id": f.id,
        "name": f.name,
        "size": f.size,
        "sharer": f.sharer,
        "sharer_key": f.sharer_key,
        "seeders": f.seeders,
        "leechers": f.leechers,
        "info_hash": f.info_hash,
        "room": f.room,
        "magnet": f.magnet,
    })
}

/// The shared files for people: a table of id, name, size, sharer, seeders.
pub fn files_text(files: &[c::FileEntry]) -> String {
    if files.is_empty() {
        return "no files shared in this room\n".to_owned();
    }
    let mut out = format!(
        "{:<5} {:<32} {:>10}  {:<20} {:>7}\n",
        "ID", "NAME", "SIZE", "SHARER", "SEEDERS"
    );
    for f in files {
        out.push_str(&format!(
            "{:<5} {:<32} {:>10}  {:<20} {:>7}\n",
            f.id,
            clip(&printable(&f.name), 32),
            human_size(f.size),
            clip(&printable(&f.sharer), 20),
            f.seeders
        ));
    }
    out
}

/// A transfer as JSON.
pub fn transfer_json(t: &c::Transfer) -> Value {
    json!({
        "id": t.id,
        "kind": transfer_kind_name(t.kind),
        "state": transfer_state_name(t.state),
        "name": t.name,
        "info_hash": t.info_hash,
        "size": t.size,
        "done_bytes": t.done_bytes,
        "uploaded_bytes": t.uploaded_bytes,
        "download_bps": t.download_bps,
        "upload_bps": t.upload_bps,
        "peers": t.peers,
        "room": t.room,
        "file_id": t.file_id,
        "path": t.path,
        "error": t.error,
        "route": t.route,
        "relayed_peers": t.relayed_peers,
        "relayed_bytes": t.relayed_bytes,
    })
}

/// One progress line of `voicectl download --json`.
pub fn progress_json(t: &c::Transfer) -> Value {
    json!({
        "id": t.id,
        "state": transfer_state_name(t.state),
        "done_bytes": t.done_bytes,
        "size": t.size,
        "download_bps": t.download_bps,
        "peers": t.peers,
    })
}

/// How a transfer's peers are connected, for the ROUTE column: `direct`,
/// `relayed`, `mixed` or `-`, and with any peer through the server's relay
/// how many of the peers and the bytes it moved: `relayed (2 of 3, 14.2 MiB)`.
pub fn route_text(t: &c::Transfer) -> String {
    with_relay_share(t, route_name(t), "")
}

/// The transfers for people: id, kind, state, name, progress, speed, peers,
/// route (a failed one's reason on the line below).
pub fn transfers_text(transfers: &[c::Transfer]) -> String {
    if transfers.is_empty() {
        return "no transfers\n".to_owned();
    }
    let mut out = format!(
        "{:<5} {:<8} {:<11} {:<32} {:>4}  {:>12} {:>5}  {}\n",
        "ID", "KIND", "STATE", "NAME", "%", "SPEED", "PEERS", "ROUTE"
    );
    for t in transfers {
        let speed = if c::TransferKind::try_from(t.kind) == Ok(c::TransferKind::Download)
            && !is_finished(t)
        {
            format!("↓{}", human_speed(t.download_bps))
        } else {
            format!("↑{}", human_speed(t.upload_bps))
        };
        out.push_str(&format!(
            "{:<5} {:<8} {:<11} {:<32} {:>3}%  {:>12} {:>5}  {}\n",
            t.id,
            transfer_kind_name(t.kind),
            transfer_state_name(t.state),
            clip(&printable(&t.name), 32),
            percent(t),
            speed,
            t.peers,
            route_text(t)
        ));
        if !t.error.is_empty() {
            out.push_str(&format!("      {}\n", printable(&t.error)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(state: c::TransferState) -> c::Transfer {
        c::Transfer {
            id: 7,
            kind: c::TransferKind::Download as i32,
            state: state as i32,
            name: "big\u{1b}[2J.bin".into(),
            size: 4 * 1024 * 1024,
            done_bytes: 1024 * 1024,
            download_bps: 512 * 1024,
            peers: 2,
            ..c::Transfer::default()
        }
    }

    #[test]
    fn status_shows_the_devices_and_their_last_problem() {
        let problem = c::DeviceProblem {
            kind: c::device_problem::Kind::Stalled as i32,
            direction: c::select_device_request::Direction::Input as i32,
            device: "pulse".into(),
            at_ms: 1_796_285_339_554,
            silent_ms: 531,
            action: c::device_problem::Action::MovedToDefault as i32,
            message: "input device \"pulse\" stopped delivering audio without an error \
                      (nothing for 531 ms); moving to the default device"
                .into(),
        };
        let s = c::StatusReply {
            state: c::ConnectionState::Disconnected as i32,
            input_device: Some(Box::new(c::AudioDeviceStatus {
                name: "default".into(),
                health: c::DeviceHealth::DeviceOk as i32,
                last_problem: Some(problem),
            })),
            output_device: Some(Box::new(c::AudioDeviceStatus {
                name: "default".into(),
                health: c::DeviceHealth::DeviceOk as i32,
                last_problem: None,
            })),
            ..c::StatusReply::default()
        };
        let text = status_text(&s, None);
        assert!(text.contains("input device: default (ok)\n"), "{text}");
        assert!(
            text.contains("  last problem at 2026-12-03 08:08 UTC: ")
                && text.contains("stopped delivering audio without an error"),
            "{text}"
        );
        assert!(text.contains("output device: default (ok)\n"), "{text}");
        let j = status_json(&s);
        assert_eq!(
            j["input_device"]["last_problem"],
            json!({"kind": "stalled", "device": "pulse", "at_ms": 1_796_285_339_554u64,
                   "silent_ms": 531, "action": "moved_to_default",
                   "message": problem_message(&s)})
        );
        assert_eq!(j["output_device"]["health"], "ok");
        assert_eq!(j["output_device"]["last_problem"], Value::Null);
        // Without devices (the file and null backends) nothing is said.
        let none = status_text(&c::StatusReply::default(), None);
        assert!(!none.contains("device"), "{none}");
        assert_eq!(
            status_json(&c::StatusReply::default())["input_device"],
            Value::Null
        );
    }

    fn problem_message(s: &c::StatusReply) -> String {
        s.input_device
            .as_ref()
            .and_then(|d| d.last_problem.as_ref())
            .map(|p| p.message.clone())
            .unwrap_or_default()
    }

    #[test]
    fn files_are_a_table_with_human_sizes_and_escaped_names() {
        let files = [c::FileEntry {
            id: 3,
            name: "notes\u{202e}.txt".into(),
            size: 1536,
            sharer: "ann".into(),
            seeders: 2,
            ..c::FileEntry::default()
        }];
        let text = files_text(&files);
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("3     notes"), "{text}");
        assert!(row.contains("1.5 KiB") && row.contains("ann"), "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
        let json = file_json(&files[0]);
        for key in ["id", "name", "size", "sharer", "seeders"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(files_text(&[]), "no files shared in this room\n");
    }

    #[test]
    fn transfers_show_progress_speed_and_why_one_failed() {
        let mut failed = transfer(c::TransferState::Failed);
        failed.error = "no peer has it".into();
        let text = transfers_text(&[transfer(c::TransferState::Downloading), failed]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("download") && lines[1].contains("downloading"));
        assert!(
            lines[1].contains(" 25%") && lines[1].contains("↓512.0 KiB/s"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(lines[3].trim(), "no peer has it");
        assert_eq!(
            progress_json(&transfer(c::TransferState::Checking)),
            json!({"id": 7, "state": "checking", "done_bytes": 1048576, "size": 4194304,
                   "download_bps": 524288, "peers": 2})
        );
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    /// `transfer` with its peers connected by `route`, `relayed` of them
    /// through the relay.
    fn routed(route: &str, peers: u32, relayed: u32, relayed_bytes: u64) -> c::Transfer {
        c::Transfer {
            route: route.into(),
            peers,
            relayed_peers: relayed,
            relayed_bytes,
            ..transfer(c::TransferState::Downloading)
        }
    }

    #[test]
    fn transfers_show_whether_their_peers_go_through_the_relay() {
        let mib = 1024 * 1024;
        let transfers = [
            routed("direct", 2, 0, 0),
            routed("relayed", 2, 2, 14 * mib + mib / 5),
            routed("mixed", 3, 1, 512),
            routed("", 0, 0, 0),
            routed("pigeon", 1, 0, 0),
        ];
        let text = transfers_text(&transfers);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("PEERS  ROUTE"), "{text}");
        // Columns are counted in characters (the speed has an arrow).
        let column = lines[0].len() - "ROUTE".len();
        let routes: Vec<String> = lines[1..]
            .iter()
            .map(|l| l.chars().skip(column).collect())
            .collect();
        assert_eq!(
            routes,
            [
                "direct",
                "relayed (2 of 2, 14.2 MiB)",
                "mixed (1 of 3, 512 B)",
                "-",
                "unknown"
            ],
            "{text}"
        );
        // The route is the last column: rows without a relay stay narrow.
        assert!(lines[1].ends_with("    2  direct"), "{text}");
        assert!(lines[4].ends_with("    0  -"), "{text}");
    }

    #[test]
    fn transfer_json_says_the_route_and_what_went_through_the_relay() {
        let json = transfer_json(&routed("mixed", 3, 1, 4096));
        assert_eq!(json["route"], "mixed");
        assert_eq!(json["relayed_peers"], 1);
        assert_eq!(json["relayed_bytes"], 4096);
        for route in ["direct", "relayed", ""] {
            let json = transfer_json(&routed(route, 1, 0, 0));
            assert_eq!(json["route"], route);
            assert_eq!(json["relayed_peers"], 0);
            assert_eq!(json["relayed_bytes"], 0);
        }
    }

    fn line(seq: u64, history: bool, text: &str) -> w::ChatMessage {
        w::ChatMessage {
            id: if history { 0 } else { seq + 100 },
            seq,
            time_ms: 1_795_000_000_000 + seq * 60_000,
            room: 3,
            sender: 2,
            sender_name: "bob".into(),
            sender_key: vec![0xab; 32],
            text: text.into(),
            history,
            ..w::ChatMessage::default()
        }
    }

    #[test]
    fn history_lines_sit_between_markers_above_live_chat() {
        let text = chat_log_text(&[
            line(1, true, "old one"),
            line(2, true, "old\ntwo"),
            line(3, false, "live"),
        ]);
        assert_eq!(
            text,
            "— earlier messages (history) —\n\
             [2026-11-18 11:07 UTC] bob: old one\n\
             [2026-11-18 11:08 UTC] bob: old\n    two\n\
             — end of earlier messages —\n\
             [2026-11-18 11:09 UTC] bob: live\n"
        );
        assert_eq!(
            chat_log_text(&[line(3, false, "live")]),
            "[2026-11-18 11:09 UTC] bob: live\n"
        );
    }

    #[test]
    fn a_bots_message_is_marked_as_the_servers_in_text_and_json() {
        // What a bot's `SendChat` delivers: sender 0, no key, its name.
        let bot = |name: &str| w::ChatMessage {
            sender: 0,
            sender_key: Vec::new(),
            sender_name: name.into(),
            ..line(4, false, "Welcome, ada!")
        };
        assert_eq!(
            chat_text(&bot("Greeter")),
            "[2026-11-18 11:10 UTC] Greeter (server): Welcome, ada!"
        );
        // A bot named like a member is told apart from the member.
        assert_eq!(
            chat_log_text(&[line(3, false, "hi"), bot("bob")]),
            "[2026-11-18 11:09 UTC] bob: hi\n\
             [2026-11-18 11:10 UTC] bob (server): Welcome, ada!\n"
        );
        // The name is escaped as ever, the tag after it.
        assert_eq!(
            chat_text(&bot("Greet\u{202E}er")),
            "[2026-11-18 11:10 UTC] Greet\\u{202E}er (server): Welcome, ada!"
        );
        // A history line keeps its sender, so a bot's stays marked.
        let old = w::ChatMessage {
            history: true,
            ..bot("Greeter")
        };
        assert!(chat_log_text(&[old]).contains("] Greeter (server): Welcome"));

        let json = chat_json(&bot("Greeter"));
        assert_eq!(json["from_server"], true);
        assert_eq!(json["sender"], 0);
        assert_eq!(json["sender_name"], "Greeter");
        assert_eq!(json["sender_key"], "");
        let json = chat_json(&line(3, false, "hi"));
        assert_eq!(json["from_server"], false);
        let mut keys: Vec<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut expected = [
            "id",
            "time_ms",
            "room",
            "sender",
            "sender_name",
            "text",
            "seq",
            "sender_key",
            "history",
            "from_server",
        ];
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn a_fetched_history_prints_its_lines_and_summary_and_every_key_as_json() {
        let reply = c::HistoryReply {
            room: 3,
            // voiced marks them; the reply is history even if it did not.
            messages: vec![line(7, true, "first"), line(8, false, "second")],
            first_seq: 7,
            last_seq: 8,
            info_hash: "12".repeat(20),
            bytes: 12_595,
            seeders: 2,
            peers: 2,
            elapsed_ms: 1_250,
            files: vec![w::SharedFile {
                id: 4,
                info_hash: vec![0xcd; 20],
                name: "notes.txt".into(),
                size: 10,
                room: 3,
                owner_key: vec![1; 32],
            }],
        };
        let text = history_text(&reply);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                EARLIER_MARKER,
                "[2026-11-18 11:13 UTC] bob: first",
                "[2026-11-18 11:14 UTC] bob: second",
                "2 earlier messages from 2 members (12.3 KiB) in 1.2 s",
            ]
        );
        let json = history_json(&reply);
        for key in [
            "room",
            "messages",
            "first_seq",
            "last_seq",
            "info_hash",
            "bytes",
            "seeders",
            "peers",
            "elapsed_ms",
            "files",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["messages"][0]["seq"], 7);
        assert_eq!(json["messages"][0]["sender_key"], "ab".repeat(32));
        assert_eq!(json["messages"][0]["history"], true);
        assert_eq!(json["messages"][0]["from_server"], false);
        assert_eq!(json["messages"][1]["sender_name"], "bob");
        assert_eq!(json["files"][0]["info_hash"], "cd".repeat(20));
        assert_eq!(json["elapsed_ms"], 1250);
        let event = event_json(&c::Event {
            kind: Some(event::Kind::History(reply)),
        });
        assert_eq!(event["event"], "history");
        assert_eq!(event["history"]["last_seq"], 8);
        let empty = history_text(&c::HistoryReply::default());
        assert_eq!(
            empty,
            format!("{EARLIER_MARKER}\nno earlier messages from 0 members (0 B) in 0.0 s\n")
        );
    }
}
