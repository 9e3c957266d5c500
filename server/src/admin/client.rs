//! `voice-server admin …`: a gRPC client of the admin socket.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use voice_proto::acl::Permissions;
use voice_proto::pb::admin::admin_client::AdminClient;
use voice_proto::pb::admin::{
    BanRequest, CreateRoomRequest, Empty, ExplainRequest, KickRequest, MoveUserRequest,
    RegisterRequest, RoleGrant, RoleName, ServerChat, ServerEvent, ServerFlagsRequest, UserKey,
    WatchRequest,
};
use voice_proto::pb::wire::{AclRule, Role, RoomAcl, acl_rule};

/// An admin action.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Connected sessions.
    Sessions,
    /// Registered users.
    Users,
    /// The room tree.
    Rooms,
    /// Give a role (USER: hex key, session id or connected name).
    Grant {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// Take a role.
    Revoke {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// Define a role.
    CreateRole {
        /// Its name.
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a role (taken from everyone first).
    DeleteRole {
        /// Its name.
        name: String,
    },
    /// Replace a room's ACL. RULE: `SUBJECT:ALLOW:DENY[:here|subs|both]`,
    /// SUBJECT `@role` or a hex key, ALLOW/DENY comma-separated permission names.
    SetAcl {
        /// Room id.
        room: u32,
        /// Do not inherit the ancestors' rules.
        #[arg(long)]
        no_inherit: bool,
        /// The rules, in order.
        rules: Vec<String>,
    },
    /// Disconnect a user.
    Kick {
        /// The user.
        user: String,
        /// Why.
        #[arg(default_value = "")]
        reason: String,
    },
    /// Ban a user's key (and disconnect it).
    Ban {
        /// The user.
        user: String,
        /// Why.
        #[arg(default_value = "")]
        reason: String,
        /// Duration in seconds (0 = permanent).
        #[arg(long, default_value_t = 0)]
        seconds: u64,
    },
    /// Lift a ban.
    Unban {
        /// Hex key.
        user: String,
    },
    /// Active bans.
    Bans,
    /// Make a key a registered (`known`) user.
    Register {
        /// The user.
        user: String,
        /// Name to record.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Take `known` from a key.
    Unregister {
        /// The user.
        user: String,
    },
    /// The file relay: on or off, relays open, bytes carried, limits.
    Relay,
    /// Why a user has or lacks each permission in a room.
    Explain {
        /// Room id, path or name.
        room: String,
        /// The user.
        user: String,
    },
    /// Move a connected user to a room (id).
    Move {
        /// The user.
        user: String,
        /// Room id.
        room: u32,
    },
    /// Server-mute a connected user (`--off` lifts it).
    Mute {
        /// The user.
        user: String,
        /// Lift the mute.
        #[arg(long)]
        off: bool,
    },
    /// Server-deafen a connected user (`--off` lifts it).
    Deafen {
        /// The user.
        user: String,
        /// Lift it.
        #[arg(long)]
        off: bool,
    },
    /// Create a room; prints its id.
    CreateRoom {
        /// Its name.
        name: String,
        /// Parent room id (0: the root).
        #[arg(long, default_value_t = 0)]
        parent: u32,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Say something in a room as the server, under a bot's name.
    Say {
        /// Room id (0: the root).
        room: u32,
        /// The text.
        text: String,
        /// The name shown as the sender.
        #[arg(long = "as", default_value = "server")]
        name: String,
    },
    /// Tokens of the plugin TCP listener (`plugin_listen`; docs/plugins.md).
    PluginToken {
        /// What to do.
        #[command(subcommand)]
        command: crate::admin::token_commands::PluginTokenCommand,
    },
    /// Print the server's events as they happen, one per line (state
    /// changes, chat, kicks and bans), until interrupted.
    Watch {
        /// Resume after this event number (0: everything still kept).
        #[arg(long)]
        after: Option<u64>,
    },
}

/// An admin client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket cannot be reached.
    #[error("cannot reach the admin socket {path}: {source} (is the server running?)")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The server refused the request.
    #[error("{}", .0.message())]
    Status(#[from] tonic::Status),
    /// A rule could not be parsed.
    #[error("{0}")]
    Usage(String),
}

/// Connects to the admin socket.
pub async fn connect(path: &Path) -> Result<AdminClient<tonic::transport::Channel>, ClientError> {
    Ok(AdminClient::new(channel(path).await?))
}

/// A channel to the admin socket (for the admin and the token services).
pub async fn channel(path: &Path) -> Result<tonic::transport::Channel, ClientError> {
    let socket = path.to_owned();
    let channel = tonic::transport::Endpoint::from_static("http://admin.invalid")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
    Ok(channel)
}

/// Parses `SUBJECT:ALLOW:DENY[:here|subs|both]`.
pub fn parse_rule(text: &str) -> Result<AclRule, ClientError> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return Err(ClientError::Usage(format!(
            "rule {text:?}: expected SUBJECT:ALLOW:DENY[:here|subs|both]"
        )));
    }
    let subject =
        match parts[0].strip_prefix('@') {
            Some(role) => acl_rule::Subject::Role(role.to_owned()),
            None => acl_rule::Subject::UserKey(voice_proto::hash::parse_hex(parts[0]).ok_or_else(
                || ClientError::Usage(format!("{:?} is neither @role nor a hex key", parts[0])),
            )?),
        };
    let perms = |list: &str| -> Result<u32, ClientError> {
        list.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                Permissions::parse_one(p)
                    .map(Permissions::bit)
                    .ok_or_else(|| ClientError::Usage(format!("unknown permission {p:?}")))
            })
            .sum()
    };
    let (apply_here, apply_subs) = match parts.get(3).copied().unwrap_or("both") {
        "here" => (true, false),
        "subs" => (false, true),
        "both" => (true, true),
        other => {
            return Err(ClientError::Usage(format!(
                "{other:?}: expected here, subs or both"
            )));
        }
    };
    Ok(AclRule {
        subject: Some(subject),
        allow: perms(parts[1])?,
        deny: perms(parts[2])?,
        apply_here,
        apply_subs,
    })
}

