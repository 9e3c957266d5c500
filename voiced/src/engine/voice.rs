//! Between the audio engine and the connection: sends the engine's packets,
//! turns its events into `Watch` events, reports what this listener loses
//! to each speaker, and feeds the loss this user's listeners report back to
//! the encoder (adaptive FEC, DESIGN §8).

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use voice_audio::{AudioEvent, Speaker};
use voice_proto::pb::control::{DeviceEvent, InputLevel, Talking, event};
use voice_proto::pb::wire::{ReceptionReport, client_msg};

use super::{Engine, Inner};
use crate::audio::AudioOutput;
use crate::trust;

/// Listener reports count this long; without reports the sender's FEC
/// goes back off after it.
const REPORT_WINDOW: Duration = Duration::from_secs(3);

/// Loss reports from this user's listeners, as the server forwards them.
#[derive(Debug, Default)]
pub(crate) struct ListenerReports {
    recent: VecDeque<(Instant, u32)>,
    applied: Option<u32>,
}

impl ListenerReports {
    /// The worst loss (permille) reported within the window, after dropping
    /// older reports.
    fn worst(&mut self, now: Instant) -> u32 {
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > REPORT_WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.iter().map(|(_, l)| *l).max().unwrap_or(0)
    }

    /// The figure to hand to the encoder when it changed.
    fn changed(&mut self, now: Instant) -> Option<u32> {
        let worst = self.worst(now);
        (self.applied != Some(worst)).then(|| {
            self.applied = Some(worst);
            worst
        })
    }
}

impl Engine {
    /// Starts forwarding what the audio engine produces (once; the daemon
    /// calls it after binding). Must run inside a tokio runtime.
    pub fn attach_audio(&self) {
        let Some(rx) = self.inner.audio.take_output() else {
            return;
        };
        tokio::spawn(pump(Arc::downgrade(&self.inner), rx));
    }

    /// Stops the audio devices (the file backend finishes its output).
    pub fn stop_audio(&self) {
        self.inner.audio.stop();
    }

    /// Sends one voice packet (for the audio engine). Dropped silently when
    /// not connected: stale voice is never queued.
    pub fn send_voice(&self, seq: u32, opus: &[u8], end_of_burst: bool) {
        let Some(link) = self.lock().link.clone() else {
            return;
        };
        let mut buf = Vec::with_capacity(opus.len() + 6);
        let flags = if end_of_burst {
            voice_proto::voice::FLAG_END_OF_BURST
        } else {
            0
        };
        voice_proto::voice::encode_client(&mut buf, flags, seq, opus);
        if let Err(e) = link.conn.send_datagram(buf.into()) {
            tracing::trace!(error = %e, "voice packet not sent");
        }
    }

    /// A listener's loss report arrived from the server.
    pub(crate) fn listener_loss(&self, permille: u32) {
        let now = Instant::now();
        let changed = {
            let mut st = self.lock();
            st.listener_reports
                .recent
                .push_back((now, permille.min(1000)));
            if st.listener_reports.recent.len() > 256 {
                st.listener_reports.recent.pop_front();
            }
            st.listener_reports.changed(now)
        };
        if let Some(l) = changed {
            self.inner.audio.set_reported_loss(l as f32 / 10.0);
        }
    }

    fn expire_listener_reports(&self) {
        let changed = self.lock().listener_reports.changed(Instant::now());
        if let Some(l) = changed {
            self.inner.audio.set_reported_loss(l as f32 / 10.0);
        }
    }

    async fn audio_event(&self, e: AudioEvent, transmitting: &mut bool) {
        match e {
            AudioEvent::InputLevel {
                dbfs,
                voice_probability,
            } => self.emit(event::Kind::Level(InputLevel {
                dbfs,
                voice: voice_probability,
                transmitting: *transmitting,
            })),
            AudioEvent::Talking {
                speaker: Speaker::Local,
                talking,
            } => {
                *transmitting = talking;
                let session = self.lock().link.as_ref().map_or(0, |l| l.session_id);
                self.emit(event::Kind::Talking(Talking { session, talking }));
            }
            // Remote talking comes from the datagrams themselves (readers),
            // so it is reported even without audio.
            AudioEvent::Talking { .. } => {}
            AudioEvent::DeviceLost { .. }
            | AudioEvent::DeviceInUse { .. }
            | AudioEvent::DeviceStalled { .. }
            | AudioEvent::DeviceResumed { .. } => {
                let event = self.lock().devices.apply(&e, trust::now_ms());
                if let Some(event) = event {
                    self.device(event);
                }
            }
            AudioEvent::InputFinished => self.device(DeviceEvent {
                message: "input file played to its end".into(),
                problem: None,
            }),
            AudioEvent::OutputRunning => tracing::debug!("output device running"),
            AudioEvent::PlayEnded { id, error } => self.play_ended(id, error),
            AudioEvent::RecordEnded { id, summary, error } => {
                self.record_ended(id, summary, error).await;
            }
            AudioEvent::ReceiveLoss { percent, speakers } => {
                let link = {
                    let mut st = self.lock();
                    st.receive_loss_permille = (percent * 10.0).round().clamp(0.0, 1000.0) as u32;
                    st.link.clone()
                };
                let Some(link) = link else { return };
                for (speaker, p) in speakers {
                    let report = ReceptionReport {
                        speaker,
                        loss_permille: (p * 10.0).round().clamp(0.0, 1000.0) as u32,
                    };
                    if let Err(e) = link.send_control(client_msg::Msg::Reception(report)).await {
                        tracing::debug!(error = %e, "reception report not sent");
                        return;
                    }
                }
            }
        }
    }

    fn device(&self, event: DeviceEvent) {
        if event.problem.is_some() {
            tracing::warn!("{}", event.message);
        } else {
            tracing::info!("{}", event.message);
        }
        self.emit(event::Kind::Device(event));
    }
}

/// Runs until the audio engine stops or the client engine is dropped.
async fn pump(weak: Weak<Inner>, mut rx: mpsc::Receiver<AudioOutput>) {
    let mut transmitting = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let out = tokio::select! {
            out = rx.recv() => out,
            _ = tick.tick() => {
                let Some(inner) = weak.upgrade() else { return };
                Engine { inner }.expire_listener_reports();
                continue;
            }
        };
        let Some(out) = out else { return };
        let Some(inner) = weak.upgrade() else { return };
        let engine = Engine { inner };
        match out {
            AudioOutput::Packet(p) => engine.send_voice(p.seq, &p.opus, p.end_of_burst),
            AudioOutput::Event(e) => engine.audio_event(e, &mut transmitting).await,
        }
    }
}
