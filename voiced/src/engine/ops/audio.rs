//! Voice settings: self-mute and deafen (also in the shared state),
//! push-to-talk, transmission mode, codec settings, devices, and the
//! volume and local mute of other users.

use voice_proto::pb::control::{AudioConfig, DevicesReply, VoiceMode};
use voice_proto::pb::wire::{SessionFlags, change::Kind};

use crate::engine::{Engine, resolve};
use crate::error::Error;

impl Engine {
    async fn push_flags(&self) -> Result<(), Error> {
        let (mute, deaf) = {
            let st = self.lock();
            (st.voice.muted(), st.voice.deaf)
        };
        self.apply_audio();
        if self.lock().link.is_none() {
            // Applied at the next login.
            return Ok(());
        }
        self.propose(move |_, me| {
            Ok(Kind::SetSessionFlags(SessionFlags {
                session: me,
                self_mute: Some(mute),
                self_deaf: Some(deaf),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    fn apply_audio(&self) {
        let v = self.lock().voice.clone();
        self.inner
            .audio
            .set_transmit(v.mode, v.ptt_pressed, v.muted());
        self.inner.audio.set_deaf(v.deaf);
    }

    /// Mutes or unmutes myself.
    pub async fn set_mute(&self, on: bool) -> Result<(), Error> {
        self.lock().voice.mute = on;
        self.push_flags().await?;
        self.emit_status();
        Ok(())
    }

    /// Deafens or undeafens myself (deafened implies muted).
    pub async fn set_deaf(&self, on: bool) -> Result<(), Error> {
        self.lock().voice.deaf = on;
        self.push_flags().await?;
        self.emit_status();
        Ok(())
    }

    /// Push-to-talk key pressed or released.
    pub fn push_to_talk(&self, pressed: bool) {
        self.lock().voice.ptt_pressed = pressed;
        self.apply_audio();
    }

    /// Sets the transmission mode.
    pub fn set_voice_mode(&self, mode: VoiceMode) -> Result<(), Error> {
        if mode == VoiceMode::Unspecified {
            return Err(Error::Invalid("choose vad, ptt or continuous".into()));
        }
        {
            let mut st = self.lock();
            st.voice.mode = mode;
            st.voice.audio.voice_mode = mode as i32;
        }
        self.apply_audio();
        self.emit_status();
        Ok(())
    }

    /// The codec and device settings.
    pub fn audio_settings(&self) -> AudioConfig {
        self.lock().voice.audio.clone()
    }

    /// Changes codec and device settings (checked).
    pub fn set_audio_settings(&self, c: AudioConfig) -> Result<AudioConfig, Error> {
        if !(6000..=128_000).contains(&c.bitrate) {
            return Err(Error::Invalid("bitrate must be 6000..=128000 b/s".into()));
        }
        if ![10, 20, 40, 60].contains(&c.frame_ms) {
            return Err(Error::Invalid("frame must be 10, 20, 40 or 60 ms".into()));
        }
        if !(0.0..=1.0).contains(&c.vad_threshold) {
            return Err(Error::Invalid("vad threshold must be 0.0..=1.0".into()));
        }
        let mode = VoiceMode::try_from(c.voice_mode).unwrap_or(VoiceMode::VoiceActivity);
        // Devices named in the settings are chosen like `SelectDevice`.
        let (input, output) = {
            let st = self.lock();
            (
                st.voice.audio.input_device.clone(),
                st.voice.audio.output_device.clone(),
            )
        };
        if c.input_device != input {
            self.select_device(true, &c.input_device)?;
        }
        if c.output_device != output {
            self.select_device(false, &c.output_device)?;
        }
        self.inner.audio.set_codec(&c)?;
        {
            let mut st = self.lock();
            st.voice.audio = c.clone();
            st.voice.mode = if mode == VoiceMode::Unspecified {
                VoiceMode::VoiceActivity
            } else {
                mode
            };
        }
        self.apply_audio();
        Ok(c)
    }

    /// Audio devices (from the audio engine).
    pub fn devices(&self) -> Result<DevicesReply, Error> {
        self.inner.audio.devices()
    }

    /// Selects an audio device.
    pub fn select_device(&self, input: bool, name: &str) -> Result<(), Error> {
        let name = (!name.is_empty()).then_some(name);
        self.inner.audio.select_device(input, name)?;
        let mut st = self.lock();
        let slot = if input {
            &mut st.voice.audio.input_device
        } else {
            &mut st.voice.audio.output_device
        };
        *slot = name.unwrap_or_default().to_owned();
        Ok(())
    }

    fn user_key(&self, user: &str) -> Result<(u32, String), Error> {
        self.with_state(|s, _| {
            let id = resolve::user(s, user)?;
            let key = s
                .session(id)
                .map(|x| voice_proto::hash::hex(&x.public_key))
                .unwrap_or_default();
            Ok((id, key))
        })
    }

    /// Sets a user's playback volume (linear gain 0..=4).
    pub fn set_user_volume(&self, user: &str, gain: f32) -> Result<(), Error> {
        if !(0.0..=4.0).contains(&gain) {
            return Err(Error::Invalid("volume must be 0..=400 %".into()));
        }
        let (id, key) = self.user_key(user)?;
        let muted = {
            let mut st = self.lock();
            st.voice.volumes.insert(key.clone(), gain);
            st.voice.local_mutes.get(&key).copied().unwrap_or(false)
        };
        self.inner.audio.set_user_gain(id, gain, muted);
        Ok(())
    }

    /// Mutes a user for me only.
    pub fn set_user_local_mute(&self, user: &str, mute: bool) -> Result<(), Error> {
        let (id, key) = self.user_key(user)?;
        let gain = {
            let mut st = self.lock();
            st.voice.local_mutes.insert(key.clone(), mute);
            st.voice.volumes.get(&key).copied().unwrap_or(1.0)
        };
        self.inner.audio.set_user_gain(id, gain, mute);
        Ok(())
    }
}
