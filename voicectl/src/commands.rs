//! One function per command: call the daemon, then print.

use clap::CommandFactory;
use serde_json::{Value, json};
use tonic::transport::Channel;
use voice_proto::pb::control::{
    self as c, select_device_request::Direction as Dir, voiced_client::VoicedClient,
};
use voiced::trust::format_time_ms;

use crate::cli::{
    ChatAction, Cli, Command, Direction, Key, Mode, RoomAction, ServerAction, Switch,
};
use crate::render;

/// A command failed.
#[derive(Debug)]
pub enum Failure {
    /// The daemon said no (or the call failed).
    Status(tonic::Status),
    /// Local trouble (bad input, output).
    Other(String),
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Self {
        Self::Status(s)
    }
}

/// What a command prints.
pub struct Output {
    /// For people.
    pub text: String,
    /// For scripts.
    pub json: Value,
}

fn out(text: impl Into<String>, json: Value) -> Output {
    Output {
        text: text.into(),
        json,
    }
}

fn done(what: &str) -> Output {
    out(format!("{what}\n"), json!({"ok": true}))
}

/// Commands that need no daemon.
pub fn offline(cli: &Cli) -> Option<Result<Output, Failure>> {
    match &cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "voicectl", &mut buf);
            Some(Ok(out(String::from_utf8_lossy(&buf), Value::Null)))
        }
        Command::Man => {
            let mut buf = Vec::new();
            Some(
                clap_mangen::Man::new(Cli::command())
                    .render(&mut buf)
                    .map(|()| out(String::from_utf8_lossy(&buf), Value::Null))
                    .map_err(|e| Failure::Other(e.to_string())),
            )
        }
        _ => None,
    }
}

type Client = VoicedClient<Channel>;

async fn status(client: &mut Client) -> Result<c::StatusReply, Failure> {
    Ok(client.status(c::Empty {}).await?.into_inner())
}

async fn snapshot(
    client: &mut Client,
) -> Result<(c::StateReply, voice_proto::pb::wire::StateSnapshot), Failure> {
    let s = client.state(c::Empty {}).await?.into_inner();
    let snap = s.state.clone().unwrap_or_default();
    Ok((s, snap))
}

fn flip(switch: Switch, now: bool) -> bool {
    match switch {
        Switch::On => true,
        Switch::Off => false,
        Switch::Toggle => !now,
    }
}

/// Splits `A/B/C` into parent path `A/B` and name `C`.
fn split_path(path: &str) -> (String, String) {
    let p = path.trim().trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((parent, name)) if !parent.is_empty() => (parent.to_owned(), name.to_owned()),
        Some((_, name)) => (String::new(), name.to_owned()),
        None => (String::new(), p.to_owned()),
    }
}

