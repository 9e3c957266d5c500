//! The `voicectl` command line (clap). Names follow the interface;
//! a few aliases cover other spellings (`mode`, `bookmark`, `chat send`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Command line for the voice chat client daemon (voiced).
#[derive(Debug, Parser)]
#[command(name = "voicectl", version, about, propagate_version = true)]
pub struct Cli {
    /// voiced's control socket (default: $VOICED_SOCKET, else $XDG_RUNTIME_DIR/voice/voiced.sock;
    /// on Windows a named pipe, `\\.\pipe\voiced-USERNAME`).
    #[arg(long, global = true, value_parser = voiced_client::local::socket_arg)]
    pub socket: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// On, off or the opposite of now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Turn on.
    On,
    /// Turn off.
    Off,
    /// Flip.
    #[default]
    Toggle,
}

/// Push-to-talk key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Key {
    /// Key down: transmit.
    Press,
    /// Key up.
    Release,
}

/// Voice transmission modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Voice activity detection.
    Vad,
    /// Push to talk.
    Ptt,
    /// Always transmit.
    Continuous,
}

/// Audio direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Microphone.
    Input,
    /// Speakers.
    Output,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connection state, server, room, mute and deaf.
    Status,
    /// My public key and display name.
    Identity,
    /// Change my display name.
    Name {
        /// The new name.
        name: String,
    },
    /// Connect to HOST[:PORT] or a saved server.
    Connect {
        /// HOST[:PORT] (default port 7878) or a bookmark name.
        server: String,
        /// Server password.
        #[arg(long)]
        password: Option<String>,
        /// Display name on this server.
        #[arg(long)]
        name: Option<String>,
        /// Extra CA certificate (PEM) to trust.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Accept and pin the certificate of a server not seen before.
        #[arg(long)]
        accept_new: bool,
        /// Accept and pin the certificate with this SHA-256 fingerprint.
        #[arg(long, value_name = "HEX")]
        accept_fingerprint: Option<String>,
        /// One-time admin token printed by the server.
        #[arg(long)]
        admin_token: Option<String>,
    },
    /// Present the server's one-time admin token (reconnects to the current server).
    ClaimAdmin {
        /// The token.
        token: String,
    },
    /// Leave the server.
    Disconnect,
    /// The room tree.
    Rooms,
    /// Who is online.
    Users,
    /// Move to a room (a path such as `Lobby/Games`).
    Join {
        /// The room.
        room: String,
    },
    /// A room's access rules: those it inherits, each with the room it
    /// comes from, then its own.
    Acl {
        /// What to do.
        #[command(subcommand)]
        action: AclAction,
    },
    /// Roles and who holds them.
    Role {
        /// What to do.
        #[command(subcommand)]
        action: RoleAction,
    },
    /// Make USER (online now) a registered user: they get the `known` role
    /// (needs register at the root).
    Register {
        /// The user (a session id, a name only one user online has, or a
        /// key prefix).
        user: String,
    },
    /// Disconnect USER from the server; they may come back (needs kick at
    /// the root).
    Kick {
        /// The user.
        user: String,
        /// Told to them and kept in the server's log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Disconnect USER and refuse their key from now on, for ever or for a
    /// while (needs ban at the root).
    Ban {
        /// The user (online now).
        user: String,
        /// How long: `90s`, `30m`, `12h`, `7d`, `2w` or a sum such as
        /// `1d12h` (default: for ever).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<u64>,
        /// Told to them and kept with the ban.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a ban (needs ban at the root).
    Unban {
        /// The banned key (hex, or a prefix only one ban has) or the name
        /// `voicectl bans` shows.
        user: String,
    },
    /// The bans in force, newest first (needs ban at the root).
    Bans,
    /// Create, delete, rename or move rooms.
    Room {
        /// What to do.
        #[command(subcommand)]
        action: RoomAction,
    },
    /// Send a chat message to my room.
    Say {
        /// The text.
        text: String,
    },
    /// Chat of this session; `--follow` keeps printing new messages.
    Chat {
        /// Keep printing new messages.
        #[arg(long, short)]
        follow: bool,
        /// Only this room.
        #[arg(long)]
        room: Option<String>,
        /// Only the last N messages.
        #[arg(long, default_value_t = 0)]
        limit: u32,
        /// `send TEXT` or `history`.
        #[command(subcommand)]
        action: Option<ChatAction>,
    },
    /// A room's earlier chat, from its other members.
    History {
        /// What to do.
        #[command(subcommand)]
        action: HistoryAction,
    },
    /// Move a user to a room.
    Move {
        /// Display name or key prefix.
        user: String,
        /// The room.
        room: String,
    },
    /// Mute myself.
    Mute {
        /// on, off or toggle.
        #[arg(value_enum, default_value_t)]
        switch: Switch,
    },
    /// Deafen myself (also mutes).
    Deafen {
        /// on, off or toggle.
        #[arg(value_enum, default_value_t)]
        switch: Switch,
    },
    /// Push-to-talk key.
    Ptt {
        /// press or release.
        #[arg(value_enum)]
        key: Key,
    },
    /// Voice transmission mode.
    #[command(alias = "mode")]
    VoiceMode {
        /// vad, ptt or continuous.
        #[arg(value_enum)]
        mode: Mode,
    },
    /// Playback volume of a user, in percent (0..=400).
    Volume {
        /// Display name or key prefix.
        user: String,
        /// Percent.
        percent: f32,
    },
    /// Mute a user for me only.
    LocalMute {
        /// Display name or key prefix.
        user: String,
        /// on, off or toggle.
        #[arg(value_enum, default_value = "on")]
        switch: Switch,
    },
    /// Audio devices.
    Devices,
    /// Select an audio device (empty name = the default).
    Device {
        /// input or output.
        #[arg(value_enum)]
        direction: Direction,
        /// Device name.
        name: String,
    },
    /// Audio settings: codec, voice detection, noise suppression, echo
    /// cancellation, automatic gain and devices; `audio set` changes some.
    Audio {
        /// `show` (the default) or `set`.
        #[command(subcommand)]
        action: Option<AudioAction>,
    },
    /// Saved servers.
    #[command(alias = "bookmark")]
    Server {
        /// What to do.
        #[command(subcommand)]
        action: ServerAction,
    },
    /// Trust a server's certificate fingerprint (pins it in known_servers).
    Trust {
        /// HOST[:PORT].
        server: String,
        /// SHA-256 fingerprint (hex).
        fingerprint: String,
        /// Trust it only until voiced restarts.
        #[arg(long)]
        session_only: bool,
    },
    /// Pinned server certificates.
    KnownServers,
    /// Why I (or USER) have or lack permissions in ROOM.
    Explain {
        /// The room.
        room: String,
        /// A user (default: me).
        user: Option<String>,
    },
    /// Play FILE (WAV, FLAC, Ogg Vorbis, Ogg Opus, MP3) into my room as my
    /// voice, mixed with my microphone (or replacing it), until its end or
    /// `voicectl stop`.
    Play {
        /// The file (a path relative to here is fine).
        file: PathBuf,
        /// Start again at the end, until stopped.
        #[arg(long = "loop")]
        repeat: bool,
        /// Volume in percent (0–200).
        #[arg(long, value_name = "PCT", default_value_t = 100,
              value_parser = clap::value_parser!(u32).range(0..=200))]
        volume: u32,
        /// Send the file alone, without my microphone.
        #[arg(long)]
        replace: bool,
    },
    /// Stop what `voicectl play` plays.
    Stop,
    /// Record what I hear (the room's mix) to FILE: .wav (16-bit 48 kHz
    /// mono) or .ogg/.opus (Ogg Opus). Everyone sees that I am recording
    /// until `voicectl record --stop`.
    Record {
        /// The file to write (required unless --stop).
        #[arg(required_unless_present = "stop")]
        file: Option<PathBuf>,
        /// Replace FILE if it exists.
        #[arg(long)]
        overwrite: bool,
        /// Stop the recording and finish its file.
        #[arg(long, conflicts_with_all = ["file", "overwrite"])]
        stop: bool,
    },
    /// Share FILE in my room (or ROOM): voiced seeds it, lists it and posts
    /// its magnet link in the chat; prints the magnet link.
    Share {
        /// The file (a path relative to here is fine).
        file: PathBuf,
        /// The room (default: mine).
        #[arg(long)]
        room: Option<String>,
    },
    /// The files shared in my room (or ROOM), with their seeders.
    Files {
        /// The room (default: mine).
        #[arg(long)]
        room: Option<String>,
    },
    /// Download a shared file (a magnet link, an info hash or a file id) and
    /// wait until it is complete and verified; prints its path.
    Download {
        /// MAGNET, INFO_HASH or ID.
        file: String,
        /// Directory for the file (default: voiced's download directory).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
    },
    /// My shares and downloads, with their progress.
    Transfers,
    /// Stop a transfer (a download is dropped, a share unlisted).
    Cancel {
        /// The transfer's id (see `voicectl transfers`).
        id: u32,
    },
    /// Print events as they happen, one JSON object a line.
    Watch {
        /// Include input levels (about 20 a second).
        #[arg(long)]
        levels: bool,
    },
    /// Shell completions.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff) on stdout.
    Man,
}

