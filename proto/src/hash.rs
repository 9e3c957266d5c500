//! The state hash: BLAKE3 of the canonical `StateSnapshot` encoding.

use std::fmt;

/// A 32-byte BLAKE3 hash of a canonical state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateHash(pub [u8; 32]);

impl StateHash {
    /// Reads a hash from bytes received from a peer; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The raw bytes, as carried in protobuf messages.
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    /// A short form for logs and user messages (first 8 bytes in hex).
    pub fn short(&self) -> String {
        hex(&self.0[..8])
    }
}

impl fmt::Display for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateHash({})", self.short())
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses lower- or upper-case hex (colons allowed between bytes); `None` on anything else.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}
