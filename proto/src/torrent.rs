//! BitTorrent v1 info dictionaries, as a sharer publishes them to the
//! server's tracker: a strict bencode reader (bounded in size and depth)
//! that checks what the server and the downloaders rely on — the name, the
//! total size, the piece table and the `private` flag — and the info hash
//! that names the torrent (SHA-1 of the dictionary's exact bytes).
//!
//! Only what a file share needs is accepted: one file or a directory of
//! files, every path component plain (no `..`, no separators, no control
//! characters), UTF-8 names.

use std::net::{IpAddr, SocketAddr};

use sha1::{Digest, Sha1};

use crate::pb::wire::PeerAddr;

/// Deepest nesting of bencode lists and dictionaries accepted.
const MAX_DEPTH: usize = 8;

/// Shortest piece accepted: one BitTorrent block (16 KiB).
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Longest piece accepted (64 MiB; librqbit and others keep it in 32 bits).
pub const MAX_PIECE_LENGTH: u64 = 64 << 20;

/// Most files in one torrent.
pub const MAX_TORRENT_FILES: usize = 10_000;

/// The BitTorrent v1 info hash of an info dictionary's bytes.
pub fn info_hash(info: &[u8]) -> [u8; 20] {
    Sha1::digest(info).into()
}

/// A single-file info dictionary, keys in bencode order: `hashes` holds one
/// 20-byte SHA-1 per piece.
pub fn encode_single(
    name: &str,
    size: u64,
    piece_length: u64,
    hashes: &[u8],
    private: bool,
) -> Vec<u8> {
    let mut out = format!("d6:lengthi{size}e4:name{}:{name}", name.len()).into_bytes();
    out.extend_from_slice(
        format!("12:piece lengthi{piece_length}e6:pieces{}:", hashes.len()).as_bytes(),
    );
    out.extend_from_slice(hashes);
    if private {
        out.extend_from_slice(b"7:privatei1e");
    }
    out.push(b'e');
    out
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        let ip = match addr.ip().to_canonical() {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        Self {
            ip,
            port: u32::from(addr.port()),
            session: 0,
        }
    }
}

impl PeerAddr {
    /// The address, or `None` when the IP is not 4 or 16 bytes or the port
    /// is not 1 to 65535.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let port = u16::try_from(self.port).ok().filter(|p| *p != 0)?;
        let ip = match self.ip.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(self.ip.as_slice()).ok()?),
            16 => IpAddr::from(<[u8; 16]>::try_from(self.ip.as_slice()).ok()?).to_canonical(),
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }
}

/// What an info dictionary describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentInfo {
    /// Suggested name of the file or directory.
    pub name: String,
    /// Total size of the content in bytes.
    pub size: u64,
    /// Bytes per piece.
    pub piece_length: u64,
    /// Number of pieces.
    pub pieces: usize,
    /// Number of files (1 for a single-file torrent).
    pub files: usize,
    /// The `private` flag (peers only from the tracker: no DHT, no PEX).
    pub private: bool,
}

/// Why an info dictionary was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TorrentError {
    /// Larger than the limit.
    #[error("the torrent's info dictionary has {len} bytes; the limit is {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not well-formed bencode.
    #[error("the torrent's info dictionary is not valid bencode: {0}")]
    Bencode(&'static str),
    /// Well-formed, but not a valid info dictionary.
    #[error("the torrent's info dictionary is invalid: {0}")]
    Invalid(String),
}