/// Runs one admin command; returns the lines to print.
pub async fn run(socket: &Path, command: AdminCommand) -> Result<Vec<String>, ClientError> {
    if let AdminCommand::PluginToken { command } = command {
        return crate::admin::token_commands::run(channel(socket).await?, command).await;
    }
    let mut client = connect(socket).await?;
    let mut out = Vec::new();
    match command {
        // Collected until the server ends the stream (the CLI prints as
        // they come through `watch`).
        AdminCommand::Watch { after } => follow(&mut client, after, |line| out.push(line)).await?,
        AdminCommand::PluginToken { .. } => {}
        AdminCommand::Move { user, room } => {
            client.move_user(MoveUserRequest { user, room }).await?;
        }
        AdminCommand::Mute { user, off } => {
            client
                .set_server_flags(ServerFlagsRequest {
                    user,
                    mute: Some(!off),
                    deaf: None,
                })
                .await?;
        }
        AdminCommand::Deafen { user, off } => {
            client
                .set_server_flags(ServerFlagsRequest {
                    user,
                    mute: None,
                    deaf: Some(!off),
                })
                .await?;
        }
        AdminCommand::CreateRoom {
            name,
            parent,
            description,
        } => {
            let id = client
                .create_room(CreateRoomRequest {
                    parent,
                    name,
                    description,
                })
                .await?
                .into_inner()
                .id;
            out.push(id.to_string());
        }
        AdminCommand::Say { room, text, name } => {
            let m = client
                .send_chat(ServerChat {
                    room,
                    bot_name: name,
                    text,
                })
                .await?
                .into_inner();
            out.push(format!("sent to room {} as {}", m.room, m.sender_name));
        }
        AdminCommand::Sessions => {
            for s in client.sessions(Empty {}).await?.into_inner().sessions {
                out.push(format!(
                    "{}\t{}\troom {}\t{}\t{}",
                    s.id,
                    s.name,
                    s.room,
                    voice_proto::hash::hex(&s.public_key),
                    s.roles.join(",")
                ));
            }
        }
        AdminCommand::Users => {
            for u in client.users(Empty {}).await?.into_inner().users {
                out.push(format!(
                    "{}\t{}\t{}",
                    u.public_key,
                    u.name,
                    u.roles.join(",")
                ));
            }
        }
        AdminCommand::Rooms => {
            let reply = client.rooms(Empty {}).await?.into_inner();
            for r in reply.rooms {
                out.push(format!("{}\tparent {}\t{}", r.id, r.parent, r.name));
            }
            out.push(format!("hash: {}", voice_proto::hash::hex(&reply.hash)));
        }
        AdminCommand::Grant { user, role } => {
            client.grant_role(RoleGrant { user, role }).await?;
        }
        AdminCommand::Revoke { user, role } => {
            client.revoke_role(RoleGrant { user, role }).await?;
        }
        AdminCommand::CreateRole { name, description } => {
            client.create_role(Role { name, description }).await?;
        }
        AdminCommand::DeleteRole { name } => {
            client.delete_role(RoleName { name }).await?;
        }
        AdminCommand::SetAcl {
            room,
            no_inherit,
            rules,
        } => {
            let rules = rules
                .iter()
                .map(|r| parse_rule(r))
                .collect::<Result<Vec<_>, _>>()?;
            client
                .set_acl(RoomAcl {
                    room,
                    inherit_acl: !no_inherit,
                    rules,
                })
                .await?;
        }
        AdminCommand::Kick { user, reason } => {
            client.kick(KickRequest { user, reason }).await?;
        }
        AdminCommand::Ban {
            user,
            reason,
            seconds,
        } => {
            client
                .ban(BanRequest {
                    user,
                    reason,
                    seconds,
                })
                .await?;
        }
        AdminCommand::Unban { user } => {
            client.unban(UserKey { user }).await?;
        }
        AdminCommand::Bans => {
            for b in client.bans(Empty {}).await?.into_inner().bans {
                out.push(format!(
                    "{}\texpires {}\t{}\tname {}\tby {}",
                    b.public_key,
                    if b.expires_ms == 0 {
                        "never".to_owned()
                    } else {
                        b.expires_ms.to_string()
                    },
                    b.reason,
                    voice_proto::text::strip_controls(&b.name),
                    voice_proto::text::strip_controls(&b.banned_by),
                ));
            }
        }
        AdminCommand::Register { user, name } => {
            client.register(RegisterRequest { user, name }).await?;
        }
        AdminCommand::Unregister { user } => {
            client.unregister(UserKey { user }).await?;
        }
        AdminCommand::Relay => {
            let r = client.relay_stats(Empty {}).await?.into_inner();
            let per_second = |v: u64| {
                if v == 0 {
                    "no limit".to_owned()
                } else {
                    format!("{v} bytes/s")
                }
            };
            out.push(format!("enabled: {}", if r.enabled { "yes" } else { "no" }));
            out.push(format!("active: {}", r.active));
            out.push(format!("opened: {}", r.opened));
            out.push(format!("refused: {}", r.refused));
            out.push(format!("bytes: {}", r.bytes));
            out.push(format!("limit: {}", per_second(r.bytes_per_second)));
            out.push(format!(
                "session limit: {}",
                per_second(r.session_bytes_per_second)
            ));
            out.push(format!(
                "streams per session: {}",
                r.max_streams_per_session
            ));
        }
        AdminCommand::Explain { room, user } => {
            let e = client
                .explain(ExplainRequest { room, user })
                .await?
                .into_inner();
            out.push(format!(
                "granted: {}{}",
                Permissions::from_bits(e.granted),
                if e.admin { " (admin)" } else { "" }
            ));
            if let Some(at) = e.traverse_denied_at {
                out.push(format!("traverse denied at room {at}"));
            }
            for trace in e.permissions {
                let name = voice_proto::pb::wire::Permission::try_from(trace.permission)
                    .map(Permissions::name)
                    .unwrap_or_default();
                let rules: Vec<String> = trace
                    .matched
                    .iter()
                    .map(|r| format!("room {} rule {}", r.room, r.index))
                    .collect();
                out.push(format!(
                    "{name}: {} ({})",
                    if trace.granted { "yes" } else { "no" },
                    if rules.is_empty() {
                        "no rule".to_owned()
                    } else {
                        rules.join(", ")
                    }
                ));
            }
        }
    }
    Ok(out)
}

