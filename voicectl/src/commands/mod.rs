//! One function per command: call the daemon, then print. A module per area
//! of the control API (the pueue client's shape); [`run`] only sends each
//! command to its function.

pub mod access;
pub mod audio;
pub mod chat;
pub mod connection;
pub mod files;
pub mod history;
pub mod media;
pub mod rooms;
pub mod servers;
pub mod trust;
pub mod watch;

use clap::CommandFactory;
use serde_json::{Value, json};
use tonic::transport::Channel;
use voice_proto::pb::control::{self as c, voiced_client::VoicedClient};
use voice_proto::pb::wire::StateSnapshot;

use crate::cli::{
    AclAction, AudioAction, ChatAction, Cli, Command, HistoryAction, RoleAction, RoomAction,
    ServerAction,
};

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

/// A connection to voiced's control API.
pub type Client = VoicedClient<Channel>;

fn out(text: impl Into<String>, json: Value) -> Output {
    Output {
        text: text.into(),
        json,
    }
}

fn done(what: &str) -> Output {
    out(format!("{what}\n"), json!({"ok": true}))
}

/// The daemon's status: connection, server, room, mute and deaf.
async fn daemon_status(client: &mut Client) -> Result<c::StatusReply, Failure> {
    Ok(client.status(c::Empty {}).await?.into_inner())
}

/// The daemon's state and its snapshot of the server (empty when offline).
async fn daemon_state(client: &mut Client) -> Result<(c::StateReply, StateSnapshot), Failure> {
    let s = client.state(c::Empty {}).await?.into_inner();
    let snap = s.state.clone().unwrap_or_default();
    Ok((s, snap))
}

/// Commands that need no daemon.
pub fn offline(cli: &Cli) -> Option<Result<Output, Failure>> {
    match &cli.command {
        Command::Completions { shell } => Some(completions(*shell)),
        Command::Man => Some(man()),
        _ => None,
    }
}

/// `voicectl completions SHELL`: the shell's completion script.
pub fn completions(shell: clap_complete::Shell) -> Result<Output, Failure> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "voicectl", &mut buf);
    Ok(out(String::from_utf8_lossy(&buf), Value::Null))
}

/// `voicectl man`: the man page (roff).
pub fn man() -> Result<Output, Failure> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map(|()| out(String::from_utf8_lossy(&buf), Value::Null))
        .map_err(|e| Failure::Other(e.to_string()))
}

