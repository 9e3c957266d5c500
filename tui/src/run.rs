//! The terminal loop: raw mode, input thread, drawing on change.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use tokio::sync::mpsc;

use crate::action::{Action, Command};
use crate::link;
use crate::model::App;
use crate::update::{needs_redraw, update};

/// How often the clock ticks (countdowns); nothing else redraws on a timer.
const TICK: Duration = Duration::from_secs(1);

/// Runs the terminal UI against voiced's socket until the user quits.
pub fn run(socket: PathBuf) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut terminal = ratatui::try_init()?;
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let releases = crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false);
    if releases {
        let _ = execute!(
            io::stdout(),
            PushKeyboardEnhancementFlags(
                KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES
                    | KeyboardEnhancementFlags::REPORT_EVENT_TYPES
            )
        );
    }
    let result = event_loop(&runtime, &mut terminal, socket, releases);
    if releases {
        let _ = execute!(io::stdout(), PopKeyboardEnhancementFlags);
    }
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

fn event_loop(
    runtime: &tokio::runtime::Runtime,
    terminal: &mut ratatui::DefaultTerminal,
    socket: PathBuf,
    releases: bool,
) -> io::Result<()> {
    let (actions, mut inbox) = mpsc::unbounded_channel::<Action>();
    let (commands, outbox) = mpsc::unbounded_channel::<Command>();
    let link = runtime.spawn(link::run_link(socket.clone(), actions.clone(), outbox));
    let ticks = actions.clone();
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            if ticks.send(Action::Tick(now_ms())).is_err() {
                break;
            }
        }
    });
    spawn_input(actions);

    let mut app = App::new(socket.display().to_string());
    let size = terminal.size()?;
    update(&mut app, Action::Resize(size.width, size.height));
    update(&mut app, Action::KeyReleases(releases));
    update(&mut app, Action::Tick(now_ms()));
    terminal.draw(|frame| frame.render_widget(&app, frame.area()))?;

    while let Some(first) = inbox.blocking_recv() {
        let mut redraw = false;
        let mut next = Some(first);
        // Take every action already waiting before drawing once.
        while let Some(action) = next {
            redraw |= needs_redraw(&app, &action);
            for call in update(&mut app, action) {
                let _ = commands.send(call);
            }
            next = inbox.try_recv().ok();
        }
        if app.quit {
            break;
        }
        if redraw {
            terminal.draw(|frame| frame.render_widget(&app, frame.area()))?;
        }
    }
    if app.ptt.active {
        let _ = commands.send(Command::PushToTalk(false));
    }
    drop(commands);
    // Let the link finish queued commands (bounded inside run_link).
    let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(3), link).await });
    Ok(())
}

/// Reads terminal events on a thread of its own (crossterm's read blocks).
fn spawn_input(actions: mpsc::UnboundedSender<Action>) {
    std::thread::spawn(move || {
        loop {
            let action = match event::read() {
                Ok(event::Event::Key(key)) => Action::Key(key),
                Ok(event::Event::Mouse(mouse)) => Action::Mouse(mouse),
                Ok(event::Event::Resize(w, h)) => Action::Resize(w, h),
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "terminal input ended");
                    break;
                }
            };
            if actions.send(action).is_err() {
                break;
            }
        }
    });
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
