//! The audio settings overlay (`o`): echo cancellation, automatic gain and
//! noise suppression switched from it, through the real link to a real
//! voiced whose settings are then asked for over gRPC; and the overlay's
//! keys against voiced's answers and refusals.

use std::time::Duration;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use voice_proto::pb::control::{AudioConfig, Empty};
use voice_testkit::TestDaemon;
use voice_tui::link::run_link;
use voice_tui::model::{AudioView, DaemonLink, Modal};
use voice_tui::update::AUDIO_KEY;
use voice_tui::{Action, App, Command, update};
use voiced_client::command::Answer;
use voiced_client::link::Report;

use crate::fixtures::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// Generous: the machine is loaded; this bounds a hang, it times nothing.
const PATIENCE: Duration = Duration::from_secs(60);

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal.backend().to_string()
}

/// The TUI's model wired to a real voiced through the real link: what the
/// link reports goes through `update`, and the calls `update` makes go to
/// the link, as in the terminal loop.
struct Wired {
    app: App,
    inbox: mpsc::UnboundedReceiver<Action>,
    calls: mpsc::UnboundedSender<Command>,
    daemon: TestDaemon,
    rt: tokio::runtime::Runtime,
}

impl Wired {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let daemon = rt.block_on(TestDaemon::start());
        let (actions, inbox) = mpsc::unbounded_channel();
        let (calls, outbox) = mpsc::unbounded_channel();
        rt.spawn(run_link(daemon.socket.clone(), actions, outbox));
        // The socket's path shows only in the help; a fixed one keeps the
        // snapshots stable.
        let mut w = Self {
            app: App::new("/run/user/1000/voiced.sock"),
            inbox,
            calls,
            daemon,
            rt,
        };
        w.until("voiced reached", |app| app.mirror.daemon == DaemonLink::Up);
        w
    }

    /// Feeds one action to `update` and its calls to the link.
    fn act(&mut self, action: Action) {
        for call in update(&mut self.app, action) {
            self.calls.send(call).expect("the link takes calls");
        }
    }

    /// Feeds what the link reports until `done` holds.
    fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        while !done(&self.app) {
            let inbox = &mut self.inbox;
            let action = self
                .rt
                .block_on(async { tokio::time::timeout(PATIENCE, inbox.recv()).await })
                .unwrap_or_else(|_| panic!("waiting for {what}: the link went quiet"))
                .expect("the link stopped");
            self.act(action);
        }
    }

    /// What voiced itself holds, asked over gRPC (not through the link).
    fn voiced(&self) -> AudioConfig {
        self.rt.block_on(async {
            let mut client = self.daemon.client().await;
            client
                .audio_settings(Empty {})
                .await
                .expect("voiced answers AudioSettings")
                .into_inner()
        })
    }
}

fn echo(app: &App) -> Option<bool> {
    app.mirror.audio.as_ref().map(|a| a.echo_cancellation)
}

#[test]
fn echo_cancellation_switched_in_the_overlay_reaches_voiced() {
    let mut w = Wired::start();
    let before = w.voiced();
    assert!(!before.echo_cancellation, "off on the null backend");

    w.act(key(AUDIO_KEY));
    assert_eq!(w.app.modal, Some(Modal::Audio(AudioView::default())));
    w.until("the settings", |app| app.mirror.audio.is_some());
    assert!(screen(&w.app, 80, 24).contains("[ ] Echo cancellation"));

    // Echo cancellation is the first switch: on.
    w.act(key(KeyCode::Enter));
    w.until("echo cancellation on", |app| echo(app) == Some(true));
    assert_eq!(
        w.voiced(),
        AudioConfig {
            echo_cancellation: true,
            ..before.clone()
        }
    );
    for (width, height) in SIZES {
        w.act(Action::Resize(width, height));
        insta::assert_snapshot!(
            format!("audio_echo_on_{width}x{height}"),
            screen(&w.app, width, height)
        );
    }

    // Automatic gain, one down, with space.
    w.act(key(KeyCode::Down));
    w.act(ch(' '));
    w.until("automatic gain on", |app| {
        app.mirror.audio.as_ref().is_some_and(|a| a.auto_gain)
    });
    assert!(w.voiced().auto_gain);

    // A headset user turns echo cancellation off again; the rest stays.
    w.act(key(KeyCode::Up));
    w.act(key(KeyCode::Enter));
    w.until("echo cancellation off", |app| echo(app) == Some(false));
    assert_eq!(
        w.voiced(),
        AudioConfig {
            auto_gain: true,
            ..before
        }
    );
    w.act(key(KeyCode::Esc));
    assert_eq!(w.app.modal, None);
}

fn audio(config: AudioConfig) -> Action {
    Action::Link(Report::Answer(Answer::Audio(config)))
}

fn settings() -> AudioConfig {
    AudioConfig {
        bitrate: 32_000,
        frame_ms: 20,
        vad_threshold: 0.5,
        noise_suppression: true,
        echo_cancellation: true,
        auto_gain: true,
        ..AudioConfig::default()
    }
}

#[test]
fn the_overlay_switches_what_voiced_said_and_shows_a_refusal() {
    let mut app = daemon_up();
    assert_eq!(
        update(&mut app, key(AUDIO_KEY)),
        [Command::LoadAudioSettings]
    );
    // Nothing to switch before voiced answers.
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(screen(&app, 80, 24).contains("Asking voiced for its audio settings"));

    let _ = update(&mut app, audio(settings()));
    // The last switch (noise suppression), however far down one goes.
    let _ = run(&mut app, [key(KeyCode::Down), key(KeyCode::Down), ch('j')]);
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        [Command::SetAudioSettings(AudioConfig {
            noise_suppression: false,
            ..settings()
        })]
    );
    // Until voiced answers, the overlay shows what it holds.
    assert!(screen(&app, 80, 24).contains("[✓] Noise suppression"));

    let refusal = "this voiced has no audio engine yet";
    let _ = update(
        &mut app,
        Action::Link(Report::Failed {
            what: Command::SetAudioSettings(settings()).what(),
            message: refusal.into(),
            trust: None,
        }),
    );
    let shown = screen(&app, 80, 24);
    assert!(shown.contains(&format!("voiced: {refusal}")), "{shown}");
    // `o` closes it as it opened it.
    assert!(update(&mut app, key(AUDIO_KEY)).is_empty());
    assert_eq!(app.modal, None);
}
