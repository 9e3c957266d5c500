//! voiced in this process, on a real control socket in a temp dir.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio::sync::oneshot;
use voice_audio::EngineConfig;
use voice_audio::backend::BackendConfig;
use voiced::audio::{AudioEngine, DeviceAudio, NullAudio};
use voiced::{Daemon, Paths};

use crate::{Client, paths_in};

/// The audio a [`TestDaemon`] plays and records.
#[derive(Debug, Default)]
pub enum Audio {
    /// None: the audio is off.
    #[default]
    Null,
    /// The file backend with a 20 ms playback queue (for quality, not
    /// delay): `input` is the microphone (a WAV file, played from the
    /// daemon's start), `output` the speaker (a WAV file on a wall-clock
    /// timeline); either may be absent.
    Files {
        /// The microphone's WAV file.
        input: Option<PathBuf>,
        /// The speaker's WAV file.
        output: Option<PathBuf>,
    },
    /// An engine the test started itself (its own settings, or its start
    /// instant known).
    Engine(Arc<dyn AudioEngine>),
}

impl Audio {
    fn start(self) -> Arc<dyn AudioEngine> {
        match self {
            Audio::Null => Arc::new(NullAudio::off()),
            Audio::Files { input, output } => Arc::new(
                DeviceAudio::start(EngineConfig {
                    backend: BackendConfig::File { input, output },
                    // 20 ms queued (one device period): with 10 ms (what
                    // `voiced --audio-backend file` uses, for latency
                    // figures) a stall of this shared 2-core machine, which
                    // stops a thread for 10-30 ms a few times a minute,
                    // plays silence mid-speech and costs PESQ.
                    playback_queue: Duration::from_millis(20),
                    ..EngineConfig::default()
                })
                .expect("file audio starts"),
            ),
            Audio::Engine(engine) => engine,
        }
    }
}

/// voiced running in this process, serving its control API on a real
/// socket under [`paths_in`] of a temp dir. Stops when dropped;
/// [`TestDaemon::stop`] waits for it.
pub struct TestDaemon {
    /// Its directories.
    pub paths: Paths,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its engine, for looking inside.
    pub engine: voiced::Engine,
    dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestDaemon {
    /// A daemon with no audio in a temp dir of its own.
    pub async fn start() -> Self {
        Self::start_with_audio(Audio::Null).await
    }

    /// A daemon with this audio in a temp dir of its own.
    pub async fn start_with_audio(audio: Audio) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let paths = paths_in(dir.path());
        Self::start_with(Some(dir), paths, audio).await
    }

    /// A daemon on `paths`, keeping `dir` (if given) until it is dropped:
    /// with what [`TestDaemon::stop`] returned, the same daemon restarted.
    pub async fn start_in(dir: impl Into<Option<TempDir>>, paths: Paths) -> Self {
        Self::start_with(dir.into(), paths, Audio::Null).await
    }

    /// A daemon on `paths` in a dir the caller keeps.
    pub async fn start_at(paths: Paths) -> Self {
        Self::start_with(None, paths, Audio::Null).await
    }

    async fn start_with(dir: Option<TempDir>, paths: Paths, audio: Audio) -> Self {
        let daemon = Daemon::bind_with_audio(paths.clone(), None, audio.start())
            .await
            .expect("the test daemon binds its socket");
        let socket = daemon.socket().to_path_buf();
        let engine = daemon.engine().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            daemon
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the test daemon serves until stopped");
        });
        Self {
            paths,
            socket,
            engine,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A gRPC client of it, over its socket.
    pub async fn client(&self) -> Client {
        voiced_client::connect(&self.socket)
            .await
            .expect("the test daemon answers")
    }

    /// Stops the daemon the way SIGTERM does (it ends open `Watch`
    /// streams), failing the test unless it stops cleanly (a caller that
    /// wants a bound wraps it in a timeout); returns its dir (if it kept
    /// one) and paths for [`TestDaemon::start_in`].
    pub async fn stop(mut self) -> (Option<TempDir>, Paths) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the test daemon stopped cleanly");
        }
        (self.dir.take(), self.paths.clone())
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// voiced on a runtime of its own, so it can die like a process: killing
/// it shuts the runtime down, dropping every task and closing every socket
/// at once (a graceful stop would wait for open `Watch` streams).
pub struct DaemonProcess {
    runtime: Option<tokio::runtime::Runtime>,
}

impl DaemonProcess {
    /// Starts voiced on `paths` (the caller keeps their dir).
    pub fn start(paths: Paths) -> Self {
        // A thread of its own: a runtime cannot be built or blocked on
        // from inside the test's runtime.
        let runtime = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let daemon = runtime
                .block_on(Daemon::bind(paths, None))
                .expect("voiced binds");
            runtime.spawn(daemon.serve(std::future::pending()));
            runtime
        })
        .join()
        .expect("voiced starts");
        Self {
            runtime: Some(runtime),
        }
    }

    /// Kills it: every task dropped, every socket closed.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            std::thread::spawn(move || runtime.shutdown_timeout(Duration::from_secs(5)))
                .join()
                .expect("voiced stops");
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