/// Runs a command against the daemon.
pub async fn run(client: &mut Client, cli: &Cli) -> Result<Output, Failure> {
    use Command as C;
    match &cli.command {
        C::Status => connection::status(client).await,
        C::Identity => connection::identity(client).await,
        C::Name { name } => connection::set_name(client, name).await,
        C::Connect {
            server,
            password,
            name,
            ca_file,
            accept_new,
            accept_fingerprint,
            admin_token,
        } => {
            let options = connection::ConnectOptions {
                password: password.as_deref(),
                name: name.as_deref(),
                ca_file: ca_file.as_deref(),
                accept_new: *accept_new,
                accept_fingerprint: accept_fingerprint.as_deref(),
                admin_token: admin_token.as_deref(),
            };
            connection::connect(client, server, &options).await
        }
        C::ClaimAdmin { token } => connection::claim_admin(client, token).await,
        C::Disconnect => connection::disconnect(client).await,
        C::Rooms => rooms::rooms(client).await,
        C::Users => rooms::users(client).await,
        C::Join { room } => rooms::join(client, room).await,
        C::Room { action } => match action {
            RoomAction::Create { room, description } => {
                rooms::create_room(client, room, description).await
            }
            RoomAction::Delete { room } => rooms::delete_room(client, room).await,
            RoomAction::Rename { room, name } => rooms::rename_room(client, room, name).await,
            RoomAction::Move { room, parent } => rooms::move_room(client, room, parent).await,
        },
        C::Move { user, room } => rooms::move_user(client, user, room).await,
        C::Explain { room, user } => rooms::explain(client, room, user.as_deref()).await,
        C::Acl { action } => match action {
            AclAction::Show { room } => access::acl_show(client, room).await,
            AclAction::Effective { room } => access::acl_effective(client, room).await,
            AclAction::Set {
                room,
                file,
                allow,
                deny,
                no_inherit,
                here_only,
                below_only,
                keep,
            } => {
                let request = access::AclEdit {
                    file: file.as_deref(),
                    allow,
                    deny,
                    inherit: !no_inherit,
                    here: !below_only,
                    below: !here_only,
                    keep: *keep,
                };
                access::acl_set(client, room, &request).await
            }
            AclAction::Clear { room } => access::acl_clear(client, room).await,
        },
        C::Register { user } => access::register(client, user).await,
        C::Kick { user, reason } => access::kick(client, user, reason, None).await,
        C::Ban {
            user,
            duration,
            reason,
        } => access::kick(client, user, reason, Some(duration.unwrap_or(0))).await,
        C::Unban { user } => access::unban(client, user).await,
        C::Bans => access::bans(client).await,
        C::Role { action } => match action {
            RoleAction::List => access::role_list(client).await,
            RoleAction::Create { name, description } => {
                access::role_create(client, name, description).await
            }
            RoleAction::Delete { name } => access::role_delete(client, name).await,
            RoleAction::Grant { user, role } => access::role_set(client, user, role, true).await,
            RoleAction::Revoke { user, role } => access::role_set(client, user, role, false).await,
        },
        C::Say { text }
        | C::Chat {
            action: Some(ChatAction::Send { text }),
            ..
        } => chat::say(client, text).await,
        C::Chat {
            follow: true,
            room,
            limit,
            action: None | Some(ChatAction::History),
        } => chat::follow(client, cli.json, room.as_deref(), *limit).await,
        C::Chat {
            follow: false,
            room,
            limit,
            action: None | Some(ChatAction::History),
        } => chat::history(client, room.as_deref(), *limit).await,
        C::History {
            action: HistoryAction::Fetch { room },
        } => history::fetch(client, room.as_deref()).await,
        C::Mute { switch } => audio::mute(client, *switch).await,
        C::Deafen { switch } => audio::deafen(client, *switch).await,
        C::Ptt { key } => audio::push_to_talk(client, *key).await,
        C::VoiceMode { mode } => audio::voice_mode(client, *mode).await,
        C::Volume { user, percent } => audio::volume(client, user, *percent).await,
        C::LocalMute { user, switch } => audio::local_mute(client, user, *switch).await,
        C::Devices => audio::devices(client).await,
        C::Device { direction, name } => audio::select_device(client, *direction, name).await,
        C::Audio {
            action: None | Some(AudioAction::Show),
        } => audio::settings(client).await,
        C::Audio {
            action: Some(AudioAction::Set(changes)),
        } => audio::set_settings(client, changes).await,
        C::Server { action } => match action {
            ServerAction::Add {
                name,
                server,
                password,
                display_name,
            } => servers::add(client, name, server, password, display_name).await,
            ServerAction::List => servers::list(client).await,
            ServerAction::Remove { name } => servers::remove(client, name).await,
        },
        C::Trust {
            server,
            fingerprint,
            session_only,
        } => trust::trust(client, server, fingerprint, *session_only).await,
        C::KnownServers => trust::known_servers(client).await,
        C::Play {
            file,
            repeat,
            volume,
            replace,
        } => media::play(client, file, *repeat, *volume, *replace).await,
        C::Stop => media::stop(client).await,
        C::Record {
            file,
            overwrite,
            stop,
        } => match (file, stop) {
            (Some(file), false) => media::record(client, file, *overwrite).await,
            _ => media::stop_recording(client).await,
        },
        C::Share { file, room } => files::share(client, file, room.as_deref()).await,
        C::Files { room } => files::files(client, room.as_deref()).await,
        C::Download { file, to } => files::download(client, cli.json, file, to.as_deref()).await,
        C::Transfers => files::transfers(client).await,
        C::Cancel { id } => files::cancel(client, *id).await,
        C::Watch { levels } => watch::watch(client, *levels).await,
        C::Completions { shell } => completions(*shell),
        C::Man => man(),
    }
}
