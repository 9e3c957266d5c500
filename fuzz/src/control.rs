//! The input of the `control_api` target: a few calls of voiced's control
//! API, each `[method][length u16 LE][request]`, the request encoded as the
//! method's protobuf message (what tonic hands the handler after decoding).

/// The methods the target drives, by index (the first byte of a call).
/// `Connect`, `Disconnect` and `Watch` are left out: the target keeps one
/// connection up across inputs, and `Watch` is a stream that never ends;
/// the end-to-end tests drive them.
pub const METHODS: &[&str] = &[
    "Status",
    "State",
    "Join",
    "CreateRoom",
    "RenameRoom",
    "MoveRoom",
    "DeleteRoom",
    "MoveUser",
    "Explain",
    "ServerMute",
    "Kick",
    "SendChat",
    "ChatHistory",
    "SetMute",
    "SetDeaf",
    "PushToTalk",
    "SetVoiceMode",
    "AudioSettings",
    "SetAudioSettings",
    "Devices",
    "SelectDevice",
    "SetUserVolume",
    "SetUserLocalMute",
    "Identity",
    "SetDisplayName",
    "Bookmarks",
    "SaveBookmark",
    "RemoveBookmark",
    "KnownServers",
    "Trust",
];

/// At most this many calls are taken from one input.
pub const MAX_CALLS: usize = 16;

/// The calls in `data`: (index into [`METHODS`], request bytes). A call cut
/// short by the end of the input is dropped.
pub fn calls(mut data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    while out.len() < MAX_CALLS {
        let [method, lo, hi, rest @ ..] = data else {
            break;
        };
        let len = usize::from(u16::from_le_bytes([*lo, *hi]));
        if rest.len() < len {
            break;
        }
        let (request, rest) = rest.split_at(len);
        out.push((usize::from(*method) % METHODS.len(), request));
        data = rest;
    }
    out
}

/// Encodes calls as [`calls`] reads them (for the seeds).
pub fn encode(calls: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, request) in calls {
        let method = METHODS
            .iter()
            .position(|m| m == name)
            .expect("a method of the table");
        out.push(u8::try_from(method).expect("fewer than 256 methods"));
        let len = u16::try_from(request.len()).expect("a seed request under 64 KiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(request);
    }
    out
}
