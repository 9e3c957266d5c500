//! The Opus decoder with FEC recovery and packet loss concealment.

use opusic_c::{Channels, Decoder, SampleRate};

use crate::AudioError;

/// Decoder complexity 7 turns on libopus 1.5's deep PLC and NoLACE
/// (features `dred` and `osce`); the library default 0 conceals far worse.
const DECODER_COMPLEXITY: u8 = 7;

/// Decodes one speaker's packets to 48 kHz mono.
pub struct VoiceDecoder {
    inner: Decoder,
}

impl std::fmt::Debug for VoiceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceDecoder").finish_non_exhaustive()
    }
}

impl VoiceDecoder {
    /// A 48 kHz mono decoder at complexity 7.
    pub fn new() -> Result<Self, AudioError> {
        let mut inner = Decoder::new(Channels::Mono, SampleRate::Hz48000)?;
        inner.set_complexity(DECODER_COMPLEXITY)?;
        Ok(Self { inner })
    }

    /// Samples (per channel at 48 kHz) that `packet` decodes to.
    pub fn packet_samples(&self, packet: &[u8]) -> Result<usize, AudioError> {
        Ok(self.inner.get_nb_samples(packet)?)
    }

    /// Decodes a packet into `out` (at least 5,760 samples); returns the count.
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, AudioError> {
        Ok(self.inner.decode_float_to_slice(packet, out, false)?)
    }

    /// Recovers a lost frame of `samples` from the FEC data in the packet
    /// that follows it (PLC if that packet carries none).
    pub fn recover(
        &mut self,
        next_packet: &[u8],
        samples: usize,
        out: &mut [f32],
    ) -> Result<usize, AudioError> {
        let out = out.get_mut(..samples).ok_or(AudioError::Opus("buffer"))?;
        Ok(self.inner.decode_float_to_slice(next_packet, out, true)?)
    }

    /// Conceals a lost frame of `samples`.
    pub fn conceal(&mut self, samples: usize, out: &mut [f32]) -> Result<usize, AudioError> {
        let out = out.get_mut(..samples).ok_or(AudioError::Opus("buffer"))?;
        Ok(self.inner.decode_float_to_slice(&[], out, false)?)
    }

    /// Forgets the signal history (a new burst).
    pub fn reset(&mut self) -> Result<(), AudioError> {
        Ok(self.inner.reset()?)
    }
}
