//! Writes 48 kHz mono as an Ogg Opus file (RFC 7845).

use std::io::Write;

use ogg::{PacketWriteEndInfo, PacketWriter};
use opusic_c::{Application, Bitrate, Channels, Encoder, SampleRate};

/// 20 ms frames.
const FRAME: usize = 960;
/// Packets per Ogg page (a page a second keeps the file readable while
/// it is written).
const PAGE_PACKETS: u32 = 50;
/// Music-grade mono.
const BITRATE: u32 = 64_000;

/// An Ogg Opus stream being written.
pub(crate) struct OggOpusWriter<W: Write> {
    packets: PacketWriter<'static, W>,
    encoder: Encoder,
    serial: u32,
    pre_skip: u64,
    pending: Vec<f32>,
    /// Samples taken in (the stream's length).
    samples: u64,
    /// Samples encoded so far, with the pre-skip (granule positions).
    encoded: u64,
    in_page: u32,
    /// The last packet, held back so that the final one ends the stream.
    held: Option<(Vec<u8>, u64)>,
    buf: Vec<u8>,
}

fn opus_err(e: opusic_c::ErrorCode) -> std::io::Error {
    std::io::Error::other(format!("opus: {}", e.message()))
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the headers to `out`.
    pub(crate) fn new(out: W) -> std::io::Result<Self> {
        let mut encoder = Encoder::new(Channels::Mono, SampleRate::Hz48000, Application::Audio)
            .map_err(opus_err)?;
        encoder
            .set_bitrate(Bitrate::Value(BITRATE))
            .map_err(opus_err)?;
        let pre_skip = u64::from(encoder.get_look_ahead().map_err(opus_err)?);
        let serial = fastrand_serial();
        let mut packets = PacketWriter::new(out);
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(1);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        packets.write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)?;
        let vendor = b"voiced";
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        packets.write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)?;
        Ok(Self {
            packets,
            encoder,
            serial,
            pre_skip,
            pending: Vec::with_capacity(FRAME * 2),
            samples: 0,
            encoded: 0,
            in_page: 0,
            held: None,
            buf: vec![0; 4000],
        })
    }

    /// The writer underneath.
    pub(crate) fn output(&self) -> &W {
        self.packets.inner()
    }

    /// Appends samples.
    pub(crate) fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        self.samples += samples.len() as u64;
        self.pending.extend_from_slice(samples);
        let mut at = 0;
        while self.pending.len() - at >= FRAME {
            let frame: Vec<f32> = self.pending[at..at + FRAME].to_vec();
            self.encode(&frame)?;
            at += FRAME;
        }
        self.pending.drain(..at);
        Ok(())
    }

    fn encode(&mut self, frame: &[f32]) -> std::io::Result<()> {
        let n = self
            .encoder
            .encode_float_to_slice(frame, &mut self.buf)
            .map_err(opus_err)?;
        self.encoded += FRAME as u64;
        let packet = self.buf[..n].to_vec();
        if let Some((p, granule)) = self.held.replace((packet, self.encoded)) {
            self.in_page += 1;
            let end = if self.in_page >= PAGE_PACKETS {
                self.in_page = 0;
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.packets.write_packet(p, self.serial, end, granule)?;
        }
        Ok(())
    }

    /// Flushes the encoder's delay, ends the stream at its exact length and
    /// hands back the writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        // The encoder's look-ahead: without these the last samples stay inside it.
        let tail = vec![0.0; self.pre_skip as usize];
        let real = self.samples;
        self.write(&tail)?;
        if !self.pending.is_empty() || self.held.is_none() {
            let mut frame = std::mem::take(&mut self.pending);
            frame.resize(FRAME, 0.0);
            self.encode(&frame)?;
        }
        if let Some((p, _)) = self.held.take() {
            self.packets.write_packet(
                p,
                self.serial,
                PacketWriteEndInfo::EndStream,
                self.pre_skip + real,
            )?;
        }
        Ok(self.packets.into_inner())
    }
}

/// A stream serial number that differs between files.
fn fastrand_serial() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}
