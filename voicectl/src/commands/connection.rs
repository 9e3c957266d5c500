//! The connection and who I am: `status`, `identity`, `name`, `connect`,
//! `claim-admin`, `disconnect`.

use std::path::Path;

use serde_json::json;
use voice_proto::pb::control as c;

use super::{Client, Failure, Output, daemon_state, daemon_status, out};
use crate::render;

/// `voicectl status`: connection state, server, room (with its path), mute
/// and deaf, and the audio devices with their last problem.
pub async fn status(client: &mut Client) -> Result<Output, Failure> {
    let s = daemon_status(client).await?;
    let path = match daemon_state(client).await {
        Ok((_, snap)) => render::room_path(&snap, s.room),
        Err(_) => None,
    };
    let mut j = render::status_json(&s);
    j["room_path"] = json!(path);
    Ok(out(render::status_text(&s, path.as_deref()), j))
}

/// `voicectl identity`: my display name and public key.
pub async fn identity(client: &mut Client) -> Result<Output, Failure> {
    let i = client.identity(c::Empty {}).await?.into_inner();
    Ok(out(
        format!("name: {}\npublic key: {}\n", i.display_name, i.public_key),
        json!({"display_name": i.display_name, "public_key": i.public_key}),
    ))
}

/// `voicectl name NAME`: changes my display name.
pub async fn set_name(client: &mut Client, name: &str) -> Result<Output, Failure> {
    let i = client
        .set_display_name(c::SetDisplayNameRequest {
            name: name.to_owned(),
        })
        .await?
        .into_inner();
    Ok(out(
        format!("name: {}\n", i.display_name),
        json!({"display_name": i.display_name, "public_key": i.public_key}),
    ))
}

/// Everything `voicectl connect` takes besides the server.
#[derive(Debug, Default)]
pub struct ConnectOptions<'a> {
    /// Server password.
    pub password: Option<&'a str>,
    /// Display name on this server.
    pub name: Option<&'a str>,
    /// Extra CA certificate (PEM) to trust; sent to the daemon as an absolute path.
    pub ca_file: Option<&'a Path>,
    /// Accept and pin the certificate of a server not seen before.
    pub accept_new: bool,
    /// Accept and pin the certificate with this SHA-256 fingerprint.
    pub accept_fingerprint: Option<&'a str>,
    /// One-time admin token printed by the server.
    pub admin_token: Option<&'a str>,
}

/// `voicectl connect SERVER`: connects to `HOST[:PORT]` or a saved server.
pub async fn connect(
    client: &mut Client,
    server: &str,
    options: &ConnectOptions<'_>,
) -> Result<Output, Failure> {
    let s = client
        .connect(c::ConnectRequest {
            server: server.to_owned(),
            password: options.password.unwrap_or_default().to_owned(),
            display_name: options.name.unwrap_or_default().to_owned(),
            admin_token: options.admin_token.unwrap_or_default().to_owned(),
            // The daemon has its own working directory.
            ca_file: options
                .ca_file
                .map(|p| {
                    std::path::absolute(p)
                        .unwrap_or_else(|_| p.to_path_buf())
                        .display()
                        .to_string()
                })
                .unwrap_or_default(),
            bookmark: String::new(),
            accept_new: options.accept_new,
            accept_fingerprint: options.accept_fingerprint.unwrap_or_default().to_owned(),
        })
        .await?
        .into_inner();
    Ok(out(render::status_text(&s, None), render::status_json(&s)))
}

/// `voicectl claim-admin TOKEN`: reconnects to the current server presenting
/// its one-time admin token.
pub async fn claim_admin(client: &mut Client, token: &str) -> Result<Output, Failure> {
    let now = daemon_status(client).await?;
    if now.server.is_empty() {
        return Err(Failure::Other(
            "not connected; run `voicectl connect HOST --admin-token TOKEN`".into(),
        ));
    }
    let s = client
        .connect(c::ConnectRequest {
            server: now.server.clone(),
            admin_token: token.to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(out(render::status_text(&s, None), render::status_json(&s)))
}

/// `voicectl disconnect`: leaves the server.
pub async fn disconnect(client: &mut Client) -> Result<Output, Failure> {
    let s = client.disconnect(c::Empty {}).await?.into_inner();
    Ok(out("disconnected\n", render::status_json(&s)))
}