/// Parses and checks an info dictionary of at most `max_len` bytes.
pub fn parse_info(bytes: &[u8], max_len: usize) -> Result<TorrentInfo, TorrentError> {
    if bytes.len() > max_len {
        return Err(TorrentError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    if reader.pos != bytes.len() {
        return Err(TorrentError::Bencode("bytes after the dictionary"));
    }
    let Value::Dict(dict) = value else {
        return Err(invalid("it is not a dictionary"));
    };
    let name = utf8_field(&dict, b"name")?;
    check_component(&name)?;
    let piece_length = uint_field(&dict, b"piece length")?;
    if !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&piece_length) {
        return Err(invalid(&format!(
            "the piece length is {piece_length}; it must be {MIN_PIECE_LENGTH} to {MAX_PIECE_LENGTH} bytes"
        )));
    }
    let pieces = match get(&dict, b"pieces") {
        Some(Value::Bytes(b)) if b.len() % 20 == 0 => b.len() / 20,
        Some(Value::Bytes(_)) => return Err(invalid("pieces is not a multiple of 20 bytes")),
        _ => return Err(invalid("pieces is missing")),
    };
    let private = match get(&dict, b"private") {
        None => false,
        Some(Value::Int(1)) => true,
        Some(Value::Int(0)) => false,
        Some(_) => return Err(invalid("private must be 0 or 1")),
    };
    let (size, files) = match (get(&dict, b"length"), get(&dict, b"files")) {
        (Some(_), Some(_)) => return Err(invalid("it has both length and files")),
        (Some(_), None) => (uint_field(&dict, b"length")?, 1),
        (None, Some(Value::List(list))) => files_size(list)?,
        _ => return Err(invalid("it has neither length nor a list of files")),
    };
    let expected = size.div_ceil(piece_length);
    if expected != pieces as u64 {
        return Err(invalid(&format!(
            "{pieces} piece hashes for {size} bytes in pieces of {piece_length} (needs {expected})"
        )));
    }
    Ok(TorrentInfo {
        name,
        size,
        piece_length,
        pieces,
        files,
        private,
    })
}

fn files_size(list: &[Value<'_>]) -> Result<(u64, usize), TorrentError> {
    if list.is_empty() || list.len() > MAX_TORRENT_FILES {
        return Err(invalid(&format!(
            "a torrent holds 1 to {MAX_TORRENT_FILES} files, this one {}",
            list.len()
        )));
    }
    let mut total: u64 = 0;
    for file in list {
        let Value::Dict(file) = file else {
            return Err(invalid("an entry of files is not a dictionary"));
        };
        let length = uint_field(file, b"length")?;
        total = total
            .checked_add(length)
            .ok_or_else(|| invalid("the total size overflows"))?;
        let Some(Value::List(path)) = get(file, b"path") else {
            return Err(invalid("a file has no path"));
        };
        if path.is_empty() {
            return Err(invalid("a file has an empty path"));
        }
        for part in path {
            let Value::Bytes(part) = part else {
                return Err(invalid("a path component is not a string"));
            };
            let part =
                std::str::from_utf8(part).map_err(|_| invalid("a path component is not UTF-8"))?;
            check_component(part)?;
        }
    }
    Ok((total, list.len()))
}

/// A name or path component must be one plain file name.
fn check_component(part: &str) -> Result<(), TorrentError> {
    if part.is_empty() || part == "." || part == ".." {
        return Err(invalid(&format!("{part:?} is not a file name")));
    }
    if part
        .chars()
        .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
    {
        return Err(invalid(&format!(
            "the name {:?} holds a path separator or a control character",
            part.escape_debug().to_string()
        )));
    }
    Ok(())
}

fn invalid(what: &str) -> TorrentError {
    TorrentError::Invalid(what.to_owned())
}

fn get<'a, 'b>(dict: &'b [(&'a [u8], Value<'a>)], key: &[u8]) -> Option<&'b Value<'a>> {
    dict.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn uint_field(dict: &[(&[u8], Value<'_>)], key: &'static [u8]) -> Result<u64, TorrentError> {
    match get(dict, key) {
        Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
        Some(_) => Err(invalid(&format!(
            "{} is not a non-negative integer",
            String::from_utf8_lossy(key)
        ))),
        None => Err(invalid(&format!(
            "{} is missing",
            String::from_utf8_lossy(key)
        ))),
    }
}

fn utf8_field(dict: &[(&[u8], Value<'_>)], key: &'static [u8]) -> Result<String, TorrentError> {
    match get(dict, key) {
        Some(Value::Bytes(b)) => std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| invalid("the name is not UTF-8")),
        _ => Err(invalid(&format!(
            "{} is missing",
            String::from_utf8_lossy(key)
        ))),
    }
}

/// A bencode value borrowing from the input.
#[derive(Debug)]
enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, TorrentError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or(TorrentError::Bencode("it ends early"))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, TorrentError> {
        if depth > MAX_DEPTH {
            return Err(TorrentError::Bencode("nested too deeply"));
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.digits(b'e', true)?;
                Ok(Value::Int(n))
            }
            b'l' => {
                self.pos += 1;
                let mut list = Vec::new();
                while self.peek()? != b'e' {
                    list.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(list))
            }
            b'd' => {
                self.pos += 1;
                let mut dict: Vec<(&'a [u8], Value<'a>)> = Vec::new();
                while self.peek()? != b'e' {
                    let key = self.string()?;
                    // Canonical bencode: keys sorted and unique (so the info
                    // hash has one meaning).
                    if dict.last().is_some_and(|(last, _)| *last >= key) {
                        return Err(TorrentError::Bencode(
                            "dictionary keys not sorted or repeated",
                        ));
                    }
                    let value = self.value(depth + 1)?;
                    dict.push((key, value));
                }
                self.pos += 1;
                Ok(Value::Dict(dict))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.string()?)),
            _ => Err(TorrentError::Bencode("unexpected byte")),
        }
    }

    fn string(&mut self) -> Result<&'a [u8], TorrentError> {
        let len = self.digits(b':', false)?;
        let len = usize::try_from(len).map_err(|_| TorrentError::Bencode("bad length"))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(TorrentError::Bencode("a string runs past the end"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a decimal number up to `end` (consumed); canonical form only.
    fn digits(&mut self, end: u8, signed: bool) -> Result<i64, TorrentError> {
        let start = self.pos;
        let rest = &self.bytes[start..];
        let stop = rest
            .iter()
            .take(21)
            .position(|b| *b == end)
            .ok_or(TorrentError::Bencode("a number does not end"))?;
        let text = &rest[..stop];
        let (negative, digits) = match text.split_first() {
            Some((b'-', d)) if signed => (true, d),
            _ => (false, text),
        };
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && !(negative && digits == b"0");
        if !canonical {
            return Err(TorrentError::Bencode("a number is not canonical"));
        }
        let mut n: i64 = 0;
        for d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i64::from(d - b'0')))
                .ok_or(TorrentError::Bencode("a number overflows"))?;
        }
        self.pos = start + stop + 1;
        Ok(if negative { -n } else { n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(name: &str, length: u64, piece: u64, pieces: usize, private: bool) -> Vec<u8> {
        encode_single(name, length, piece, &vec![7u8; pieces * 20], private)
    }

    #[test]
    fn a_single_file_info_parses() {
        let info = parse_info(&single("a.bin", 50_000, 16384, 4, true), 1 << 20).unwrap();
        assert_eq!(
            info,
            TorrentInfo {
                name: "a.bin".into(),
                size: 50_000,
                piece_length: 16384,
                pieces: 4,
                files: 1,
                private: true
            }
        );
        assert!(
            !parse_info(&single("a.bin", 0, 16384, 0, false), 1 << 20)
                .unwrap()
                .private
        );
    }

    #[test]
    fn a_directory_info_sums_its_files() {
        let mut v = b"d5:filesld6:lengthi10e4:pathl1:a1:beed6:lengthi5e4:pathl1:ceee".to_vec();
        v.extend(b"4:name3:dir12:piece lengthi16384e6:pieces20:");
        v.extend([1u8; 20]);
        v.push(b'e');
        let info = parse_info(&v, 1 << 20).unwrap();
        assert_eq!((info.size, info.files, info.pieces), (15, 2, 1));
    }

    #[test]
    fn bad_info_is_refused_with_the_reason() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (single("a", 50_000, 16384, 2, false), "needs 4"),
            (single("a", 5000, 2048, 1, false), "piece length is 2048"),
            (single("a", 1, 1 << 40, 1, false), "piece length is"),
            (single("..", 1, 16384, 1, false), "not a file name"),
            (single("a/b", 1, 16384, 1, false), "path separator"),
            (b"d4:name1:ae".to_vec(), "piece length is missing"),
            (b"i5e".to_vec(), "not a dictionary"),
            (b"d1:bi1e1:ai1ee".to_vec(), "not sorted"),
            (b"d1:ai01ee".to_vec(), "not canonical"),
            (b"d1:ai-0ee".to_vec(), "not canonical"),
            (b"d1:a5:abce".to_vec(), "past the end"),
            (b"d1:ai1eex".to_vec(), "after the dictionary"),
            (b"llllllllllllllllllleeeeeeeeeeeeeeeeeee".to_vec(), "deeply"),
            (b"d1:ai99999999999999999999ee".to_vec(), "overflows"),
            (b"d1:ai999999999999999999999999ee".to_vec(), "does not end"),
        ];
        for (bytes, want) in cases {
            let err = parse_info(&bytes, 1 << 20).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
        let err = parse_info(&single("a", 1, 16384, 1, false), 10).unwrap_err();
        assert!(matches!(err, TorrentError::TooLarge { max: 10, .. }));
    }

    #[test]
    fn peer_addresses_round_trip() {
        for addr in ["127.0.0.1:6881", "[2001:db8::1]:80"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(PeerAddr::from(addr).socket_addr(), Some(addr));
        }
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:5".parse().unwrap();
        assert_eq!(PeerAddr::from(mapped).ip, vec![10, 0, 0, 1]);
        for (ip, port) in [
            (vec![1, 2, 3], 5),
            (vec![1, 2, 3, 4], 0),
            (vec![1, 2, 3, 4], 70_000),
        ] {
            assert_eq!(
                PeerAddr {
                    ip,
                    port,
                    session: 0
                }
                .socket_addr(),
                None
            );
        }
    }

    #[test]
    fn the_info_hash_is_sha1_of_the_bytes() {
        assert_eq!(
            crate::hash::hex(&info_hash(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_info(&bytes, 1 << 20);
        }
    }
}
