//! Saved servers (bookmarks): `server add|list|remove`.

use serde_json::json;
use voice_proto::pb::control as c;

use super::{Client, Failure, Output, out};

/// `voicectl server add NAME SERVER`: saves a server; prints the saved servers.
pub async fn add(
    client: &mut Client,
    name: &str,
    server: &str,
    password: &str,
    display_name: &str,
) -> Result<Output, Failure> {
    let marks = client
        .save_bookmark(c::Bookmark {
            name: name.to_owned(),
            server: server.to_owned(),
            display_name: display_name.to_owned(),
            password: password.to_owned(),
        })
        .await?
        .into_inner();
    Ok(bookmarks(&marks))
}

/// `voicectl server list`: the saved servers.
pub async fn list(client: &mut Client) -> Result<Output, Failure> {
    let marks = client.bookmarks(c::Empty {}).await?.into_inner();
    Ok(bookmarks(&marks))
}

/// `voicectl server remove NAME`: forgets a server; prints the saved servers.
pub async fn remove(client: &mut Client, name: &str) -> Result<Output, Failure> {
    let marks = client
        .remove_bookmark(c::BookmarkRef {
            name: name.to_owned(),
        })
        .await?
        .into_inner();
    Ok(bookmarks(&marks))
}

/// The saved servers, one a line; the JSON says whether each has a password
/// but never shows it.
fn bookmarks(marks: &c::BookmarksReply) -> Output {
    let text: String = marks
        .bookmarks
        .iter()
        .map(|b| format!("{}\t{}\n", b.name, b.server))
        .collect();
    out(
        text,
        json!(
            marks
                .bookmarks
                .iter()
                .map(|b| json!({
                    "name": b.name, "server": b.server, "display_name": b.display_name,
                    "has_password": !b.password.is_empty(),
                }))
                .collect::<Vec<_>>()
        ),
    )
}
