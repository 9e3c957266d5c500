//! My voice and what I hear: `mute`, `deafen`, `ptt`, `voice-mode`, `volume`,
//! `local-mute`, `devices`, `device`, `audio` and `audio set`.

use serde_json::{Value, json};
use voice_proto::pb::control::{self as c, select_device_request::Direction as Dir};
use voiced_client::names::voice_mode_name;
use voiced_client::text::printable;

use super::{Client, Failure, Output, daemon_status, done, out};
use crate::cli::{AudioChanges, Direction, Key, Mode, Switch};

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

/// `voicectl audio`: the audio settings in force.
pub async fn settings(client: &mut Client) -> Result<Output, Failure> {
    let config = client.audio_settings(c::Empty {}).await?.into_inner();
    Ok(settings_output(&config))
}

/// `voicectl audio set …`: reads the settings, changes those given and
/// writes them back (voiced checks them and answers with what is in force).
pub async fn set_settings(client: &mut Client, changes: &AudioChanges) -> Result<Output, Failure> {
    let mut config = client.audio_settings(c::Empty {}).await?.into_inner();
    let switch = |now: &mut bool, switch: Option<Switch>| {
        if let Some(s) = switch {
            *now = flip(s, *now);
        }
    };
    switch(&mut config.echo_cancellation, changes.echo_cancellation);
    switch(&mut config.auto_gain, changes.auto_gain);
    switch(&mut config.noise_suppression, changes.noise_suppression);
    config.bitrate = changes.bitrate.unwrap_or(config.bitrate);
    config.frame_ms = changes.frame_ms.unwrap_or(config.frame_ms);
    config.vad_threshold = changes.vad_threshold.unwrap_or(config.vad_threshold);
    let config = client.set_audio_settings(config).await?.into_inner();
    Ok(settings_output(&config))
}

/// The settings for people (one `name: value` a line) and for scripts
/// (the proto's field names; an empty device is the default one).
fn settings_output(a: &c::AudioConfig) -> Output {
    let on = |b: bool| if b { "on" } else { "off" };
    let device = |name: &str| {
        if name.is_empty() {
            "default".to_owned()
        } else {
            printable(name).into_owned()
        }
    };
    let text = format!(
        "voice mode: {}\nbitrate: {} b/s\nframe: {} ms\nvad threshold: {}\n\
         noise suppression: {}\necho cancellation: {}\nauto gain: {}\n\
         input device: {}\noutput device: {}\n",
        voice_mode_name(a.voice_mode),
        a.bitrate,
        a.frame_ms,
        a.vad_threshold,
        on(a.noise_suppression),
        on(a.echo_cancellation),
        on(a.auto_gain),
        device(&a.input_device),
        device(&a.output_device),
    );
    // 0.3f32 as 0.3, not 0.30000001192092896: its shortest form, read as f64.
    let threshold = a
        .vad_threshold
        .to_string()
        .parse::<f64>()
        .unwrap_or(f64::from(a.vad_threshold));
    out(
        text,
        json!({
            "voice_mode": voice_mode_name(a.voice_mode),
            "bitrate": a.bitrate,
            "frame_ms": a.frame_ms,
            "vad_threshold": threshold,
            "noise_suppression": a.noise_suppression,
            "echo_cancellation": a.echo_cancellation,
            "auto_gain": a.auto_gain,
            "input_device": a.input_device,
            "output_device": a.output_device,
        }),
    )
}

/// The new state of an on/off setting that is `now` now.
fn flip(switch: Switch, now: bool) -> bool {
    match switch {
        Switch::On => true,
        Switch::Off => false,
        Switch::Toggle => !now,
    }
}
