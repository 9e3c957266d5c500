//! WAV, FLAC, Ogg Vorbis and MP3 through `symphonia`.

use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CODEC_TYPE_FLAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_NULL,
    CODEC_TYPE_VORBIS, CodecType, Decoder, DecoderOptions,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::MediaError;
use super::file::{Decode, FileInfo, downmix};

/// Damaged packets in a row after which the file counts as corrupt (a few
/// are skipped: a damaged frame in an MP3 is common and harmless).
const BAD_PACKETS_IN_A_ROW: u32 = 32;

pub(crate) struct SymphoniaDecoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    channels: usize,
    samples: Option<SampleBuffer<f32>>,
    bad_in_a_row: u32,
}

fn format_name(codec: CodecType) -> Option<&'static str> {
    Some(match codec {
        CODEC_TYPE_FLAC => "FLAC",
        CODEC_TYPE_VORBIS => "Ogg Vorbis",
        CODEC_TYPE_MP3 | CODEC_TYPE_MP2 | CODEC_TYPE_MP1 => "MP3",
        c => {
            let short = symphonia::default::get_codecs().get_codec(c)?.short_name;
            if short.starts_with("pcm") || short.starts_with("adpcm") {
                "WAV"
            } else {
                return None;
            }
        }
    })
}

fn corrupt(path: &Path, e: &SymphoniaError) -> MediaError {
    MediaError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

pub(crate) fn open(path: &Path) -> Result<(FileInfo, SymphoniaDecoder), MediaError> {
    let file = std::fs::File::open(path).map_err(|source| MediaError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => MediaError::Unsupported {
                path: path.to_path_buf(),
                why: "not a recognised audio format".into(),
            },
            e => corrupt(path, &e),
        })?;
    let format = probed.format;
    let Some(track) = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
    else {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            why: "no audio track".into(),
        });
    };
    let params = &track.codec_params;
    let Some(name) = format_name(params.codec) else {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            why: "an audio codec voiced does not decode".into(),
        });
    };
    let decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|e| MediaError::Unsupported {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    let sample_rate = params.sample_rate.unwrap_or(0);
    let channels = params.channels.map_or(0, |c| c.count());
    let duration_ms = match (params.n_frames, sample_rate) {
        (Some(n), r) if r > 0 => Some(n.saturating_mul(1000) / u64::from(r)),
        _ => None,
    };
    let info = FileInfo {
        path: path.to_path_buf(),
        format: name,
        sample_rate,
        channels,
        duration_ms,
    };
    let track = track.id;
    Ok((
        info,
        SymphoniaDecoder {
            path: path.to_path_buf(),
            format,
            decoder,
            track,
            channels,
            samples: None,
            bad_in_a_row: 0,
        },
    ))
}

impl Decode for SymphoniaDecoder {
    fn next(&mut self, out: &mut Vec<f32>) -> Result<bool, MediaError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(corrupt(&self.path, &e)),
            };
            if packet.track_id() != self.track {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    self.bad_in_a_row = 0;
                    let spec = *buf.spec();
                    // The channel count is the file's; a stream that changes it
                    // midway is damaged.
                    if spec.channels.count() != self.channels {
                        return Err(MediaError::Corrupt {
                            path: self.path.clone(),
                            why: "the channel count changes within the file".into(),
                        });
                    }
                    let frames = buf.capacity() as u64;
                    let samples = match self.samples.as_mut() {
                        Some(s) if s.capacity() as u64 >= frames * spec.channels.count() as u64 => {
                            s
                        }
                        _ => self.samples.insert(SampleBuffer::new(frames, spec)),
                    };
                    samples.copy_interleaved_ref(buf);
                    downmix(samples.samples(), self.channels, out);
                    return Ok(true);
                }
                Err(SymphoniaError::DecodeError(why)) => {
                    self.bad_in_a_row += 1;
                    if self.bad_in_a_row >= BAD_PACKETS_IN_A_ROW {
                        return Err(MediaError::Corrupt {
                            path: self.path.clone(),
                            why: format!("{BAD_PACKETS_IN_A_ROW} damaged packets in a row ({why})"),
                        });
                    }
                    tracing::debug!(path = %self.path.display(), why, "damaged packet skipped");
                }
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(corrupt(&self.path, &e)),
            }
        }
    }
}
