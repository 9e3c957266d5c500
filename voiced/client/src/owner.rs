//! Who may stand at either end of the control socket: only the user who
//! runs voiced. Without `XDG_RUNTIME_DIR` the socket lives in the shared
//! temp directory, where another user could make `/tmp/voice-$UID` first
//! and catch the socket, or serve a fake voiced to our front ends. So:
//! - the socket's directory must be a real directory owned by us and not
//!   writable by group or others ([`check_dir`]);
//! - voiced serves only connections whose peer has its uid, and a front end
//!   talks only to a voiced of its own uid ([`check_peer`], with the uid
//!   the kernel reports for the other end, `SO_PEERCRED`).
//!
//! On Windows the named pipe's security descriptor does this job.

use std::io;
use std::path::Path;

/// This process's effective user id (Unix).
#[cfg(unix)]
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What is wrong with the socket's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirProblem {
    /// A symbolic link (it could point anywhere).
    Symlink,
    /// Not a directory at all.
    NotADirectory,
    /// Owned by another user.
    Owner {
        /// The owner's uid.
        owner: u32,
    },
    /// Writable by group or others (mode shown in octal).
    Writable {
        /// The permission bits.
        mode: u32,
    },
}

/// The rule behind [`check_dir`], with the directory's facts given:
/// a directory (not a link), owned by `me`, not group- or world-writable.
pub fn dir_verdict(
    is_symlink: bool,
    is_dir: bool,
    owner: u32,
    mode: u32,
    me: u32,
) -> Result<(), DirProblem> {
    if is_symlink {
        Err(DirProblem::Symlink)
    } else if !is_dir {
        Err(DirProblem::NotADirectory)
    } else if owner != me {
        Err(DirProblem::Owner { owner })
    } else if mode & 0o022 != 0 {
        Err(DirProblem::Writable {
            mode: mode & 0o7777,
        })
    } else {
        Ok(())
    }
}

/// Checks that `dir` (the socket's directory) is a directory of ours that
/// nobody else may write to; the error says what is wrong and what to do.
#[cfg(unix)]
pub fn check_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir)?;
    let me = my_uid();
    dir_verdict(
        meta.file_type().is_symlink(),
        meta.is_dir(),
        meta.uid(),
        meta.mode(),
        me,
    )
    .map_err(|problem| {
        let what = match problem {
            DirProblem::Symlink => "is a symbolic link".to_owned(),
            DirProblem::NotADirectory => "is not a directory".to_owned(),
            DirProblem::Owner { owner } => {
                format!("belongs to uid {owner}, not to you (uid {me})")
            }
            DirProblem::Writable { mode } => {
                format!("may be written by others (mode {mode:o})")
            }
        };
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the socket directory {} {what}: another user could take voiced's socket; \
                 remove it (or `chmod 700` it if it is yours), or set XDG_RUNTIME_DIR, and start again",
                dir.display()
            ),
        )
    })
}

/// Checks the uid the kernel reports for the other end of a control socket
/// connection (`None`: the system does not say): it must be `me`.
pub fn check_peer(peer: Option<u32>, me: u32, path: &Path, role: &str) -> io::Result<()> {
    match peer {
        Some(uid) if uid == me => Ok(()),
        Some(uid) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the {role} on {} runs as uid {uid}, not as you (uid {me}); refusing it \
                 (another user may be squatting the socket: remove it, or use --socket PATH)",
                path.display()
            ),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot tell who runs the {role} on {} (no peer credentials); refusing it",
                path.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_private_directory_of_mine_passes() {
        assert_eq!(dir_verdict(false, true, 1000, 0o40700, 1000), Ok(()));
        assert_eq!(dir_verdict(false, true, 1000, 0o40755, 1000), Ok(()));
        assert_eq!(
            dir_verdict(false, true, 1000, 0o41777, 1000),
            Err(DirProblem::Writable { mode: 0o1777 })
        );
        assert_eq!(
            dir_verdict(false, true, 1000, 0o40770, 1000),
            Err(DirProblem::Writable { mode: 0o770 })
        );
        assert_eq!(
            dir_verdict(false, true, 0, 0o40700, 1000),
            Err(DirProblem::Owner { owner: 0 })
        );
        assert_eq!(
            dir_verdict(true, false, 1000, 0o120777, 1000),
            Err(DirProblem::Symlink)
        );
        assert_eq!(
            dir_verdict(false, false, 1000, 0o100600, 1000),
            Err(DirProblem::NotADirectory)
        );
    }

    #[test]
    fn only_my_uid_may_be_the_peer() {
        let path = Path::new("/tmp/voice-1000/voiced.sock");
        assert!(check_peer(Some(1000), 1000, path, "voiced").is_ok());
        let err = check_peer(Some(65534), 1000, path, "voiced").unwrap_err();
        assert!(
            err.to_string().contains("uid 65534, not as you (uid 1000)"),
            "{err}"
        );
        assert!(check_peer(None, 1000, path, "voiced").is_err());
    }
}
