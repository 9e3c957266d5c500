//! Room history: `history fetch [ROOM]`.

use super::{Client, Failure, Output, out};
use crate::render;

/// `voicectl history fetch [ROOM]`: asks voiced for the earlier chat of my
/// room (or `room`) from its other members and prints it, marked as
/// history, with where it came from.
pub async fn fetch(client: &mut Client, room: Option<&str>) -> Result<Output, Failure> {
    let room = room.unwrap_or_default().to_owned();
    let reply = voiced_client::history::fetch(client.clone(), room).await?;
    Ok(out(
        render::history_text(&reply),
        render::history_json(&reply),
    ))
}
