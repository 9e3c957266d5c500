//! Ogg Opus files (RFC 7845): the `ogg` crate's demuxer and libopus.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use opusic_c::{Channels, Decoder, SampleRate};

use super::MediaError;
use super::file::{Decode, FileInfo, downmix};

/// The most samples per channel one Opus packet decodes to (120 ms).
const MAX_PACKET_SAMPLES: usize = 5760;
/// Damaged packets in a row after which the file counts as corrupt.
const BAD_PACKETS_IN_A_ROW: u32 = 32;

pub(crate) struct OggOpusDecoder {
    path: PathBuf,
    reader: ogg::PacketReader<BufReader<File>>,
    serial: u32,
    decoder: Decoder,
    channels: usize,
    /// Samples still to drop at the start (the encoder's delay).
    skip: usize,
    pre_skip: u64,
    /// Samples handed out so far, after the pre-skip.
    emitted: u64,
    pcm: Vec<f32>,
    mono: Vec<f32>,
    bad_in_a_row: u32,
    ended: bool,
}

fn corrupt(path: &Path, why: impl Into<String>) -> MediaError {
    MediaError::Corrupt {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

pub(crate) fn open(path: &Path) -> Result<(FileInfo, OggOpusDecoder), MediaError> {
    let file = File::open(path).map_err(|source| MediaError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = ogg::PacketReader::new(BufReader::new(file));
    let head = reader
        .read_packet()
        .map_err(|e| corrupt(path, format!("Ogg: {e}")))?
        .ok_or_else(|| corrupt(path, "no Opus header"))?;
    let serial = head.stream_serial();
    let h = &head.data;
    if h.len() < 19 || &h[..8] != b"OpusHead" {
        return Err(corrupt(path, "no Opus header"));
    }
    if h[8] >> 4 != 0 {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            why: format!("Ogg Opus version {}", h[8]),
        });
    }
    let channels = usize::from(h[9]);
    let pre_skip = u64::from(u16::from_le_bytes([h[10], h[11]]));
    let input_rate = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    let mapping = h[18];
    if mapping != 0 || !(1..=2).contains(&channels) {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            why: format!(
                "Ogg Opus with {channels} channels in mapping family {mapping} (mono and stereo are supported)"
            ),
        });
    }
    let tags = reader
        .read_packet()
        .map_err(|e| corrupt(path, format!("Ogg: {e}")))?
        .ok_or_else(|| corrupt(path, "no Opus tags"))?;
    if !tags.data.starts_with(b"OpusTags") {
        return Err(corrupt(path, "no Opus tags after the header"));
    }
    let decoder = Decoder::new(
        if channels == 2 {
            Channels::Stereo
        } else {
            Channels::Mono
        },
        SampleRate::Hz48000,
    )
    .map_err(|e| MediaError::Engine(format!("opus decoder: {}", e.message())))?;
    let info = FileInfo {
        path: path.to_path_buf(),
        format: "Ogg Opus",
        // Opus always decodes at 48 kHz; the header's rate is the original's.
        sample_rate: 48_000,
        channels,
        duration_ms: None,
    };
    tracing::debug!(input_rate, pre_skip, "Ogg Opus file");
    Ok((
        info,
        OggOpusDecoder {
            path: path.to_path_buf(),
            reader,
            serial,
            decoder,
            channels,
            skip: pre_skip as usize,
            pre_skip,
            emitted: 0,
            pcm: vec![0.0; MAX_PACKET_SAMPLES * channels],
            mono: Vec::with_capacity(MAX_PACKET_SAMPLES),
            bad_in_a_row: 0,
            ended: false,
        },
    ))
}

impl Decode for OggOpusDecoder {
    fn next(&mut self, out: &mut Vec<f32>) -> Result<bool, MediaError> {
        loop {
            if self.ended {
                return Ok(false);
            }
            let packet = match self.reader.read_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(e) => return Err(corrupt(&self.path, format!("Ogg: {e}"))),
            };
            if packet.stream_serial() != self.serial {
                continue;
            }
            let last = packet.last_in_stream();
            self.ended = last;
            let n = match self
                .decoder
                .decode_float_to_slice(&packet.data, &mut self.pcm, false)
            {
                Ok(n) => {
                    self.bad_in_a_row = 0;
                    n
                }
                Err(e) => {
                    self.bad_in_a_row += 1;
                    if self.bad_in_a_row >= BAD_PACKETS_IN_A_ROW {
                        return Err(corrupt(
                            &self.path,
                            format!(
                                "{BAD_PACKETS_IN_A_ROW} damaged Opus packets in a row ({})",
                                e.message()
                            ),
                        ));
                    }
                    continue;
                }
            };
            self.mono.clear();
            downmix(
                &self.pcm[..n * self.channels],
                self.channels,
                &mut self.mono,
            );
            let mut from = self.skip.min(self.mono.len());
            self.skip -= from;
            let mut to = self.mono.len();
            if last {
                // The last page's granule position ends the stream exactly
                // (the final packet is padded).
                let total = packet.absgp_page().saturating_sub(self.pre_skip);
                let allowed = total.saturating_sub(self.emitted) as usize;
                to = to.min(from + allowed);
                from = from.min(to);
            }
            out.extend_from_slice(&self.mono[from..to]);
            self.emitted += (to - from) as u64;
            return Ok(true);
        }
    }
}
