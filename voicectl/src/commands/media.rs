//! Audio bots: `play`, `stop` and `record` (issue 23).

use std::path::Path;

use serde_json::json;
use voice_proto::pb::control as c;
use voiced_client::text::printable;

use super::{Client, Failure, Output, out};
use crate::render::{playing_json, playing_text, recording_json, recording_text};

fn absolute(path: &Path) -> Result<String, Failure> {
    std::path::absolute(path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| Failure::Other(format!("cannot use {}: {e}", path.display())))
}

/// `voicectl play FILE [--loop] [--volume PCT] [--replace]`.
pub async fn play(
    client: &mut Client,
    file: &Path,
    repeat: bool,
    volume: u32,
    replace: bool,
) -> Result<Output, Failure> {
    let path = absolute(file)?;
    let p = client
        .play(c::PlayRequest {
            path,
            repeat,
            volume: Some(volume),
            replace,
        })
        .await?
        .into_inner();
    Ok(out(
        format!("playing {}\n", playing_text(&p)),
        json!({"ok": true, "playing": playing_json(&p)}),
    ))
}

/// `voicectl stop`: stops what `play` plays.
pub async fn stop(client: &mut Client) -> Result<Output, Failure> {
    let stopped = client.stop_playing(c::Empty {}).await?.into_inner().stopped;
    let text = match &stopped {
        Some(p) => format!("stopped {}\n", printable(&p.path)),
        None => "nothing was playing\n".to_owned(),
    };
    Ok(out(
        text,
        json!({"ok": true, "stopped": stopped.as_ref().map(playing_json)}),
    ))
}

/// `voicectl record FILE [--overwrite]`.
pub async fn record(client: &mut Client, file: &Path, overwrite: bool) -> Result<Output, Failure> {
    let path = absolute(file)?;
    let r = client
        .record(c::RecordRequest { path, overwrite })
        .await?
        .into_inner();
    Ok(out(
        format!(
            "recording to {} (everyone sees that you are recording; `voicectl record --stop` ends it)\n",
            recording_text(&r)
        ),
        json!({"ok": true, "recording": recording_json(&r)}),
    ))
}

/// `voicectl record --stop`: finishes the recording.
pub async fn stop_recording(client: &mut Client) -> Result<Output, Failure> {
    let stopped = client
        .stop_recording(c::Empty {})
        .await?
        .into_inner()
        .stopped;
    let text = match &stopped {
        Some(r) => format!("recorded {}\n", recording_text(r)),
        None => "nothing was being recorded\n".to_owned(),
    };
    Ok(out(
        text,
        json!({"ok": true, "stopped": stopped.as_ref().map(recording_json)}),
    ))
}