/// Room actions.
#[derive(Debug, Subcommand)]
pub enum RoomAction {
    /// Create ROOM (a path: `Lobby/Games` creates Games under Lobby).
    Create {
        /// The path of the new room.
        room: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete ROOM (its users move to the parent).
    Delete {
        /// The room.
        room: String,
    },
    /// Rename ROOM.
    Rename {
        /// The room.
        room: String,
        /// Its new name.
        name: String,
    },
    /// Move ROOM under PARENT.
    Move {
        /// The room.
        room: String,
        /// The new parent (`/` = the root).
        parent: String,
    },
}

/// ACL actions.
#[derive(Debug, Subcommand)]
pub enum AclAction {
    /// The rules in force in ROOM (inherited, with where each comes from)
    /// and the room's own, in force here or only below.
    Show {
        /// The room (a path, a name, or an id).
        room: String,
    },
    /// Every user on the server × every permission in ROOM: held or not,
    /// and the rule that decided it.
    Effective {
        /// The room (a path, a name, or an id).
        room: String,
    },
    /// Replace ROOM's own rules (needs edit_room there; you can grant only
    /// permissions you hold there). Rules from flags go from the broadest
    /// subject to the narrowest (everyone, known, other roles by name, then
    /// users), so a narrower rule overrides a broader one; `--file` keeps
    /// the order it gives.
    Set {
        /// The room (a path, a name, or an id).
        room: String,
        /// Rules as `voicectl acl show ROOM --json` prints them (its own
        /// entries and `inherit`; inherited entries are skipped); `-` reads
        /// standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Grant PERMS (comma-separated names, or `all`) to WHO: a role, a
        /// user present, a 64-digit key, or `role:NAME` / `user:NAME`.
        #[arg(long, num_args = 2, value_names = ["WHO", "PERMS"], action = clap::ArgAction::Append)]
        allow: Vec<String>,
        /// Take PERMS away from WHO.
        #[arg(long, num_args = 2, value_names = ["WHO", "PERMS"], action = clap::ArgAction::Append)]
        deny: Vec<String>,
        /// The room stops inheriting its parents' rules.
        #[arg(long)]
        no_inherit: bool,
        /// Rules from flags apply in ROOM only, not below it.
        #[arg(long, conflicts_with = "below_only")]
        here_only: bool,
        /// Rules from flags apply below ROOM only, not in it.
        #[arg(long)]
        below_only: bool,
        /// Keep the room's own rules and add these after them.
        #[arg(long, conflicts_with = "file")]
        keep: bool,
    },
    /// Remove ROOM's own rules and make it inherit again (needs edit_room).
    Clear {
        /// The room (a path, a name, or an id).
        room: String,
    },
}

/// Role actions.
#[derive(Debug, Subcommand)]
pub enum RoleAction {
    /// Every role (built-in first) and the users present who hold it.
    List,
    /// Create role NAME (needs manage_roles).
    Create {
        /// Its name.
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete role NAME: taken from everyone and from every rule first.
    Delete {
        /// The role.
        name: String,
    },
    /// Give USER the role ROLE (you must hold what ROLE would grant).
    Grant {
        /// The user (a session id, or a name only one user online has).
        user: String,
        /// The role.
        role: String,
    },
    /// Take ROLE from USER.
    Revoke {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
}

/// Chat actions.
#[derive(Debug, Subcommand)]
pub enum ChatAction {
    /// Send a message to my room.
    Send {
        /// The text.
        text: String,
    },
    /// Messages of this session.
    History,
}

/// Room history actions.
#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// Fetch the earlier chat of my room (or ROOM) from its other members:
    /// voiced downloads their snapshot, checks it and prints its messages
    /// (waits up to a minute).
    Fetch {
        /// The room (default: mine).
        room: Option<String>,
    },
}

/// Audio settings actions.
#[derive(Debug, Subcommand)]
pub enum AudioAction {
    /// The audio settings in force.
    Show,
    /// Change the settings given (voiced checks them); the others stay as
    /// they are.
    Set(AudioChanges),
}

/// What `voicectl audio set` changes: at least one.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct AudioChanges {
    /// Acoustic echo cancellation on the microphone (turn it off with a
    /// headset).
    #[arg(long, value_enum, value_name = "on|off|toggle")]
    pub echo_cancellation: Option<Switch>,
    /// Automatic gain control on the microphone.
    #[arg(long, value_enum, value_name = "on|off|toggle")]
    pub auto_gain: Option<Switch>,
    /// Noise suppression on the microphone.
    #[arg(long, value_enum, value_name = "on|off|toggle")]
    pub noise_suppression: Option<Switch>,
    /// Opus bitrate in bits per second (6000..=128000).
    #[arg(long, value_name = "BPS")]
    pub bitrate: Option<u32>,
    /// Opus frame in ms: 10, 20, 40 or 60.
    #[arg(long, value_name = "MS")]
    pub frame_ms: Option<u32>,
    /// Voice activity threshold, 0.0..=1.0 (voice probability).
    #[arg(long, value_name = "F")]
    pub vad_threshold: Option<f32>,
}

/// Saved server actions.
#[derive(Debug, Subcommand)]
pub enum ServerAction {
    /// Save a server.
    Add {
        /// Name to call it by.
        name: String,
        /// HOST[:PORT].
        server: String,
        /// Password.
        #[arg(long, default_value = "")]
        password: String,
        /// Display name there.
        #[arg(long = "name", default_value = "")]
        display_name: String,
    },
    /// Saved servers.
    List,
    /// Forget a server.
    Remove {
        /// Its name.
        name: String,
    },
}

/// Seconds from `90s`, `30m`, `12h`, `7d`, `2w` or a sum of those (`1d12h`).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration; write a number and a unit (s, m, h, d, w) such as 30m, 12h, 7d or 1d12h"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| {
                format!("{text:?} is longer than any ban needs; leave out --for to ban for ever")
            })?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_in_every_unit_and_sums() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        for bad in ["", "12", "h", "5y", "0m", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999999w").is_err());
    }
}
