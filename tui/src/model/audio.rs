//! The audio settings overlay: the microphone's processing switched on and
//! off, the codec and devices shown.

use voice_proto::pb::control::AudioConfig;

/// A setting of the microphone's processing that the overlay turns on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioSwitch {
    /// Acoustic echo cancellation (what the speakers play, taken out).
    EchoCancellation,
    /// Automatic gain control.
    AutoGain,
    /// Noise suppression.
    NoiseSuppression,
}

impl AudioSwitch {
    /// Every switch, in the overlay's order.
    pub const ALL: [Self; 3] = [
        Self::EchoCancellation,
        Self::AutoGain,
        Self::NoiseSuppression,
    ];

    /// Its name on screen.
    pub fn label(self) -> &'static str {
        match self {
            Self::EchoCancellation => "Echo cancellation",
            Self::AutoGain => "Automatic gain control",
            Self::NoiseSuppression => "Noise suppression",
        }
    }

    /// What it does, in a few words.
    pub fn about(self) -> &'static str {
        match self {
            Self::EchoCancellation => "removes what speakers play; off with a headset",
            Self::AutoGain => "keeps your voice at an even level",
            Self::NoiseSuppression => "takes out steady background noise",
        }
    }

    /// Whether it is on in `config`.
    pub fn is_on(self, config: &AudioConfig) -> bool {
        match self {
            Self::EchoCancellation => config.echo_cancellation,
            Self::AutoGain => config.auto_gain,
            Self::NoiseSuppression => config.noise_suppression,
        }
    }

    /// `config` with this switch flipped.
    pub fn flipped(self, config: &AudioConfig) -> AudioConfig {
        let mut next = config.clone();
        let slot = match self {
            Self::EchoCancellation => &mut next.echo_cancellation,
            Self::AutoGain => &mut next.auto_gain,
            Self::NoiseSuppression => &mut next.noise_suppression,
        };
        *slot = !*slot;
        next
    }
}

/// The audio settings overlay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AudioView {
    /// The highlighted switch (index into [`AudioSwitch::ALL`]).
    pub selected: usize,
}
