//! Audio bots (issue 23): a file played into the room as this user's
//! voice, and a recording of what this daemon hears, which marks the
//! session `recording` in the shared state for everyone to see.

use std::path::{Path, PathBuf};

use voice_audio::media::{
    AudioFile, MediaError, PlayOptions, Player, RecordFormat, RecordOptions, Recorder,
};
use voice_proto::pb::control::{
    MediaEvent, PlayRequest, Playing, RecordRequest, Recording, event, media_event,
};
use voice_proto::pb::wire::{SessionFlags, change::Kind};

use crate::engine::Engine;
use crate::engine::media::with_summary;
use crate::error::Error;
use crate::trust;

/// The loudest `--volume`, in percent.
pub const MAX_VOLUME: u32 = 200;

fn media_error(e: MediaError) -> Error {
    match e {
        MediaError::Open { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::NotFound(e.to_string())
        }
        MediaError::Engine(why) => Error::Failed(why),
        e => Error::Invalid(e.to_string()),
    }
}

fn absolute(path: &str) -> Result<PathBuf, Error> {
    if path.is_empty() {
        return Err(Error::Invalid("name a file".into()));
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Error::Invalid(format!(
            "{path}: give the file's absolute path (voiced does not share your working directory)"
        )));
    }
    Ok(p.to_path_buf())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Failed(format!("the file task failed: {e}")))?
        .map_err(media_error)
}

impl Engine {
    /// Plays a file into the room as this user's voice (instead of what
    /// played): checked and decoded ahead before this answers.
    pub async fn play(&self, request: PlayRequest) -> Result<Playing, Error> {
        let volume = request.volume.unwrap_or(100);
        if volume > MAX_VOLUME {
            return Err(Error::Invalid(format!("volume must be 0..={MAX_VOLUME} %")));
        }
        let path = absolute(&request.path)?;
        let options = PlayOptions {
            repeat: request.repeat,
            gain: volume as f32 / 100.0,
            replace: request.replace,
        };
        let (player, info) = blocking(move || {
            let file = AudioFile::open(&path)?;
            let info = file.info().clone();
            Ok((Player::start(file, options)?, info))
        })
        .await?;
        let playing = Playing {
            path: info.path.display().to_string(),
            format: info.format.into(),
            duration_ms: info.duration_ms.unwrap_or(0),
            sample_rate: info.sample_rate,
            channels: info.channels as u32,
            repeat: request.repeat,
            volume,
            replace: request.replace,
            started_ms: trust::now_ms(),
        };
        let id = self.lock().media.next_id();
        self.inner.audio.play_file(id, player)?;
        self.lock().media.playing = Some((id, playing.clone()));
        tracing::info!(path = %playing.path, format = %playing.format, "playing a file");
        self.media_event(
            media_event::Kind::PlayStarted,
            Some(playing.clone()),
            None,
            "",
        );
        Ok(playing)
    }

    /// Stops the file playing; answers it (`None`: nothing played).
    pub fn stop_playing(&self) -> Option<Playing> {
        self.inner.audio.stop_playing();
        let stopped = self.lock().media.playing.take().map(|(_, p)| p);
        if let Some(p) = &stopped {
            self.media_event(media_event::Kind::PlayEnded, Some(p.clone()), None, "");
        }
        stopped
    }

    /// The engine says a file ended by itself.
    pub(crate) fn play_ended(&self, id: u64, error: Option<String>) {
        let ended = {
            let mut st = self.lock();
            match &st.media.playing {
                Some((current, _)) if *current == id => st.media.playing.take().map(|(_, p)| p),
                _ => None,
            }
        };
        if let Some(p) = ended {
            let error = error.unwrap_or_default();
            self.media_event(media_event::Kind::PlayEnded, Some(p), None, &error);
        }
    }

