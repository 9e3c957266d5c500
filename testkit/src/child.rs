//! voiced as a child process (a binary the caller names, perhaps behind
//! `ip netns exec`), on [`paths_in`](crate::paths_in) of a dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::{Client, WAIT, xdg_env};

/// A `voiced` process with its own XDG dirs; stopped with SIGTERM on drop.
pub struct VoicedChild {
    child: Child,
    socket: PathBuf,
    /// Killed and reaped already: nothing to stop on drop.
    gone: bool,
}

impl VoicedChild {
    /// Starts `command` (voiced, with any extra settings of the caller's)
    /// in the foreground on [`xdg_env`]`(dir)`, its socket under `dir`,
    /// its log on this process's stderr.
    pub fn start(mut command: Command, dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("run")).expect("run dir");
        let socket = dir.join("run/voiced.sock");
        let child = xdg_env(&mut command, dir)
            .env("NO_COLOR", "1")
            .arg("--socket")
            .arg(&socket)
            .arg("--foreground")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("voiced starts");
        Self {
            child,
            socket,
            gone: false,
        }
    }

    /// Its process id (for reading its memory from `/proc`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.gone = true;
    }

    /// A client of it, once it opened its socket.
    pub async fn client(&self) -> Client {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(c) = voiced_client::connect(&self.socket).await {
                return c;
            }
            assert!(Instant::now() < deadline, "voiced did not open its socket");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for VoicedChild {
    fn drop(&mut self) {
        if self.gone {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