/// Follows `Admin.Watch`, handing each event to `emit` as one line:
/// `SEQ<TAB>AT_MS<TAB>KIND<TAB>DETAILS`. Returns when the server ends the
/// stream.
pub async fn watch(
    socket: &Path,
    after: Option<u64>,
    emit: impl FnMut(String),
) -> Result<(), ClientError> {
    let mut client = connect(socket).await?;
    follow(&mut client, after, emit).await
}

async fn follow(
    client: &mut AdminClient<tonic::transport::Channel>,
    after: Option<u64>,
    mut emit: impl FnMut(String),
) -> Result<(), ClientError> {
    let mut events = client.watch(WatchRequest { after }).await?.into_inner();
    while let Some(event) = events.message().await? {
        emit(describe(&event));
    }
    Ok(())
}

/// One event as a line of text.
pub fn describe(event: &ServerEvent) -> String {
    use voice_proto::pb::admin::server_event::Kind;
    let (kind, details) = match &event.kind {
        Some(Kind::State(s)) => {
            let change = s.change.as_ref().and_then(|c| c.kind.as_ref());
            let name = change.map_or("unknown", change_name);
            (
                format!("state {name}"),
                format!(
                    "actor {}\thash {}\t{:?}",
                    s.actor,
                    voice_proto::hash::hex(&s.resulting_hash),
                    change
                ),
            )
        }
        Some(Kind::Chat(m)) => (
            "chat".to_owned(),
            format!(
                "room {}\t{}\t{}",
                m.room,
                m.sender_name,
                m.text.escape_debug()
            ),
        ),
        Some(Kind::Moderation(m)) => (
            if m.ban { "ban" } else { "kick" }.to_owned(),
            format!(
                "{}\t{}\tby {}\tfor {}s\t{}",
                m.name,
                m.public_key,
                m.by,
                m.ban_seconds,
                m.reason.escape_debug()
            ),
        ),
        Some(Kind::Missed(m)) => ("missed".to_owned(), format!("{}\t{}", m.count, m.why)),
        None => ("unknown".to_owned(), String::new()),
    };
    format!("{}\t{}\t{kind}\t{details}", event.seq, event.at_ms)
}

fn change_name(kind: &voice_proto::pb::wire::change::Kind) -> &'static str {
    use voice_proto::pb::wire::change::Kind as K;
    match kind {
        K::AddRoom(_) => "add_room",
        K::EditRoom(_) => "edit_room",
        K::MoveRoom(_) => "move_room",
        K::RemoveRoom(_) => "remove_room",
        K::SetRoomAcl(_) => "set_room_acl",
        K::AddSession(_) => "add_session",
        K::RemoveSession(_) => "remove_session",
        K::MoveSession(_) => "move_session",
        K::SetSessionFlags(_) => "set_session_flags",
        K::RenameSession(_) => "rename_session",
        K::SetSessionRoles(_) => "set_session_roles",
        K::AddRole(_) => "add_role",
        K::RemoveRole(_) => "remove_role",
        K::AddFile(_) => "add_file",
        K::RemoveFile(_) => "remove_file",
    }
}
