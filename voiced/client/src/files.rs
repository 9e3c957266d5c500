//! The words and readings of shared files and transfers every front end
//! shows alike: sizes, speeds, transfer states and kinds, progress, how a
//! transfer's peers are connected, and the magnet links found in chat.

use voice_proto::pb::control::{Transfer, TransferKind, TransferState};

/// The prefix of a BitTorrent magnet link with a v1 info hash.
pub const MAGNET_PREFIX: &str = "magnet:?xt=urn:btih:";

/// A size in bytes for people: `512 B`, `1.5 KiB`, `20.0 MiB`, `3.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A speed in bytes per second for people: `0 B/s`, `1.2 MiB/s`.
pub fn human_speed(bytes_per_second: u64) -> String {
    format!("{}/s", human_size(bytes_per_second))
}

/// The name of a transfer state as `voicectl` prints it (`checking`,
/// `downloading`, `seeding`, `complete`, `failed`, `gone`); `unknown` for a
/// value this build does not know (a newer daemon).
pub fn transfer_state_name(state: i32) -> &'static str {
    match TransferState::try_from(state) {
        Ok(TransferState::Checking) => "checking",
        Ok(TransferState::Downloading) => "downloading",
        Ok(TransferState::Seeding) => "seeding",
        Ok(TransferState::Complete) => "complete",
        Ok(TransferState::Failed) => "failed",
        Ok(TransferState::Gone) => "gone",
        _ => "unknown",
    }
}

/// The name of a transfer kind: `share` or `download` (`unknown` else).
pub fn transfer_kind_name(kind: i32) -> &'static str {
    match TransferKind::try_from(kind) {
        Ok(TransferKind::Share) => "share",
        Ok(TransferKind::Download) => "download",
        _ => "unknown",
    }
}

/// The state of a transfer (unspecified for a value this build does not know).
pub fn transfer_state(t: &Transfer) -> TransferState {
    TransferState::try_from(t.state).unwrap_or(TransferState::Unspecified)
}

/// Whether a transfer is over for good: complete, failed or gone.
pub fn is_finished(t: &Transfer) -> bool {
    matches!(
        transfer_state(t),
        TransferState::Complete | TransferState::Failed | TransferState::Gone
    )
}

/// How far a transfer is, 0.0..=1.0 (verified bytes of the size; a share
/// that seeds, and a complete download, are whole).
pub fn progress(t: &Transfer) -> f64 {
    match transfer_state(t) {
        TransferState::Seeding | TransferState::Complete => 1.0,
        _ if t.size == 0 => 0.0,
        _ => (t.done_bytes as f64 / t.size as f64).clamp(0.0, 1.0),
    }
}

/// Whole percent of [`progress`] (rounded down: 100 only when whole).
pub fn percent(t: &Transfer) -> u8 {
    (progress(t) * 100.0).floor().clamp(0.0, 100.0) as u8
}

/// How a transfer's peers are connected, from its `route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferRoute {
    /// No peer connected.
    NoPeer,
    /// Every peer connected directly.
    Direct,
    /// Every peer through the server's relay (both sides behind NAT).
    Relayed,
    /// Some peers directly, some through the relay.
    Mixed,
    /// A word this build does not know (a newer daemon).
    Unknown,
}

/// How a transfer's peers are connected.
pub fn transfer_route(t: &Transfer) -> TransferRoute {
    match t.route.as_str() {
        "" => TransferRoute::NoPeer,
        "direct" => TransferRoute::Direct,
        "relayed" => TransferRoute::Relayed,
        "mixed" => TransferRoute::Mixed,
        _ => TransferRoute::Unknown,
    }
}

/// The name of a transfer's route as `voicectl` prints it: `direct`,
/// `relayed`, `mixed`, `-` with no peer, `unknown` for a newer daemon's word.
pub fn route_name(t: &Transfer) -> &'static str {
    match transfer_route(t) {
        TransferRoute::NoPeer => "-",
        TransferRoute::Direct => "direct",
        TransferRoute::Relayed => "relayed",
        TransferRoute::Mixed => "mixed",
        TransferRoute::Unknown => "unknown",
    }
}

/// `name`, followed when any peer comes through the server's relay by how
/// many of how many (`unit` after the count, say " peers") and the bytes it
/// moved: `relayed (1 of 2 peers, 14.2 MiB)`.
pub fn with_relay_share(t: &Transfer, name: &str, unit: &str) -> String {
    if t.relayed_peers == 0 {
        return name.to_owned();
    }
    format!(
        "{name} ({} of {}{unit}, {})",
        t.relayed_peers,
        t.peers.max(t.relayed_peers),
        human_size(t.relayed_bytes)
    )
}