/// Runs a command against the daemon.
pub async fn run(client: &mut Client, cli: &Cli) -> Result<Output, Failure> {
    use Command as C;
    Ok(match &cli.command {
        C::Status => {
            let s = status(client).await?;
            let path = match snapshot(client).await {
                Ok((_, snap)) => render::room_path(&snap, s.room),
                Err(_) => None,
            };
            let mut j = render::status_json(&s);
            j["room_path"] = json!(path);
            out(render::status_text(&s, path.as_deref()), j)
        }
        C::Identity => {
            let i = client.identity(c::Empty {}).await?.into_inner();
            out(
                format!("name: {}\npublic key: {}\n", i.display_name, i.public_key),
                json!({"display_name": i.display_name, "public_key": i.public_key}),
            )
        }
        C::Name { name } => {
            let i = client
                .set_display_name(c::SetDisplayNameRequest { name: name.clone() })
                .await?
                .into_inner();
            out(
                format!("name: {}\n", i.display_name),
                json!({"display_name": i.display_name, "public_key": i.public_key}),
            )
        }
        C::Connect {
            server,
            password,
            name,
            ca_file,
            accept_new,
            accept_fingerprint,
            admin_token,
        } => {
            let s = client
                .connect(c::ConnectRequest {
                    server: server.clone(),
                    password: password.clone().unwrap_or_default(),
                    display_name: name.clone().unwrap_or_default(),
                    admin_token: admin_token.clone().unwrap_or_default(),
                    ca_file: ca_file
                        .as_ref()
                        .map(|p| {
                            std::path::absolute(p)
                                .unwrap_or_else(|_| p.clone())
                                .display()
                                .to_string()
                        })
                        .unwrap_or_default(),
                    bookmark: String::new(),
                    accept_new: *accept_new,
                    accept_fingerprint: accept_fingerprint.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            out(render::status_text(&s, None), render::status_json(&s))
        }
        C::ClaimAdmin { token } => {
            let now = status(client).await?;
            if now.server.is_empty() {
                return Err(Failure::Other(
                    "not connected; run `voicectl connect HOST --admin-token TOKEN`".into(),
                ));
            }
            let s = client
                .connect(c::ConnectRequest {
                    server: now.server.clone(),
                    admin_token: token.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            out(render::status_text(&s, None), render::status_json(&s))
        }
        C::Disconnect => {
            let s = client.disconnect(c::Empty {}).await?.into_inner();
            out("disconnected\n", render::status_json(&s))
        }
        C::Rooms => {
            let (s, snap) = snapshot(client).await?;
            out(
                render::rooms_text(&snap, s.session_id),
                render::rooms_json(&snap),
            )
        }
        C::Users => {
            let (s, snap) = snapshot(client).await?;
            out(
                render::users_text(&snap, s.session_id),
                json!(
                    snap.sessions
                        .iter()
                        .map(|x| render::session_json(&snap, x))
                        .collect::<Vec<_>>()
                ),
            )
        }
        C::Join { room } => {
            client.join(c::RoomRef { room: room.clone() }).await?;
            done(&format!("joined {room}"))
        }
        C::Room { action } => match action {
            RoomAction::Create { room, description } => {
                let (parent, name) = split_path(room);
                let id = client
                    .create_room(c::CreateRoomRequest {
                        parent,
                        name,
                        description: description.clone(),
                    })
                    .await?
                    .into_inner()
                    .id;
                out(
                    format!("created {room} (id {id})\n"),
                    json!({"ok": true, "id": id}),
                )
            }
            RoomAction::Delete { room } => {
                client
                    .delete_room(c::RoomRef { room: room.clone() })
                    .await?;
                done(&format!("deleted {room}"))
            }
            RoomAction::Rename { room, name } => {
                client
                    .rename_room(c::RenameRoomRequest {
                        room: room.clone(),
                        name: name.clone(),
                    })
                    .await?;
                done(&format!("renamed {room} to {name}"))
            }
            RoomAction::Move { room, parent } => {
                client
                    .move_room(c::MoveRoomRequest {
                        room: room.clone(),
                        parent: parent.clone(),
                    })
                    .await?;
                done(&format!("moved {room} under {parent}"))
            }
        },
        C::Say { text }
        | C::Chat {
            action: Some(ChatAction::Send { text }),
            ..
        } => {
            client
                .send_chat(c::SendChatRequest {
                    text: text.clone(),
                    room: String::new(),
                })
                .await?;
            done("sent")
        }
        C::Chat {
            follow,
            room,
            limit,
            action: None | Some(ChatAction::History),
        } => {
            let room = room.clone().unwrap_or_default();
            if *follow {
                return follow_chat(client, cli.json, &room, *limit).await;
            }
            let h = client
                .chat_history(c::ChatHistoryRequest {
                    room,
                    limit: *limit,
                })
                .await?
                .into_inner();
            let text: String = h
                .messages
                .iter()
                .map(|m| render::chat_text(m) + "\n")
                .collect();
            out(
                text,
                json!(h.messages.iter().map(render::chat_json).collect::<Vec<_>>()),
            )
        }
        C::Move { user, room } => {
            client
                .move_user(c::MoveUserRequest {
                    user: user.clone(),
                    room: room.clone(),
                })
                .await?;
            done(&format!("moved {user} to {room}"))
        }
        C::Mute { switch } => {
            let now = status(client).await?;
            let on = flip(*switch, now.self_mute);
            client.set_mute(c::Toggle { on }).await?;
            out(
                format!("mute: {}\n", if on { "on" } else { "off" }),
                json!({"ok": true, "self_mute": on}),
            )
        }
        C::Deafen { switch } => {
            let now = status(client).await?;
            let on = flip(*switch, now.self_deaf);
            client.set_deaf(c::Toggle { on }).await?;
            out(
                format!("deaf: {}\n", if on { "on" } else { "off" }),
                json!({"ok": true, "self_deaf": on}),
            )
        }
        C::Ptt { key } => {
            let on = *key == Key::Press;
            client.push_to_talk(c::Toggle { on }).await?;
            done(if on { "talking" } else { "released" })
        }
        C::VoiceMode { mode } => {
            let m = match mode {
                Mode::Vad => c::VoiceMode::VoiceActivity,
                Mode::Ptt => c::VoiceMode::PushToTalk,
                Mode::Continuous => c::VoiceMode::Continuous,
            };
            client
                .set_voice_mode(c::VoiceModeRequest { mode: m as i32 })
                .await?;
            done(&format!(
                "voice mode: {}",
                voiced::engine::voice_mode_name(m as i32)
            ))
        }
        C::Volume { user, percent } => {
            client
                .set_user_volume(c::UserVolumeRequest {
                    user: user.clone(),
                    volume: percent / 100.0,
                })
                .await?;
            done(&format!("volume of {user}: {percent} %"))
        }
        C::LocalMute { user, switch } => {
            let mute = *switch != Switch::Off;
            client
                .set_user_local_mute(c::UserLocalMuteRequest {
                    user: user.clone(),
                    mute,
                })
                .await?;
            done(&format!(
                "{user} {} for me",
                if mute { "muted" } else { "unmuted" }
            ))
        }
        C::Devices => {
            let d = client.devices(c::Empty {}).await?.into_inner();
            let list = |ds: &[c::Device]| -> Vec<Value> {
                ds.iter()
                    .map(|x| json!({"name": x.name, "default": x.is_default, "selected": x.selected}))
                    .collect()
            };
            let mut text = format!("backend: {}\ninputs:\n", d.backend);
            for x in &d.inputs {
                text.push_str(&format!(
                    "  {}{}\n",
                    if x.selected { "* " } else { "  " },
                    x.name
                ));
            }
            text.push_str("outputs:\n");
            for x in &d.outputs {
                text.push_str(&format!(
                    "  {}{}\n",
                    if x.selected { "* " } else { "  " },
                    x.name
                ));
            }
            out(
                text,
                json!({"backend": d.backend, "inputs": list(&d.inputs), "outputs": list(&d.outputs)}),
            )
        }
        C::Device { direction, name } => {
            let dir = match direction {
                Direction::Input => Dir::Input,
                Direction::Output => Dir::Output,
            };
            client
                .select_device(c::SelectDeviceRequest {
                    direction: dir as i32,
                    name: name.clone(),
                })
                .await?;
            done(&format!("selected {name}"))
        }
        C::Server { action } => {
            let marks = match action {
                ServerAction::Add {
                    name,
                    server,
                    password,
                    display_name,
                } => {
                    client
                        .save_bookmark(c::Bookmark {
                            name: name.clone(),
                            server: server.clone(),
                            display_name: display_name.clone(),
                            password: password.clone(),
                        })
                        .await?
                }
                ServerAction::List => client.bookmarks(c::Empty {}).await?,
                ServerAction::Remove { name } => {
                    client
                        .remove_bookmark(c::BookmarkRef { name: name.clone() })
                        .await?
                }
            }
            .into_inner();
            let text: String = marks
                .bookmarks
                .iter()
                .map(|b| format!("{}\t{}\n", b.name, b.server))
                .collect();
            out(
                text,
                json!(
                    marks
                        .bookmarks
                        .iter()
                        .map(|b| json!({
                            "name": b.name, "server": b.server, "display_name": b.display_name,
                            "has_password": !b.password.is_empty(),
                        }))
                        .collect::<Vec<_>>()
                ),
            )
        }
        C::Trust {
            server,
            fingerprint,
            session_only,
        } => {
            client
                .trust(c::TrustRequest {
                    server: server.clone(),
                    fingerprint: fingerprint.clone(),
                    permanent: !session_only,
                })
                .await?;
            done(&format!("trusted {server}"))
        }
        C::KnownServers => {
            let k = client.known_servers(c::Empty {}).await?.into_inner();
            let text: String = k
                .servers
                .iter()
                .map(|s| {
                    format!(
                        "{}\t{}\t{}\n",
                        s.server,
                        s.fingerprint,
                        format_time_ms(s.first_seen_ms)
                    )
                })
                .collect();
            out(
                text,
                json!(k.servers.iter().map(|s| json!({
                    "server": s.server, "fingerprint": s.fingerprint, "first_seen_ms": s.first_seen_ms,
                })).collect::<Vec<_>>()),
            )
        }
        C::Explain { room, user } => {
            let x = client
                .explain(c::ExplainRequest {
                    room: room.clone(),
                    user: user.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            out(render::explanation_text(&x), render::explanation_json(&x))
        }
        C::Watch { levels } => return watch(client, *levels).await,
        C::Completions { .. } | C::Man => {
            return offline(cli).unwrap_or_else(|| Err(Failure::Other("unreachable".into())));
        }
    })
}

async fn watch(client: &mut Client, levels: bool) -> Result<Output, Failure> {
    use std::io::Write;
    let mut stream = client.watch(c::WatchRequest { levels }).await?.into_inner();
    while let Some(e) = stream.message().await? {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{}", render::event_json(&e))
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(out(String::new(), Value::Null))
}

async fn follow_chat(
    client: &mut Client,
    json: bool,
    room: &str,
    limit: u32,
) -> Result<Output, Failure> {
    use std::io::Write;
    let mut stream = client
        .watch(c::WatchRequest { levels: false })
        .await?
        .into_inner();
    let h = client
        .chat_history(c::ChatHistoryRequest {
            room: room.to_owned(),
            limit,
        })
        .await?
        .into_inner();
    let mut seen = std::collections::HashSet::new();
    let print = |m: &voice_proto::pb::wire::ChatMessage| -> bool {
        let line = if json {
            render::chat_json(m).to_string()
        } else {
            render::chat_text(m)
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_ok()
    };
    for m in &h.messages {
        seen.insert(m.id);
        if !print(m) {
            return Ok(out(String::new(), Value::Null));
        }
    }
    while let Some(e) = stream.message().await? {
        if let Some(c::event::Kind::Chat(m)) = e.kind
            && seen.insert(m.id)
            && !print(&m)
        {
            break;
        }
    }
    Ok(out(String::new(), Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split() {
        assert_eq!(split_path("Lobby/Games"), ("Lobby".into(), "Games".into()));
        assert_eq!(split_path("/Lobby"), ("".into(), "Lobby".into()));
        assert_eq!(split_path("Lobby"), ("".into(), "Lobby".into()));
    }
}
