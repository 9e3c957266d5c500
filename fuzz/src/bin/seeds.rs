//! Writes the seed corpora of every fuzz target: `seeds DIR` fills
//! `DIR/<target>/` with valid inputs built from the real encoders, so the
//! fuzzer starts from messages the code really exchanges.

use std::path::Path;

use ed25519_dalek::SigningKey;
use prost::Message;
use voice_fuzz::{control, seeded_state};
use voice_proto::pb::wire::{
    AclRule, Authenticate, Change, ChatSend, ClientMsg, ExplainRequest, FileRemove, Hello,
    KickRequest, Ping, Propose, Role, RoleRemove, Room, RoomAcl, RoomEdit, RoomMove, RoomRemove,
    ServerMsg, Session, SessionFlags, SessionMove, SessionRemove, SessionRename, SessionRoles,
    SharedFile, Snapshot, StateUpdate, StreamKind, Welcome, acl_rule, change::Kind, client_msg,
    server_msg,
};
use voice_proto::{auth, voice};

fn write(dir: &Path, target: &str, seeds: &[Vec<u8>]) -> std::io::Result<()> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:03}")), seed)?;
    }
    Ok(())
}

/// One change of every kind, valid against the seeded state.
fn changes() -> Vec<Kind> {
    let rule = AclRule {
        subject: Some(acl_rule::Subject::Role("known".into())),
        allow: 0xffff,
        deny: 0,
        apply_here: true,
        apply_subs: true,
    };
    vec![
        Kind::AddRoom(Room {
            id: 0,
            parent: 1,
            name: "new".into(),
            inherit_acl: true,
            acl: vec![rule.clone()],
            ..Default::default()
        }),
        Kind::EditRoom(RoomEdit {
            id: 2,
            name: Some("renamed".into()),
            ..Default::default()
        }),
        Kind::MoveRoom(RoomMove {
            id: 2,
            parent: 3,
            ..Default::default()
        }),
        Kind::RemoveRoom(RoomRemove {
            id: 1,
            ..Default::default()
        }),
        Kind::SetRoomAcl(RoomAcl {
            room: 3,
            inherit_acl: false,
            rules: vec![rule],
        }),
        Kind::AddSession(Session {
            id: 9,
            public_key: vec![9; 32],
            name: "late".into(),
            room: 0,
            ..Default::default()
        }),
        Kind::RemoveSession(SessionRemove {
            id: 3,
            ..Default::default()
        }),
        Kind::MoveSession(SessionMove {
            session: 1,
            room: 2,
            ..Default::default()
        }),
        Kind::SetSessionFlags(SessionFlags {
            session: 2,
            self_mute: Some(true),
            server_deaf: Some(true),
            ..Default::default()
        }),
        Kind::RenameSession(SessionRename {
            session: 2,
            name: "other".into(),
            ..Default::default()
        }),
        Kind::SetSessionRoles(SessionRoles {
            session: 3,
            roles: vec!["admin".into()],
            ..Default::default()
        }),
        Kind::AddRole(Role {
            name: "mods".into(),
            description: "moderators".into(),
        }),
        Kind::RemoveRole(RoleRemove {
            name: "known".into(),
            ..Default::default()
        }),
        Kind::AddFile(SharedFile {
            id: 0,
            info_hash: vec![1; 20],
            name: "file.txt".into(),
            size: 42,
            room: 1,
            owner_key: vec![2; 32],
            ..Default::default()
        }),
        Kind::RemoveFile(FileRemove {
            id: 1,
            ..Default::default()
        }),
    ]
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "corpus".to_owned());
    let dir = Path::new(&dir);
    let state = seeded_state();
    let hash = state.hash().to_vec();
    let changes = changes();

    let mut datagrams = Vec::new();
    for (flags, seq, opus) in [
        (0u8, 0u32, &b"opus"[..]),
        (1, u32::MAX, b""),
        (0, 300, &[7; 1000][..]),
    ] {
        let mut buf = Vec::new();
        voice::encode_client(&mut buf, flags, seq, opus);
        datagrams.push(buf.clone());
        voice::encode_server(&mut buf, flags, 12345, seq, opus);
        datagrams.push(buf);
    }
    write(dir, "voice_datagram", &datagrams)?;

    let client_msgs: Vec<client_msg::Msg> = changes
        .iter()
        .map(|kind| {
            client_msg::Msg::Propose(Propose {
                request_id: 1,
                expected_hash: hash.clone(),
                change: Some(Change {
                    kind: Some(kind.clone()),
                }),
            })
        })
        .chain([
            client_msg::Msg::Hello(Hello {
                protocol_version: 1,
                kind: StreamKind::Control as i32,
                client: "fuzz".into(),
            }),
            client_msg::Msg::Authenticate(Authenticate {
                protocol_version: 1,
                public_key: vec![1; 32],
                signature: vec![2; 64],
                password: "secret".into(),
                display_name: "name".into(),
                ..Default::default()
            }),
            client_msg::Msg::Ping(Ping { timestamp_us: 5 }),
            client_msg::Msg::Chat(ChatSend {
                text: "hello".into(),
                ..Default::default()
            }),
            client_msg::Msg::Explain(ExplainRequest {
                request_id: 2,
                room: 3,
                session: 2,
            }),
            client_msg::Msg::Kick(KickRequest {
                session: 1,
                reason: "bye".into(),
                ..Default::default()
            }),
        ])
        .collect();
    let encoded: Vec<Vec<u8>> = client_msgs
        .into_iter()
        .map(|m| ClientMsg { msg: Some(m) }.encode_to_vec())
        .collect();
    let with_actor: Vec<Vec<u8>> = encoded
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut seed = vec![u8::try_from(i % 3).unwrap_or(0)];
            seed.extend_from_slice(m);
            seed
        })
        .collect();
    write(dir, "client_msg", &with_actor)?;

    let framed: Vec<Vec<u8>> = encoded
        .chunks(3)
        .enumerate()
        .map(|(i, msgs)| {
            let mut seed = vec![u8::try_from(i * 7 % 64).unwrap_or(0)];
            for m in msgs {
                seed.extend_from_slice(&u32::try_from(m.len()).unwrap_or(0).to_be_bytes());
                seed.extend_from_slice(m);
            }
            seed
        })
        .collect();
    write(dir, "frame_decoder", &framed)?;

    let mut server_msgs: Vec<server_msg::Msg> = changes
        .into_iter()
        .map(|kind| {
            server_msg::Msg::Update(StateUpdate {
                seq: 1,
                change: Some(Change { kind: Some(kind) }),
                resulting_hash: hash.clone(),
                actor: 1,
            })
        })
        .collect();
    server_msgs.push(server_msg::Msg::Welcome(Welcome {
        session_id: 1,
        seq: 1,
        snapshot: Some(state.snapshot()),
        hash: hash.clone(),
        server_name: "root".into(),
        ..Default::default()
    }));
    server_msgs.push(server_msg::Msg::Snapshot(Snapshot {
        seq: 2,
        snapshot: Some(state.snapshot()),
        hash,
    }));
    let server_seeds: Vec<Vec<u8>> = server_msgs
        .into_iter()
        .map(|m| ServerMsg { msg: Some(m) }.encode_to_vec())
        .collect();
    write(dir, "server_msg", &server_seeds)?;

    let torrents = vec![
        voiced::files::torrent::info_dict("song.ogg", 40_000, 16384, &[7; 60]),
        voiced::files::torrent::info_dict("a", 1, 262_144, &[1; 20]),
        b"d5:filesld6:lengthi10e4:pathl1:a1:beed6:lengthi5e4:pathl1:ceee4:name3:dir12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae".to_vec(),
    ];
    write(dir, "torrent_info", &torrents)?;

    let key = SigningKey::from_bytes(&[3; 32]);
    let nonce = [4u8; auth::NONCE_LEN];
    let exporter = [5u8; auth::EXPORTER_LEN];
    let mut seed = key.verifying_key().to_bytes().to_vec();
    seed.extend_from_slice(&auth::sign(&key, &nonce, &exporter).to_bytes());
    seed.push(u8::try_from(nonce.len()).unwrap_or(0));
    seed.extend_from_slice(&nonce);
    seed.extend_from_slice(&exporter);
    write(dir, "auth_transcript", &[seed])?;

    let configs = [
        voice_server::Config::default_toml(),
        "listen = \"[::1]:7000\"\npassword = \"\"\nmax_sessions = 5\n".to_owned(),
        "tls_mode = \"acme\"\nacme_domains = [\"a.example\"]\nchat_rate = 1.5\n".to_owned(),
    ];
    let configs: Vec<Vec<u8>> = configs.into_iter().map(String::into_bytes).collect();
    write(dir, "server_config", &configs)?;

    write(dir, "control_api", &control_seeds())?;
    write(dir, "voiced_files", &file_seeds())?;
    Ok(())
}

