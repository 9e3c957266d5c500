//! voiced's control API handlers, driven in process: a real engine (null
//! audio devices) logged in as an ordinary member to a real voice-server on
//! loopback, both in this process, and any sequence of requests a local
//! client could send (`voice_fuzz::control`). Every call answers within
//! `ANSWER` and never panics; after each input the daemon is still
//! connected and the member holds no more roles than at login (nothing a
//! request says gains a permission or ends the session).
#![no_main]

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use voice_fuzz::control::{METHODS, calls};
use voice_proto::pb::control::voiced_server::Voiced;
use voice_proto::pb::control::{self as c, ConnectionState};
use voice_testkit::{TestServer, paths_in};
use voiced::audio::NullAudio;
use voiced::control::ControlService;
use voiced::engine::Engine;

/// A handler that takes longer than this is a hang.
const ANSWER: Duration = Duration::from_secs(10);

struct Fixture {
    runtime: Runtime,
    server: TestServer,
    service: ControlService,
    roles: Vec<String>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = voice_fuzz::work_dir(&std::env::temp_dir(), "voice-fuzz-control");
        let runtime = voice_testkit::runtime();
        let server_dir = tempfile::tempdir_in(&dir).expect("a server dir");
        let server = runtime.block_on(TestServer::start_in(
            server_dir,
            "127.0.0.1:0".parse().expect("an address"),
        ));
        let engine = Engine::new(paths_in(&dir.join("daemon")), Arc::new(NullAudio::off()))
            .expect("an engine");
        let service = ControlService::new(engine, CancellationToken::new());
        let mut fixture = Fixture {
            runtime,
            server,
            service,
            roles: Vec::new(),
        };
        fixture.connect();
        fixture.roles = fixture.my_roles().expect("logged in");
        fixture
    })
}

impl Fixture {
    fn call<T>(&self, what: &str, f: impl Future<Output = T>) -> T {
        self.runtime
            .block_on(async { tokio::time::timeout(ANSWER, f).await })
            .unwrap_or_else(|_| panic!("{what} did not answer in {ANSWER:?}"))
    }

    fn status(&self) -> c::StatusReply {
        self.call("Status", self.service.status(Request::new(c::Empty {})))
            .expect("Status always answers")
            .into_inner()
    }

    fn connect(&self) {
        let mut request = self.server.connect_request("fuzz");
        request.accept_fingerprint = self.server.fingerprint.clone();
        let reply = self
            .call("Connect", self.service.connect(Request::new(request)))
            .expect("the fuzzing member logs in")
            .into_inner();
        assert_eq!(reply.state(), ConnectionState::Connected, "{reply:?}");
    }

    /// The member's roles as the server holds them.
    fn my_roles(&self) -> Option<Vec<String>> {
        let id = self.status().session_id;
        let hub = self.server.hub.clone();
        self.call("the server's state", async move {
            let hub = hub.lock().await;
            hub.state.session(id).map(|s| s.roles.clone())
        })
    }
}

/// Decodes the request of `method` and runs its handler; an error answer is
/// fine, a panic or a hang is not.
fn run(f: &Fixture, method: usize, bytes: &[u8]) {
    let s = &f.service;
    macro_rules! call {
        ($handler:ident, $request:ty) => {{
            let Ok(request) = <$request>::decode(bytes) else {
                return;
            };
            let _ = f.call(METHODS[method], s.$handler(Request::new(request)));
        }};
    }
    match METHODS[method] {
        "Status" => call!(status, c::Empty),
        "State" => call!(state, c::Empty),
        "Join" => call!(join, c::RoomRef),
        "CreateRoom" => call!(create_room, c::CreateRoomRequest),
        "RenameRoom" => call!(rename_room, c::RenameRoomRequest),
        "MoveRoom" => call!(move_room, c::MoveRoomRequest),
        "DeleteRoom" => call!(delete_room, c::RoomRef),
        "MoveUser" => call!(move_user, c::MoveUserRequest),
        "Explain" => call!(explain, c::ExplainRequest),
        "ServerMute" => call!(server_mute, c::ServerMuteRequest),
        "Kick" => call!(kick, c::KickRequest),
        "SendChat" => call!(send_chat, c::SendChatRequest),
        "ChatHistory" => call!(chat_history, c::ChatHistoryRequest),
        "SetMute" => call!(set_mute, c::Toggle),
        "SetDeaf" => call!(set_deaf, c::Toggle),
        "PushToTalk" => call!(push_to_talk, c::Toggle),
        "SetVoiceMode" => call!(set_voice_mode, c::VoiceModeRequest),
        "AudioSettings" => call!(audio_settings, c::Empty),
        "SetAudioSettings" => call!(set_audio_settings, c::AudioConfig),
        "Devices" => call!(devices, c::Empty),
        "SelectDevice" => call!(select_device, c::SelectDeviceRequest),
        "SetUserVolume" => call!(set_user_volume, c::UserVolumeRequest),
        "SetUserLocalMute" => call!(set_user_local_mute, c::UserLocalMuteRequest),
        "Identity" => call!(identity, c::Empty),
        "SetDisplayName" => call!(set_display_name, c::SetDisplayNameRequest),
        "Bookmarks" => call!(bookmarks, c::Empty),
        "SaveBookmark" => call!(save_bookmark, c::Bookmark),
        "RemoveBookmark" => call!(remove_bookmark, c::BookmarkRef),
        "KnownServers" => call!(known_servers, c::Empty),
        "Trust" => call!(trust, c::TrustRequest),
        other => unreachable!("{other} is in METHODS but has no handler here"),
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    for (method, request) in calls(data) {
        run(f, method, request);
    }
    let status = f.status();
    assert_eq!(
        status.state(),
        ConnectionState::Connected,
        "a member's requests ended its connection: {status:?}"
    );
    let roles = f.my_roles().expect("the member's session is on the server");
    assert_eq!(roles, f.roles, "a member's requests changed its roles");
});