/// A transfer's route in words: `direct`, `relayed (1 of 2 peers,
/// 14.2 MiB)` (how many peers go through the server's relay, and the bytes
/// it moved) when any does, `no peer` with none.
pub fn route_words(t: &Transfer) -> String {
    let name = match transfer_route(t) {
        TransferRoute::NoPeer => "no peer",
        _ => route_name(t),
    };
    with_relay_share(t, name, " peers")
}

/// A finished transfer in words: `downloaded NAME to PATH`, `download of
/// NAME failed: WHY` (sharing alike).
pub fn finished_words(t: &Transfer) -> String {
    let download = TransferKind::try_from(t.kind) == Ok(TransferKind::Download);
    match (transfer_state(t), download) {
        (TransferState::Complete, true) => format!("downloaded {} to {}", t.name, t.path),
        (TransferState::Complete, false) => format!("{} is shared", t.name),
        (TransferState::Failed, true) => format!("download of {} failed: {}", t.name, t.error),
        (TransferState::Failed, false) => format!("sharing {} failed: {}", t.name, t.error),
        (_, true) => format!("downloading {}", t.name),
        (_, false) => format!("sharing {}", t.name),
    }
}

/// The magnet links in a chat message: every whitespace-separated word that
/// starts with [`MAGNET_PREFIX`], without trailing punctuation.
pub fn magnet_links(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|word| {
            word.get(..MAGNET_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(MAGNET_PREFIX))
        })
        .map(|word| word.trim_end_matches(['.', ',', ')', ';', '!', '?', '"', '\'']))
        .collect()
}

/// The display name (`dn`) of a magnet link, percent-decoded, if it has one.
pub fn magnet_name(magnet: &str) -> Option<String> {
    let query = magnet.split_once('?')?.1;
    let value = query.split('&').find_map(|pair| pair.strip_prefix("dn="))?;
    Some(percent_decode(value))
}

/// `%XX` and `+` decoded; bad escapes kept as they are, bad UTF-8 replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_speeds_in_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(human_size(u64::MAX), "16384.0 PiB");
        assert_eq!(human_speed(2 * 1024 * 1024), "2.0 MiB/s");
    }

    #[test]
    fn progress_is_whole_when_seeding_or_complete() {
        let mut t = Transfer {
            state: TransferState::Downloading as i32,
            size: 200,
            done_bytes: 50,
            ..Transfer::default()
        };
        assert_eq!(percent(&t), 25);
        t.done_bytes = 199;
        assert_eq!(percent(&t), 99);
        t.state = TransferState::Complete as i32;
        assert_eq!(percent(&t), 100);
        assert!(is_finished(&t));
        let empty = Transfer {
            state: TransferState::Checking as i32,
            ..Transfer::default()
        };
        assert_eq!(progress(&empty), 0.0);
        assert!(!is_finished(&empty));
        assert_eq!(transfer_state_name(99), "unknown");
        assert_eq!(transfer_kind_name(TransferKind::Share as i32), "share");
    }

    #[test]
    fn routes_say_how_many_peers_go_through_the_relay() {
        let mut t = Transfer {
            peers: 3,
            ..Transfer::default()
        };
        assert_eq!(transfer_route(&t), TransferRoute::NoPeer);
        assert_eq!((route_name(&t), route_words(&t).as_str()), ("-", "no peer"));
        t.route = "direct".into();
        assert_eq!(
            (route_name(&t), route_words(&t).as_str()),
            ("direct", "direct")
        );
        t.route = "mixed".into();
        t.relayed_peers = 1;
        t.relayed_bytes = 2 * 1024 * 1024;
        assert_eq!(route_words(&t), "mixed (1 of 3 peers, 2.0 MiB)");
        t.route = "relayed".into();
        t.peers = 2;
        t.relayed_peers = 2;
        assert_eq!(transfer_route(&t), TransferRoute::Relayed);
        assert_eq!(route_words(&t), "relayed (2 of 2 peers, 2.0 MiB)");
        t.route = "carrier pigeon".into();
        assert_eq!(route_name(&t), "unknown");
    }

    #[test]
    fn magnet_links_are_found_in_chat_and_named() {
        let hash = "0123456789abcdef0123456789abcdef01234567";
        let link = format!("{MAGNET_PREFIX}{hash}&dn=my%20file+1.txt&tr=x");
        let text = format!("shared: {link}. and MAGNET:?XT=URN:BTIH:{hash}");
        let links = magnet_links(&text);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0], link);
        assert_eq!(magnet_name(links[0]).as_deref(), Some("my file 1.txt"));
        assert_eq!(magnet_name(links[1]), None);
        assert!(magnet_links("magnet: no link here magnet:?xt=urn:sha1:x").is_empty());
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
