//! `watch`: the daemon's events as they happen.

use std::io::Write;

use serde_json::Value;
use voice_proto::pb::control as c;

use super::{Client, Failure, Output, out};
use crate::render;

/// `voicectl watch [--levels]`: prints each event as one JSON object a line
/// until the daemon ends the stream or stdout closes. Prints as it goes, so
/// the returned output is empty.
pub async fn watch(client: &mut Client, levels: bool) -> Result<Output, Failure> {
    let mut stream = client.watch(c::WatchRequest { levels }).await?.into_inner();
    while let Some(e) = stream.message().await? {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{}", render::json_line(&render::event_json(&e)))
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(out(String::new(), Value::Null))
}
