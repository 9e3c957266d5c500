//! The bytes of a shared file's torrent: its info dictionary marked
//! private (peers only from the server's tracker: no DHT, no PEX), the
//! `.torrent` librqbit is given, and magnet links as identifiers.

use voice_proto::torrent::{TorrentInfo, parse_info};

/// Largest info dictionary voiced makes or accepts (the server may take
/// less; it says so in its limits).
pub const MAX_INFO_BYTES: usize = 4 << 20;

/// A piece length for `size` bytes: powers of two from 256 KiB, so a file
/// has at most about 2,000 pieces (a 4 GiB file: 2 MiB pieces, 40 KiB of
/// hashes) and small files still spread over several peers.
pub fn piece_length(size: u64) -> u32 {
    let mut piece: u64 = 256 << 10;
    while size.div_ceil(piece) > 2048 && piece < (16 << 20) {
        piece *= 2;
    }
    piece as u32
}

/// Hashes a file into a private single-file info dictionary (blocking:
/// run it off the async threads). librqbit's own `create_torrent` adds a
/// hash for an empty last piece when the size is a multiple of the piece
/// length, which strict readers (ours included) refuse; this one does not.
pub fn hash_file(path: &std::path::Path, name: &str) -> std::io::Result<Vec<u8>> {
    use sha1::{Digest, Sha1};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let piece = piece_length(size) as usize;
    let mut hashes = Vec::with_capacity(size.div_ceil(piece as u64) as usize * 20);
    let mut buf = vec![0u8; piece];
    let mut total: u64 = 0;
    loop {
        let mut filled = 0;
        while filled < piece {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        total += filled as u64;
        hashes.extend_from_slice(&Sha1::digest(&buf[..filled]));
        if filled < piece {
            break;
        }
    }
    if total != size {
        return Err(std::io::Error::other(format!(
            "the file changed while it was read ({size} bytes, then {total})"
        )));
    }
    Ok(info_dict(name, size, piece as u64, &hashes))
}

/// Hashes bytes held in memory into a private single-file info dictionary
/// with pieces of `piece` bytes (room history snapshots: every member
/// serving the same bytes makes the same dictionary).
pub fn info_of(name: &str, data: &[u8], piece: usize) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let piece = piece.max(1);
    let hashes: Vec<u8> = data
        .chunks(piece)
        .flat_map(|chunk| Sha1::digest(chunk).to_vec())
        .collect();
    info_dict(name, data.len() as u64, piece as u64, &hashes)
}

/// A private single-file info dictionary.
pub fn info_dict(name: &str, size: u64, piece_length: u64, hashes: &[u8]) -> Vec<u8> {
    voice_proto::torrent::encode_single(name, size, piece_length, hashes, true)
}

/// A `.torrent` holding only the info dictionary: no announce list, so the
/// only tracker is the one voiced gives librqbit.
pub fn torrent_file(info: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(info.len() + 8);
    out.extend_from_slice(b"d4:info");
    out.extend_from_slice(info);
    out.push(b'e');
    out
}

/// Checks a fetched info dictionary against the hash it was asked for.
pub fn verify(info: &[u8], info_hash: &[u8; 20]) -> Result<TorrentInfo, String> {
    if voice_proto::torrent::info_hash(info) != *info_hash {
        return Err("the server sent a torrent that does not match its info hash".to_owned());
    }
    let parsed = parse_info(info, MAX_INFO_BYTES).map_err(|e| e.to_string())?;
    if !parsed.private {
        return Err("the torrent is not private; refusing it".to_owned());
    }
    Ok(parsed)
}

/// Lower-case hex of an info hash.
pub fn hex(hash: &[u8; 20]) -> String {
    voice_proto::hash::hex(hash)
}

/// A magnet link naming the file (BitTorrent v1 hash, name, size). It
/// carries no tracker: the server's is the only one.
pub fn magnet(hash: &[u8; 20], name: &str, size: u64) -> String {
    format!(
        "magnet:?xt=urn:btih:{}&dn={}&xl={size}",
        hex(hash),
        percent_encode(name)
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The info hash in a magnet link, a 40-hex hash, or `None` when `text`
/// is neither.
pub fn parse_hash(text: &str) -> Option<[u8; 20]> {
    let text = text.trim();
    let hex_part = match text.strip_prefix("magnet:?") {
        Some(query) => query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, v)| *k == "xt" && v.to_ascii_lowercase().starts_with("urn:btih:"))
            .map(|(_, v)| &v["urn:btih:".len()..])?,
        None => text,
    };
    if hex_part.len() == 32 {
        return base32(hex_part);
    }
    if hex_part.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, chunk) in hex_part.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// RFC 4648 base32 (the older magnet form of a v1 hash).
fn base32(s: &str) -> Option<[u8; 20]> {
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::with_capacity(20);
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, size: u64) -> Vec<u8> {
        let hashes = vec![1u8; size.div_ceil(16384) as usize * 20];
        voice_proto::torrent::encode_single(name, size, 16384, &hashes, false)
    }

    #[test]
    fn a_hashed_file_is_a_valid_private_torrent() {
        let dir = tempfile::tempdir().unwrap();
        for size in [1usize, 256 << 10, (256 << 10) + 1, 3 << 20] {
            let path = dir.path().join("f");
            std::fs::write(&path, vec![7u8; size]).unwrap();
            let info = hash_file(&path, "f").unwrap();
            let parsed = parse_info(&info, MAX_INFO_BYTES).unwrap();
            assert!(parsed.private);
            assert_eq!(parsed.size, size as u64);
            assert_eq!(parsed.pieces as u64, (size as u64).div_ceil(256 << 10));
        }
    }

    #[test]
    fn a_private_info_hashes_to_what_it_is_checked_against() {
        let private = info_dict("a b.txt", 40_000, 16384, &[1u8; 60]);
        let hash = voice_proto::torrent::info_hash(&private);
        let parsed = verify(&private, &hash).unwrap();
        assert!(parsed.private);
        assert_eq!(parsed.size, 40_000);
        assert!(verify(&private, &[0; 20]).is_err());
        assert!(
            verify(
                &info("a", 1),
                &voice_proto::torrent::info_hash(&info("a", 1))
            )
            .is_err()
        );
        assert_eq!(torrent_file(b"de"), b"d4:infodee");
    }

    #[test]
    fn magnets_name_their_hash() {
        let hash = [0xab; 20];
        let m = magnet(&hash, "my song.ogg", 12);
        assert_eq!(
            m,
            "magnet:?xt=urn:btih:abababababababababababababababababababab&dn=my%20song.ogg&xl=12"
        );
        assert_eq!(parse_hash(&m), Some(hash));
        assert_eq!(parse_hash(&hex(&hash)), Some(hash));
        assert_eq!(
            parse_hash("VOV2XK5LVOV2XK5LVOV2XK5LVOV2XK5L"),
            Some([0xab; 20])
        );
        assert_eq!(parse_hash("magnet:?dn=x"), None);
        assert_eq!(parse_hash("12"), None);
    }

    #[test]
    fn pieces_stay_few() {
        assert_eq!(piece_length(20 << 20), 256 << 10);
        assert_eq!(piece_length(4 << 30), 2 << 20);
        assert!((100u64 << 30).div_ceil(u64::from(piece_length(100 << 30))) <= 8192);
    }
}
