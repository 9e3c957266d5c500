//! The Opus encoder with adaptive in-band FEC.

use opusic_c::{
    Application, Bandwidth, Bitrate, Channels, Encoder, FrameDuration, InbandFec, SampleRate,
    Signal,
};

use super::OpusSettings;
use crate::AudioError;

/// The largest packet we produce (a 60 ms frame at 128 kb/s is 960 bytes).
const MAX_PACKET: usize = 1275;

/// The expected-loss setting for a reported loss (percent), or `None` for
/// "no FEC". FEC costs quality on a clean link, so it is off below 0.5 %;
/// above, libopus is told a little more than the listeners see, which
/// measured best (DESIGN §8: expected loss 15 at 5 % and 10 % loss).
pub fn expected_loss_for(reported_loss_percent: f32) -> Option<u8> {
    if !reported_loss_percent.is_finite() || reported_loss_percent < 0.5 {
        return None;
    }
    Some((reported_loss_percent * 2.0 + 5.0).clamp(10.0, 30.0) as u8)
}

/// Encodes 48 kHz mono frames into Opus packets.
pub struct VoiceEncoder {
    inner: Encoder,
    settings: OpusSettings,
    fec: Option<u8>,
    out: Vec<u8>,
}

impl std::fmt::Debug for VoiceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceEncoder")
            .field("settings", &self.settings)
            .field("fec", &self.fec)
            .finish()
    }
}

impl VoiceEncoder {
    /// A VOIP encoder with VBR, the given frame size, bitrate and DTX; FEC off.
    pub fn new(settings: OpusSettings) -> Result<Self, AudioError> {
        settings.validate()?;
        let mut inner = Encoder::new(Channels::Mono, SampleRate::Hz48000, Application::Voip)?;
        inner.set_vbr(true)?;
        inner.set_signal(Signal::Voice)?;
        inner.set_complexity(10)?;
        let mut enc = Self {
            inner,
            settings,
            fec: None,
            out: vec![0; MAX_PACKET],
        };
        enc.apply()?;
        Ok(enc)
    }

    fn apply(&mut self) -> Result<(), AudioError> {
        let s = self.settings;
        self.inner.set_frame_duration(match s.frame_ms {
            10 => FrameDuration::Size10,
            40 => FrameDuration::Size40,
            60 => FrameDuration::Size60,
            _ => FrameDuration::Size20,
        })?;
        self.inner.set_dtx(s.dtx)?;
        match self.fec {
            None => {
                self.inner.set_inband_fec(InbandFec::Off)?;
                self.inner.set_packet_loss(0)?;
                self.inner.set_max_bandwidth(Bandwidth::Full)?;
                self.inner.set_bitrate(Bitrate::Value(s.bitrate))?;
            }
            Some(loss) => {
                // With FEC on, a wideband cap and a target 1/8 higher keep the
                // actual rate near the setting and measured best (DESIGN §8).
                self.inner.set_inband_fec(InbandFec::Mode1)?;
                self.inner.set_packet_loss(loss)?;
                self.inner.set_max_bandwidth(Bandwidth::Wide)?;
                self.inner
                    .set_bitrate(Bitrate::Value((s.bitrate + s.bitrate / 8).min(128_000)))?;
            }
        }
        Ok(())
    }

    /// The current settings.
    pub fn settings(&self) -> OpusSettings {
        self.settings
    }

    /// Changes frame size, bitrate or DTX.
    pub fn set_settings(&mut self, settings: OpusSettings) -> Result<(), AudioError> {
        settings.validate()?;
        self.settings = settings;
        self.apply()
    }

    /// Adapts FEC to the loss the listeners report (percent, 0–100):
    /// off on a clean link, on with a matching expected loss otherwise.
    pub fn set_reported_loss(&mut self, loss_percent: f32) -> Result<(), AudioError> {
        let fec = expected_loss_for(loss_percent);
        if fec != self.fec {
            self.fec = fec;
            self.apply()?;
        }
        Ok(())
    }

    /// The expected loss libopus protects against, if FEC is on.
    pub fn fec_expected_loss(&self) -> Option<u8> {
        self.fec
    }

    /// Samples per frame.
    pub fn frame_samples(&self) -> usize {
        self.settings.frame_samples()
    }

    /// Encodes one frame (exactly [`Self::frame_samples`] samples, ±1.0 range).
    pub fn encode(&mut self, pcm: &[f32]) -> Result<&[u8], AudioError> {
        if pcm.len() != self.frame_samples() {
            return Err(AudioError::InvalidSetting(format!(
                "frame of {} samples, expected {}",
                pcm.len(),
                self.frame_samples()
            )));
        }
        let n = self.inner.encode_float_to_slice(pcm, &mut self.out)?;
        Ok(&self.out[..n])
    }

    /// Forgets the signal history (used at the start of a talk burst).
    pub fn reset(&mut self) -> Result<(), AudioError> {
        self.inner.reset()?;
        self.apply()
    }
}
