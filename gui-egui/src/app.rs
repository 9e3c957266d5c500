//! The application: the model, the link to voiced, and what only the window
//! keeps (dialog fields, the chat input, push-to-talk, the access editor's
//! draft). [`App::ui`] draws one
//! frame; eframe calls it through [`eframe::App`], tests through kittest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eframe::egui;
use voice_proto::pb::control::ConnectionState;
use voiced_client::link::Report;
use voiced_client::mirror::News;
use voiced_client::tree::RowKind;

use crate::link::{Answer, Command, Link, SAVE_ACCESS};
use crate::model::refusal::refusal;
use crate::model::{AccessDraft, DaemonLink, Level, Mirror, Notifications, notification};
use crate::panels;
use crate::panels::connect::ConnectDialog;
use crate::panels::settings::SettingsDialog;
use crate::prefs::Prefs;

/// The whole desktop front end.
pub struct App {
    /// What voiced told us (the front-end core's mirror).
    pub model: Mirror,
    /// Joins, leaves and errors, newest last.
    pub notifications: Notifications,
    /// voiced's control socket, for the "not running" view.
    pub socket: String,
    /// The calls out, reports in.
    link: Link,
    /// The chat line being typed.
    pub chat_input: String,
    /// The selected row of the room tree.
    pub selected: Option<RowKind>,
    /// The connect dialog.
    pub connect: ConnectDialog,
    /// The settings window.
    pub settings: SettingsDialog,
    /// A room being created: (parent id, name typed so far).
    pub new_room: Option<(u32, String)>,
    /// The trust prompt's "I checked the new fingerprint" box (changed certificates).
    pub trust_checked: bool,
    /// Push-to-talk is held (button or key).
    pub ptt_active: bool,
    /// The push-to-talk button was held during the last frame.
    pub ptt_button: bool,
    /// Where the window's own preferences live (`None`: not kept).
    pub prefs_path: Option<PathBuf>,
    /// The files panel is shown.
    pub files_open: bool,
    /// When the files were last asked for (Unix ms).
    pub files_asked_ms: u64,
    /// The access editor's draft of a room's rules, while it is open.
    pub access: Option<AccessDraft>,
    /// The last call of each kind, to say why it failed ("Why can't I …?").
    last_calls: BTreeMap<&'static str, Command>,
}

impl App {
    /// Starts the link to voiced at `socket`; reports wake `ctx`. The
    /// window's preferences are read from (and kept in) `prefs_path`.
    pub fn new(
        socket: PathBuf,
        prefs_path: Option<PathBuf>,
        ctx: &egui::Context,
    ) -> std::io::Result<Self> {
        let wake = ctx.clone();
        let link = Link::start(socket.clone(), move || wake.request_repaint())?;
        let mut notifications = Notifications::default();
        let prefs = match prefs_path.as_deref().map(Prefs::load) {
            Some(Ok(prefs)) => prefs,
            Some(Err(e)) => {
                notifications.push(Level::Error, e.to_string(), now_ms());
                Prefs::default()
            }
            None => Prefs::default(),
        };
        let settings = SettingsDialog {
            ptt_key: prefs.ptt_key(),
            ..SettingsDialog::default()
        };
        Ok(Self {
            model: Mirror::new(),
            notifications,
            socket: socket.display().to_string(),
            link,
            chat_input: String::new(),
            selected: None,
            connect: ConnectDialog::default(),
            settings,
            new_room: None,
            trust_checked: false,
            ptt_active: false,
            ptt_button: false,
            prefs_path,
            files_open: false,
            files_asked_ms: 0,
            access: None,
            last_calls: BTreeMap::new(),
        })
    }

    /// Queues a call to voiced; a connect is remembered (a trust answer repeats it).
    pub fn send(&mut self, command: Command) {
        let command = self.model.sent(command);
        self.last_calls.insert(command.what(), command.clone());
        self.link.send(command);
    }

