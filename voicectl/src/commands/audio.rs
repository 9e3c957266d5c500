//! My voice and what I hear: `mute`, `deafen`, `ptt`, `voice-mode`, `volume`,
//! `local-mute`, `devices`, `device`.

use serde_json::{Value, json};
use voice_proto::pb::control::{self as c, select_device_request::Direction as Dir};
use voiced_client::names::voice_mode_name;

use super::{Client, Failure, Output, daemon_status, done, out};
use crate::cli::{Direction, Key, Mode, Switch};

/// `voicectl mute [on|off|toggle]`: mutes or unmutes myself.
pub async fn mute(client: &mut Client, switch: Switch) -> Result<Output, Failure> {
    let now = daemon_status(client).await?;
    let on = flip(switch, now.self_mute);
    client.set_mute(c::Toggle { on }).await?;
    Ok(out(
        format!("mute: {}\n", if on { "on" } else { "off" }),
        json!({"ok": true, "self_mute": on}),
    ))
}

/// `voicectl deafen [on|off|toggle]`: deafens (the daemon also mutes) or undeafens myself.
pub async fn deafen(client: &mut Client, switch: Switch) -> Result<Output, Failure> {
    let now = daemon_status(client).await?;
    let on = flip(switch, now.self_deaf);
    client.set_deaf(c::Toggle { on }).await?;
    Ok(out(
        format!("deaf: {}\n", if on { "on" } else { "off" }),
        json!({"ok": true, "self_deaf": on}),
    ))
}

/// `voicectl ptt press|release`: the push-to-talk key.
pub async fn push_to_talk(client: &mut Client, key: Key) -> Result<Output, Failure> {
    let on = key == Key::Press;
    client.push_to_talk(c::Toggle { on }).await?;
    Ok(done(if on { "talking" } else { "released" }))
}

/// `voicectl voice-mode vad|ptt|continuous`: the voice transmission mode.
pub async fn voice_mode(client: &mut Client, mode: Mode) -> Result<Output, Failure> {
    let m = match mode {
        Mode::Vad => c::VoiceMode::VoiceActivity,
        Mode::Ptt => c::VoiceMode::PushToTalk,
        Mode::Continuous => c::VoiceMode::Continuous,
    };
    client
        .set_voice_mode(c::VoiceModeRequest { mode: m as i32 })
        .await?;
    Ok(done(&format!("voice mode: {}", voice_mode_name(m as i32))))
}

/// `voicectl volume USER PERCENT`: a user's playback volume, in percent.
pub async fn volume(client: &mut Client, user: &str, percent: f32) -> Result<Output, Failure> {
    client
        .set_user_volume(c::UserVolumeRequest {
            user: user.to_owned(),
            volume: percent / 100.0,
        })
        .await?;
    Ok(done(&format!("volume of {user}: {percent} %")))
}

/// `voicectl local-mute USER [on|off|toggle]`: mutes a user for me only.
pub async fn local_mute(
    client: &mut Client,
    user: &str,
    switch: Switch,
) -> Result<Output, Failure> {
    let mute = switch != Switch::Off;
    client
        .set_user_local_mute(c::UserLocalMuteRequest {
            user: user.to_owned(),
            mute,
        })
        .await?;
    Ok(done(&format!(
        "{user} {} for me",
        if mute { "muted" } else { "unmuted" }
    )))
}

/// `voicectl devices`: the audio backend and its devices, the selected ones starred.
pub async fn devices(client: &mut Client) -> Result<Output, Failure> {
    let d = client.devices(c::Empty {}).await?.into_inner();
    let list = |ds: &[c::Device]| -> Vec<Value> {
        ds.iter()
            .map(|x| json!({"name": x.name, "default": x.is_default, "selected": x.selected}))
            .collect()
    };
    let mut text = format!("backend: {}\ninputs:\n", d.backend);
    for x in &d.inputs {
        text.push_str(&format!(
            "  {}{}\n",
            if x.selected { "* " } else { "  " },
            x.name
        ));
    }
    text.push_str("outputs:\n");
    for x in &d.outputs {
        text.push_str(&format!(
            "  {}{}\n",
            if x.selected { "* " } else { "  " },
            x.name
        ));
    }
    Ok(out(
        text,
        json!({"backend": d.backend, "inputs": list(&d.inputs), "outputs": list(&d.outputs)}),
    ))
}

/// `voicectl device input|output NAME`: selects an audio device (empty
/// name = the default).
pub async fn select_device(
    client: &mut Client,
    direction: Direction,
    name: &str,
) -> Result<Output, Failure> {
    let dir = match direction {
        Direction::Input => Dir::Input,
        Direction::Output => Dir::Output,
    };
    client
        .select_device(c::SelectDeviceRequest {
            direction: dir as i32,
            name: name.to_owned(),
        })
        .await?;
    Ok(done(&format!("selected {name}")))
}

/// The new state of an on/off setting that is `now` now.
fn flip(switch: Switch, now: bool) -> bool {
    match switch {
        Switch::On => true,
        Switch::Off => false,
        Switch::Toggle => !now,
    }
}