    /// Starts recording what this daemon hears into a new file and marks
    /// the session as recording.
    pub async fn record(&self, request: RecordRequest) -> Result<Recording, Error> {
        let path = absolute(&request.path)?;
        if let Some((_, r, _)) = &self.lock().media.recording {
            return Err(Error::Invalid(format!(
                "already recording to {}; stop it first (`voicectl record --stop`)",
                r.path
            )));
        }
        let format = RecordFormat::from_path(&path).map_err(media_error)?;
        let options = RecordOptions {
            overwrite: request.overwrite,
            ..RecordOptions::default()
        };
        let recorder = {
            let path = path.clone();
            blocking(move || Recorder::create(&path, options)).await?
        };
        let meter = recorder.meter();
        let recording = Recording {
            path: path.display().to_string(),
            format: format.name().into(),
            started_ms: trust::now_ms(),
            duration_ms: 0,
            bytes: 0,
            limit_ms: options.limit.as_millis() as u64,
        };
        let id = {
            let mut st = self.lock();
            if st.media.recording.is_some() {
                return Err(Error::Invalid("already recording".into()));
            }
            let id = st.media.next_id();
            st.media.recording = Some((id, recording.clone(), meter));
            id
        };
        if let Err(e) = self.inner.audio.record(id, recorder) {
            self.lock().media.recording = None;
            return Err(e);
        }
        tracing::info!(path = %recording.path, "recording");
        self.media_event(
            media_event::Kind::RecordStarted,
            None,
            Some(recording.clone()),
            "",
        );
        self.propose_recording(true).await;
        Ok(recording)
    }

    /// Stops the recording, finishes its file and clears the mark; answers
    /// it (`None`: there was none).
    pub async fn stop_recording(&self) -> Result<Option<Recording>, Error> {
        let Some((_, recording, meter)) = self.lock().media.recording.take() else {
            return Ok(None);
        };
        let audio = self.inner.audio.clone();
        let finished = blocking(move || match audio.stop_recording() {
            Some(r) => r.finish().map(Some),
            None => Ok(None),
        })
        .await;
        let summary = match &finished {
            Ok(Some(s)) => s.clone(),
            _ => meter.progress(),
        };
        let recording = with_summary(recording, &summary);
        let error = finished
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.media_event(
            media_event::Kind::RecordEnded,
            None,
            Some(recording.clone()),
            &error,
        );
        self.propose_recording(false).await;
        finished?;
        Ok(Some(recording))
    }

    /// The engine says a recording stopped by itself (its budget, an error).
    pub(crate) async fn record_ended(
        &self,
        id: u64,
        summary: voice_audio::media::RecordSummary,
        error: String,
    ) {
        let ended = {
            let mut st = self.lock();
            match &st.media.recording {
                Some((current, _, _)) if *current == id => st.media.recording.take(),
                _ => None,
            }
        };
        if let Some((_, r, _)) = ended {
            tracing::warn!(path = %r.path, "recording stopped: {error}");
            let r = with_summary(r, &summary);
            self.media_event(media_event::Kind::RecordEnded, None, Some(r), &error);
            self.propose_recording(false).await;
        }
    }

    /// Marks or unmarks this session as recording in the shared state (when
    /// connected; a login restores it, see `install`).
    async fn propose_recording(&self, on: bool) {
        if self.lock().link.is_none() {
            return;
        }
        let r = self
            .propose(move |_, me| {
                Ok(Kind::SetSessionFlags(SessionFlags {
                    session: me,
                    recording: Some(on),
                    ..Default::default()
                }))
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, recording = on, "cannot mark the session as recording");
        }
    }

    fn media_event(
        &self,
        kind: media_event::Kind,
        playing: Option<Playing>,
        recording: Option<Recording>,
        error: &str,
    ) {
        self.emit(event::Kind::Media(MediaEvent {
            kind: kind as i32,
            playing: playing.map(Box::new),
            recording: recording.map(Box::new),
            error: error.to_owned(),
        }));
        self.emit_status();
    }
}