    /// Takes every report waiting from the link into the model.
    pub fn poll(&mut self) {
        let now = now_ms();
        while let Some(report) = self.link.try_recv() {
            if matches!(report, Report::Up) && self.settings.open {
                self.send(Command::LoadAudioSettings);
                self.send(Command::LoadDevices);
            }
            if let Report::Answer(Answer::AclSet(room)) = &report {
                // Saved: the editor of that room closes (the new rules
                // come back through the state like every change).
                if self
                    .access
                    .as_ref()
                    .is_some_and(|d| d.saving && d.room == *room)
                {
                    self.access = None;
                }
                continue;
            }
            if let Report::Failed { what, message, .. } = &report
                && *what == SAVE_ACCESS
                && let Some(draft) = self.access.as_mut().filter(|d| d.saving)
            {
                // A refused save is shown in the editor, where it was made.
                draft.saving = false;
                draft.refusal = refusal(&self.model, &draft.command(), message);
                continue;
            }
            let applied = self.model.apply(report);
            for news in applied.news {
                if let News::Failed { what, message } = &news
                    && let Some(call) = self.last_calls.get(what)
                    && let Some(why) = refusal(&self.model, call, message)
                {
                    self.notifications.push_refusal(
                        Level::Error,
                        format!("{what} failed"),
                        Some(why),
                        now,
                    );
                    continue;
                }
                if let Some((level, text)) = notification(&self.model, news) {
                    self.notifications.push(level, text, now);
                }
            }
            for command in applied.commands {
                self.send(command);
            }
        }
        self.notifications.expire(now);
    }

    /// Draws one frame (after taking in what the link reported).
    pub fn ui(&mut self, ctx: &egui::Context) {
        self.poll();
        panels::notifications::notifications_ui(ctx, self);
        if self.model.daemon != DaemonLink::Up {
            egui::CentralPanel::default().show(ctx, |ui| panels::offline::offline_ui(ui, self));
            self.release_ptt();
            return;
        }
        egui::TopBottomPanel::top("toolbar").show(ctx, |ui| panels::toolbar::toolbar_ui(ui, self));
        egui::TopBottomPanel::bottom("status").show(ctx, |ui| panels::status::status_ui(ui, self));
        egui::SidePanel::left("rooms")
            .resizable(true)
            .default_width(260.0)
            .show(ctx, |ui| panels::rooms::rooms_ui(ui, self));
        if self.files_open {
            egui::SidePanel::right("files")
                .resizable(true)
                .default_width(300.0)
                .show(ctx, |ui| panels::files::files_ui(ui, self));
        }
        egui::CentralPanel::default().show(ctx, |ui| panels::chat::chat_ui(ui, self));
        panels::connect::connect_ui(ctx, self);
        panels::connect::trust_ui(ctx, self);
        panels::settings::settings_ui(ctx, self);
        panels::rooms::new_room_ui(ctx, self);
        panels::access::access_ui(ctx, self);
        panels::toolbar::ptt_key(ctx, self);
        if self.model.connection() == ConnectionState::Reconnecting {
            // The countdown in the status line.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    /// Sets push-to-talk from the button and key; sends only changes.
    pub fn set_ptt(&mut self, on: bool) {
        if on != self.ptt_active {
            self.ptt_active = on;
            self.send(Command::PushToTalk(on));
        }
    }

    /// Changes the push-to-talk key and keeps it for the next run.
    pub fn set_ptt_key(&mut self, key: egui::Key) {
        self.settings.ptt_key = key;
        let Some(path) = &self.prefs_path else {
            return;
        };
        let prefs = Prefs {
            ptt_key: key.name().to_owned(),
        };
        if let Err(e) = prefs.save(path) {
            self.notifications
                .push(Level::Error, e.to_string(), now_ms());
        }
    }

    fn release_ptt(&mut self) {
        self.ptt_active = false;
        self.ptt_button = false;
    }
}

impl eframe::App for App {
    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.ui(ctx);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        // Closing the window never drops the call, but it must not leave the
        // microphone open either.
        if self.ptt_active {
            self.set_ptt(false);
        }
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