/// Calls a front end really makes, a few to a seed; each seed reads back
/// as the calls it was made of (the seeds check the input format).
fn control_seeds() -> Vec<Vec<u8>> {
    let seeds = control_calls();
    seeds
        .iter()
        .map(|calls| {
            let seed = control::encode(calls);
            let read: Vec<(&str, &[u8])> = control::calls(&seed)
                .into_iter()
                .map(|(m, r)| (control::METHODS[m], r))
                .collect();
            let written: Vec<(&str, &[u8])> = calls.iter().map(|(m, r)| (*m, &r[..])).collect();
            assert_eq!(read, written, "a control_api seed reads back");
            seed
        })
        .collect()
}

fn control_calls() -> Vec<Vec<(&'static str, Vec<u8>)>> {
    use voice_proto::pb::control as c;
    let room = |r: &str| c::RoomRef { room: r.into() }.encode_to_vec();
    vec![
        vec![
            ("Status", Vec::new()),
            ("State", Vec::new()),
            ("Join", room("/")),
        ],
        vec![
            (
                "CreateRoom",
                c::CreateRoomRequest {
                    parent: "/".into(),
                    name: "Games".into(),
                    description: "play".into(),
                }
                .encode_to_vec(),
            ),
            ("Join", room("/Games")),
            (
                "RenameRoom",
                c::RenameRoomRequest {
                    room: "/Games".into(),
                    name: "Chess".into(),
                }
                .encode_to_vec(),
            ),
            (
                "MoveRoom",
                c::MoveRoomRequest {
                    room: "/Chess".into(),
                    parent: "/".into(),
                }
                .encode_to_vec(),
            ),
            ("DeleteRoom", room("/Chess")),
        ],
        vec![
            (
                "SendChat",
                c::SendChatRequest {
                    text: "hello \u{1b}[2J".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            (
                "ChatHistory",
                c::ChatHistoryRequest {
                    limit: 10,
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
        ],
        vec![
            (
                "MoveUser",
                c::MoveUserRequest {
                    user: "1".into(),
                    room: "/".into(),
                }
                .encode_to_vec(),
            ),
            (
                "Explain",
                c::ExplainRequest {
                    room: "/".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            (
                "ServerMute",
                c::ServerMuteRequest {
                    user: "1".into(),
                    mute: true,
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            (
                "Kick",
                c::KickRequest {
                    user: "1".into(),
                    reason: "bye".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
        ],
        vec![
            ("SetMute", c::Toggle { on: true }.encode_to_vec()),
            ("SetDeaf", c::Toggle { on: false }.encode_to_vec()),
            ("PushToTalk", c::Toggle { on: true }.encode_to_vec()),
            (
                "SetVoiceMode",
                c::VoiceModeRequest {
                    mode: c::VoiceMode::PushToTalk as i32,
                }
                .encode_to_vec(),
            ),
            ("AudioSettings", Vec::new()),
            (
                "SetAudioSettings",
                c::AudioConfig {
                    bitrate: 24_000,
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            ("Devices", Vec::new()),
            (
                "SelectDevice",
                c::SelectDeviceRequest {
                    name: "default".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
        ],
        vec![
            (
                "SetUserVolume",
                c::UserVolumeRequest {
                    user: "1".into(),
                    volume: 1.5,
                }
                .encode_to_vec(),
            ),
            (
                "SetUserLocalMute",
                c::UserLocalMuteRequest {
                    user: "1".into(),
                    mute: true,
                }
                .encode_to_vec(),
            ),
            ("Identity", Vec::new()),
            (
                "SetDisplayName",
                c::SetDisplayNameRequest { name: "Ada".into() }.encode_to_vec(),
            ),
        ],
        vec![
            (
                "SaveBookmark",
                c::Bookmark {
                    name: "home".into(),
                    server: "example.org:7878".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            ("Bookmarks", Vec::new()),
            (
                "RemoveBookmark",
                c::BookmarkRef {
                    name: "home".into(),
                }
                .encode_to_vec(),
            ),
            ("KnownServers", Vec::new()),
            (
                "Trust",
                c::TrustRequest {
                    server: "example.org:7878".into(),
                    fingerprint: "ab".repeat(32),
                    permanent: true,
                }
                .encode_to_vec(),
            ),
        ],
    ]
}

/// voiced's files as voiced writes them; the first byte picks the file.
fn file_seeds() -> Vec<Vec<u8>> {
    let seed = |which: u8, text: &str| {
        let mut s = vec![which];
        s.extend_from_slice(text.as_bytes());
        s
    };
    vec![
        seed(0, "display_name = \"Ada\"\nca_file = \"/etc/ca.pem\"\n"),
        seed(
            1,
            "[[bookmark]]\nname = \"home\"\nserver = \"example.org:7878\"\npassword = \"pw\"\n",
        ),
        seed(
            2,
            &format!(
                "# pinned\nexample.org:7878 {} 1700000000000\n",
                "AB:".repeat(31) + "AB"
            ),
        ),
        seed(3, &format!("{}\n", "07".repeat(32))),
    ]
}
