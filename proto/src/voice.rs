//! Voice datagram headers (DESIGN §3).
//!
//! Client → server: `[flags u8][seq varint][opus]`.
//! Server → client: `[flags u8][speaker session varint][seq varint][opus]`.
//! Varints are LEB128 of a `u32` (at most 5 bytes, no overlong forms).
//! The Opus payload is opaque here: the server never decodes it.

/// The packet ends a talk burst; receivers end the speaker's stream at once.
pub const FLAG_END_OF_BURST: u8 = 0x01;
/// Every flag this version defines; datagrams with other bits set are refused.
pub const KNOWN_FLAGS: u8 = FLAG_END_OF_BURST;
/// The largest Opus payload accepted by default (a 60 ms packet at 128 kb/s
/// is 960 bytes; a QUIC datagram carries about 1,200).
pub const DEFAULT_MAX_PAYLOAD: usize = 1000;
/// The longest header: flags, speaker and sequence.
pub const MAX_HEADER_LEN: usize = 1 + 5 + 5;

/// A voice datagram that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoiceError {
    /// Nothing after the header fields.
    #[error("voice datagram is truncated")]
    Truncated,
    /// A varint longer than 5 bytes or beyond `u32`.
    #[error("voice datagram has a malformed varint")]
    BadVarint,
    /// Flag bits this version does not define.
    #[error("voice datagram has unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// An Opus payload larger than allowed.
    #[error("voice payload of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No payload on a packet that does not end a burst.
    #[error("voice datagram has no payload")]
    Empty,
}

/// A parsed client → server datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientVoice<'a> {
    /// Flag bits.
    pub flags: u8,
    /// Sender's packet sequence number.
    pub seq: u32,
    /// Opus packet.
    pub opus: &'a [u8],
}

/// A parsed server → client datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVoice<'a> {
    /// Flag bits.
    pub flags: u8,
    /// Session id of the speaker.
    pub speaker: u32,
    /// Speaker's packet sequence number.
    pub seq: u32,
    /// Opus packet.
    pub opus: &'a [u8],
}

impl ClientVoice<'_> {
    /// Whether this packet ends a talk burst.
    pub fn end_of_burst(&self) -> bool {
        self.flags & FLAG_END_OF_BURST != 0
    }
}

impl ServerVoice<'_> {
    /// Whether this packet ends a talk burst.
    pub fn end_of_burst(&self) -> bool {
        self.flags & FLAG_END_OF_BURST != 0
    }
}

/// Appends a LEB128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 `u32`; returns it and the bytes used.
pub fn get_varint(bytes: &[u8]) -> Result<(u32, usize), VoiceError> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // An overlong form ends in a zero byte after the first.
            if i > 0 && b == 0 {
                return Err(VoiceError::BadVarint);
            }
            return u32::try_from(v)
                .map(|v| (v, i + 1))
                .map_err(|_| VoiceError::BadVarint);
        }
    }
    if bytes.len() < 5 {
        Err(VoiceError::Truncated)
    } else {
        Err(VoiceError::BadVarint)
    }
}

fn check_payload(flags: u8, opus: &[u8], max: usize) -> Result<(), VoiceError> {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(VoiceError::UnknownFlags(flags));
    }
    if opus.len() > max {
        return Err(VoiceError::TooLarge {
            len: opus.len(),
            max,
        });
    }
    if opus.is_empty() && flags & FLAG_END_OF_BURST == 0 {
        return Err(VoiceError::Empty);
    }
    Ok(())
}

/// Writes a client → server datagram into `buf` (cleared first).
pub fn encode_client(buf: &mut Vec<u8>, flags: u8, seq: u32, opus: &[u8]) {
    buf.clear();
    buf.push(flags);
    put_varint(buf, seq);
    buf.extend_from_slice(opus);
}

/// Parses a client → server datagram; `max_payload` bounds the Opus part.
pub fn decode_client(datagram: &[u8], max_payload: usize) -> Result<ClientVoice<'_>, VoiceError> {
    let (&flags, rest) = datagram.split_first().ok_or(VoiceError::Truncated)?;
    let (seq, used) = get_varint(rest)?;
    let opus = &rest[used..];
    check_payload(flags, opus, max_payload)?;
    Ok(ClientVoice { flags, seq, opus })
}

/// Writes a server → client datagram into `buf` (cleared first).
pub fn encode_server(buf: &mut Vec<u8>, flags: u8, speaker: u32, seq: u32, opus: &[u8]) {
    buf.clear();
    buf.push(flags);
    put_varint(buf, speaker);
    put_varint(buf, seq);
    buf.extend_from_slice(opus);
}

/// Turns a parsed client datagram into the datagram the server forwards.
pub fn relay(buf: &mut Vec<u8>, speaker: u32, packet: &ClientVoice<'_>) {
    encode_server(buf, packet.flags, speaker, packet.seq, packet.opus);
}

/// Parses a server → client datagram; `max_payload` bounds the Opus part.
pub fn decode_server(datagram: &[u8], max_payload: usize) -> Result<ServerVoice<'_>, VoiceError> {
    let (&flags, rest) = datagram.split_first().ok_or(VoiceError::Truncated)?;
    let (speaker, used) = get_varint(rest)?;
    let rest = &rest[used..];
    let (seq, used) = get_varint(rest)?;
    let opus = &rest[used..];
    check_payload(flags, opus, max_payload)?;
    Ok(ServerVoice {
        flags,
        speaker,
        seq,
        opus,
    })
}
