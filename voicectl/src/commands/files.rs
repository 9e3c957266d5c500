//! Files over BitTorrent: `share`, `files`, `download`, `transfers`, `cancel`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use voice_proto::pb::control::{self as c, TransferState};
use voiced_client::files::{human_speed, transfer_state};
use voiced_client::text::printable;

use super::{Client, Failure, Output, done, out};
use crate::render;

/// How often `download` asks voiced how far the transfer is.
pub const POLL: Duration = Duration::from_millis(200);

/// What `download` says when the transfer disappears.
pub const CANCELLED: &str = "the transfer was cancelled";

/// `path` made absolute against this process's working directory: voiced
/// runs elsewhere.
fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path)
        .map_err(|e| Failure::Other(format!("cannot use {}: {e}", path.display())))
}

/// `voicectl share FILE [--room ROOM]`: shares a file; prints its magnet link.
pub async fn share(
    client: &mut Client,
    file: &Path,
    room: Option<&str>,
) -> Result<Output, Failure> {
    let path = absolute(file)?;
    // Said here, where the path means something to the user.
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(Failure::Other(format!(
                "cannot share {}: not a file",
                file.display()
            )));
        }
        Err(e) => {
            return Err(Failure::Other(format!(
                "cannot share {}: {e}",
                file.display()
            )));
        }
    }
    let reply = client
        .share(c::ShareRequest {
            path: path.to_string_lossy().into_owned(),
            room: room.unwrap_or_default().to_owned(),
        })
        .await?
        .into_inner();
    Ok(out(
        format!("{}\n", reply.magnet),
        json!({
            "id": reply.id,
            "name": reply.name,
            "size": reply.size,
            "info_hash": reply.info_hash,
            "magnet": reply.magnet,
        }),
    ))
}

/// `voicectl files [--room ROOM]`: the files shared in a room.
pub async fn files(client: &mut Client, room: Option<&str>) -> Result<Output, Failure> {
    let reply = client
        .files(c::FilesRequest {
            room: room.unwrap_or_default().to_owned(),
        })
        .await?
        .into_inner();
    Ok(out(
        render::files_text(&reply.files),
        json!(
            reply
                .files
                .iter()
                .map(render::file_json)
                .collect::<Vec<_>>()
        ),
    ))
}

/// `voicectl transfers`: my shares and downloads.
pub async fn transfers(client: &mut Client) -> Result<Output, Failure> {
    let all = client.transfers(c::Empty {}).await?.into_inner().transfers;
    Ok(out(
        render::transfers_text(&all),
        json!(all.iter().map(render::transfer_json).collect::<Vec<_>>()),
    ))
}

/// `voicectl cancel ID`: stops a transfer.
pub async fn cancel(client: &mut Client, id: u32) -> Result<Output, Failure> {
    client.cancel_transfer(c::TransferRef { id }).await?;
    Ok(done(&format!("cancelled transfer {id}")))
}

/// `voicectl download MAGNET|ID [--to DIR]`: starts the download, then
/// follows it until it is complete (prints the path) or failed (the reason,
/// exit 1) or gone (cancelled, exit 1). A progress bar on a terminal; with
/// `json`, a progress object a line and the final one as the output.
pub async fn download(
    client: &mut Client,
    json: bool,
    file: &str,
    to: Option<&Path>,
) -> Result<Output, Failure> {
    let to = match to {
        Some(dir) => absolute(dir)?.to_string_lossy().into_owned(),
        None => String::new(),
    };
    let first = client
        .download(c::DownloadRequest {
            file: file.to_owned(),
            to,
        })
        .await?
        .into_inner();
    let id = first.id;
    let mut progress = Progress::new(json);
    let mut current = Some(first);
    loop {
        let Some(t) = current.take() else {
            progress.abandon();
            return Err(Failure::Other(CANCELLED.to_owned()));
        };
        match transfer_state(&t) {
            TransferState::Complete => {
                progress.finish(&t);
                return Ok(out(
                    format!("{}\n", t.path),
                    json!({"id": t.id, "state": "complete", "path": t.path}),
                ));
            }
            TransferState::Failed => {
                progress.abandon();
                let why = if t.error.is_empty() {
                    "no reason given"
                } else {
                    &t.error
                };
                return Err(Failure::Other(format!("download failed: {why}")));
            }
            TransferState::Gone => {
                progress.abandon();
                return Err(Failure::Other(CANCELLED.to_owned()));
            }
            _ => {
                if !progress.show(&t) {
                    // stdout closed: nobody is waiting any more.
                    return Ok(out(String::new(), Value::Null));
                }
            }
        }
        tokio::time::sleep(POLL).await;
        let all = client.transfers(c::Empty {}).await?.into_inner().transfers;
        current = all.into_iter().find(|t| t.id == id);
    }
}

/// How `download` shows progress: JSON lines, a bar on a terminal, or nothing.
enum Progress {
    Json,
    Bar(ProgressBar),
    Quiet,
}

impl Progress {
    fn new(json: bool) -> Self {
        if json {
            return Self::Json;
        }
        if !std::io::stderr().is_terminal() {
            return Self::Quiet;
        }
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30.cyan/blue}] {binary_bytes}/{binary_total_bytes} {prefix}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Self::Bar(bar)
    }

    /// Shows one reading; `false` when stdout is closed.
    fn show(&mut self, t: &c::Transfer) -> bool {
        match self {
            Self::Json => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{}", render::json_line(&render::progress_json(t)))
                    .and_then(|()| stdout.flush())
                    .is_ok()
            }
            Self::Bar(bar) => {
                bar.set_length(t.size);
                bar.set_position(t.done_bytes.min(t.size));
                bar.set_message(printable(&t.name).into_owned());
                let state = voiced_client::files::transfer_state_name(t.state);
                // Say so when peers come through the server's relay: slower, and the
                // server carries the bytes.
                let relayed = if t.relayed_peers > 0 {
                    format!(", {} via relay", t.relayed_peers)
                } else {
                    String::new()
                };
                bar.set_prefix(format!(
                    "{}, {} peer{}{relayed} ({state})",
                    human_speed(t.download_bps),
                    t.peers,
                    if t.peers == 1 { "" } else { "s" }
                ));
                true
            }
            Self::Quiet => true,
        }
    }

    fn finish(&mut self, t: &c::Transfer) {
        if let Self::Bar(bar) = self {
            bar.set_length(t.size);
            bar.set_position(t.size);
            bar.finish_and_clear();
        }
    }

    fn abandon(&mut self) {
        if let Self::Bar(bar) = self {
            bar.abandon();
        }
    }
}
