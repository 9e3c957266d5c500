//! `known_servers`: pinned certificate fingerprints, one server a line:
//! `HOST:PORT FINGERPRINT FIRST_SEEN_MS` (like SSH's `known_hosts`).

use std::path::{Path, PathBuf};

use crate::fsutil;

/// One pinned server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownServer {
    /// `host:port`.
    pub server: String,
    /// SHA-256 of the leaf certificate (DER), lowercase hex.
    pub fingerprint: String,
    /// Unix time in ms when it was pinned.
    pub first_seen_ms: u64,
}

/// The pinned servers, backed by a file.
#[derive(Debug)]
pub struct KnownServers {
    path: PathBuf,
    entries: Vec<KnownServer>,
}

impl KnownServers {
    /// Reads the file (missing = empty). Lines that do not parse are skipped
    /// with a warning rather than making every server untrusted.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                [server, fp, seen] if normalize_fingerprint(fp).is_some() => {
                    entries.push(KnownServer {
                        server: (*server).to_owned(),
                        fingerprint: normalize_fingerprint(fp).unwrap_or_default(),
                        first_seen_ms: seen.parse().unwrap_or(0),
                    });
                }
                _ => {
                    tracing::warn!(file = %path.display(), line = n + 1, "skipping malformed line")
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The pin of a server.
    pub fn get(&self, server: &str) -> Option<&KnownServer> {
        self.entries.iter().find(|e| e.server == server)
    }

    /// Every pin.
    pub fn entries(&self) -> &[KnownServer] {
        &self.entries
    }

    /// Pins (or re-pins) a server and writes the file.
    pub fn pin(&mut self, server: &str, fingerprint: &str, now_ms: u64) -> std::io::Result<()> {
        self.entries.retain(|e| e.server != server);
        self.entries.push(KnownServer {
            server: server.to_owned(),
            fingerprint: fingerprint.to_owned(),
            first_seen_ms: now_ms,
        });
        self.save()
    }

    fn save(&self) -> std::io::Result<()> {
        let mut text =
            String::from("# voiced known_servers: HOST:PORT SHA256-FINGERPRINT FIRST_SEEN_MS\n");
        for e in &self.entries {
            text.push_str(&format!(
                "{} {} {}\n",
                e.server, e.fingerprint, e.first_seen_ms
            ));
        }
        fsutil::write_private(&self.path, text.as_bytes())
    }
}

/// A fingerprint as 64 lowercase hex digits; accepts `:` separators and
/// upper case. `None` if it is not a SHA-256 fingerprint.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_persist_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/known_servers");
        let fp1 = "ab".repeat(32);
        let fp2 = "CD".repeat(32);
        let mut k = KnownServers::load(&path).unwrap();
        k.pin("h:1", &fp1, 5).unwrap();
        k.pin("g:2", &normalize_fingerprint(&fp2).unwrap(), 6)
            .unwrap();
        let k2 = KnownServers::load(&path).unwrap();
        assert_eq!(k2.get("h:1").unwrap().fingerprint, fp1);
        assert_eq!(k2.get("g:2").unwrap().fingerprint, "cd".repeat(32));
        assert_eq!(k2.get("h:1").unwrap().first_seen_ms, 5);
        assert_eq!(k2.entries().len(), 2);
    }

    #[test]
    fn fingerprints_are_checked() {
        assert!(normalize_fingerprint("xyz").is_none());
        assert!(normalize_fingerprint(&"a".repeat(63)).is_none());
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(normalize_fingerprint(&colons).unwrap(), "ab".repeat(32));
    }
}
