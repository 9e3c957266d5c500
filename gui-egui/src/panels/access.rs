//! The access editor of a room ("Edit access…"): the rules it inherits,
//! read-only with the room each comes from; its own rules to add, order,
//! toggle and remove; whether it inherits; and what everyone's permissions
//! would be under the draft before it is saved. Save sends `SetAcl`; the
//! server checks again, and a refusal shows here with its reason.

use eframe::egui;
use voice_proto::State;
use voice_proto::acl::Permissions;
use voice_proto::pb::wire::Permission;
use voiced_client::acl::{Effective, RuleSubject, drafted, effective, listing};
use voiced_client::text::printable;

use crate::App;
use crate::model::AccessDraft;
use crate::model::access::{subject_text, subjects};
use crate::model::refusal::{Refusal, before_trying, locally_lacking, need, question};
use crate::panels::why::why_ui;

/// The room menu's (and the rooms panel's) entry that opens the editor.
pub const EDIT_ACCESS: &str = "Edit access…";
/// The inherit toggle.
pub const INHERIT: &str = "Inherit from parent rooms";
/// The menu of subjects for a new rule.
pub const ADD_ENTRY: &str = "Add entry";
/// Saves the draft.
pub const SAVE: &str = "Save";
/// Closes the editor, dropping the draft.
pub const CANCEL: &str = "Cancel";

/// The editor window's title.
pub fn title(path: &str) -> String {
    format!("Access to {}", printable(path))
}

/// The accessible label of a permission toggle of the selected rule
/// ("allow speak", "deny enter").
pub fn toggle_label(permission: Permission, deny: bool) -> String {
    let column = if deny { "deny" } else { "allow" };
    format!("{column} {}", Permissions::name(permission))
}

/// The accessible label of one cell of the preview ("Bob: speak yes").
pub fn preview_label(name: &str, permission: &str, granted: bool) -> String {
    let held = if granted { "yes" } else { "no" };
    format!("{}: {permission} {held}", printable(name))
}

/// The accessible label of rule `index` (from 0) in the own-rules table
/// ("entry 1: role everyone").
pub fn entry_label(index: usize, subject: &str) -> String {
    format!("entry {}: {subject}", index + 1)
}

/// Opens the editor for `room` (replacing another one being edited).
pub fn open(app: &mut App, room: u32) {
    if let Some(state) = app.model.state.as_ref() {
        app.access = AccessDraft::open(state, room);
    }
}

/// Draws the editor while a draft is open.
pub fn access_ui(ctx: &egui::Context, app: &mut App) {
    let Some(mut draft) = app.access.take() else {
        return;
    };
    let Some(state) = app.model.state.clone() else {
        return;
    };
    let path = app.model.room_path(draft.room);
    let mut open = true;
    let mut close = false;
    egui::Window::new(title(&path))
        .id(egui::Id::new(("access", draft.room)))
        .open(&mut open)
        .default_size([860.0, 600.0])
        .collapsible(false)
        .show(ctx, |ui| {
            if state.room(draft.room).is_none() {
                ui.label("This room is gone.");
                close = ui.button(CANCEL).clicked();
                return;
            }
            // Save and Cancel stay in view however long the rules are.
            egui::TopBottomPanel::bottom(egui::Id::new(("access-actions", draft.room)))
                .show_inside(ui, |ui| {
                    close = actions_ui(ui, app, &state, &mut draft);
                });
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| editor_ui(ui, &state, &mut draft));
        });
    if open && !close {
        app.access = Some(draft);
    }
}

/// The editor's body: the rules and the preview.
fn editor_ui(ui: &mut egui::Ui, state: &State, draft: &mut AccessDraft) {
    // The state as the draft would make it: what is inherited follows the
    // inherit toggle before it is saved.
    let drafted = match drafted(state, draft.room, draft.inherit, &draft.rules) {
        Ok(drafted) => Some(drafted),
        Err(e) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("These rules do not apply: {e}"),
            );
            None
        }
    };

    if draft.is_root() {
        ui.weak("The root has no parent rooms: its rules are where everything starts.");
    } else {
        ui.checkbox(&mut draft.inherit, INHERIT)
            .on_hover_text("Off: only this room's rules (and those below it) count here");
    }
    inherited_ui(ui, drafted.as_ref().unwrap_or(state), draft);
    ui.separator();
    own_rules_ui(ui, state, draft);
    ui.separator();
    ui.columns(2, |columns| {
        permissions_ui(&mut columns[0], state, draft);
        preview_ui(&mut columns[1], state, drafted.as_ref(), draft);
    });
}

fn inherited_ui(ui: &mut egui::Ui, drafted: &State, draft: &AccessDraft) {
    if draft.is_root() {
        return;
    }
    let inherited: Vec<_> = listing(drafted, draft.room)
        .map(|l| l.entries.into_iter().filter(|e| e.inherited).collect())
        .unwrap_or_default();
    ui.label(egui::RichText::new("Inherited (read-only)").strong());
    if !draft.inherit {
        ui.weak("Nothing: this room does not inherit.");
        return;
    }
    if inherited.is_empty() {
        ui.weak("No rule of a parent room applies here.");
        return;
    }
    egui::Grid::new("access-inherited")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for e in inherited {
                let who = match &e.subject {
                    RuleSubject::Role(r) => format!("role {}", printable(r)),
                    RuleSubject::User { key, names } => match names.first() {
                        Some(n) => format!("user {}", printable(n)),
                        None => format!("user {}…", &key[..16.min(key.len())]),
                    },
                    RuleSubject::Nobody => "nobody".to_owned(),
                };
                ui.weak(format!("from {} #{}", printable(&e.room_path), e.index));
                ui.label(who);
                ui.label(format!("allow {}", list(&e.allow)));
                ui.label(format!("deny {}", list(&e.deny)));
                ui.end_row();
            }
        });
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "—".to_owned()
    } else {
        names.join(", ")
    }
}

fn own_rules_ui(ui: &mut egui::Ui, state: &State, draft: &mut AccessDraft) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("This room's rules").strong());
        ui.weak("(in order: a later rule overrides an earlier one)");
    });
    if draft.rules.is_empty() {
        ui.weak("None yet.");
    }
    enum Edit {
        Up(usize),
        Down(usize),
        Remove(usize),
    }
    let mut edit = None;
    let count = draft.rules.len();
    egui::Grid::new("access-own")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for i in 0..count {
                let who = subject_text(state, draft.rules[i].subject.as_ref());
                let label = entry_label(i, &who);
                let selected = draft.selected == Some(i);
                if ui.selectable_label(selected, &label).clicked() {
                    draft.selected = Some(i);
                }
                let rule = &mut draft.rules[i];
                let allow = voiced_client::acl::names(rule.allow);
                let deny = voiced_client::acl::names(rule.deny);
                ui.label(format!("allow {}", list(&allow)));
                ui.label(format!("deny {}", list(&deny)));
                let here = ui.checkbox(&mut rule.apply_here, "here");
                named_toggle(
                    &here,
                    &format!("entry {} applies here", i + 1),
                    rule.apply_here,
                );
                let below = ui.checkbox(&mut rule.apply_subs, "below");
                named_toggle(
                    &below,
                    &format!("entry {} applies below", i + 1),
                    rule.apply_subs,
                );
                let up = ui.add_enabled(i > 0, egui::Button::new("⬆").small());
                named_button(&up, &format!("Move entry {} up", i + 1));
                if up.clicked() {
                    edit = Some(Edit::Up(i));
                }
                let down = ui.add_enabled(i + 1 < count, egui::Button::new("⬇").small());
                named_button(&down, &format!("Move entry {} down", i + 1));
                if down.clicked() {
                    edit = Some(Edit::Down(i));
                }
                let remove = ui.add(egui::Button::new("✖").small());
                named_button(&remove, &format!("Remove entry {}", i + 1));
                if remove.clicked() {
                    edit = Some(Edit::Remove(i));
                }
                ui.end_row();
            }
        });
    match edit {
        Some(Edit::Up(i)) => draft.move_up(i),
        Some(Edit::Down(i)) => draft.move_down(i),
        Some(Edit::Remove(i)) => draft.remove(i),
        None => {}
    }
    ui.menu_button(ADD_ENTRY, |ui| {
        for (subject, words) in subjects(state) {
            if ui.button(words).clicked() {
                draft.add(subject);
                ui.close();
            }
        }
    });
}

/// Gives a toggle without a telling text of its own an accessible name.
fn named_toggle(response: &egui::Response, label: &str, on: bool) {
    let enabled = response.enabled();
    response
        .widget_info(|| egui::WidgetInfo::selected(egui::WidgetType::Checkbox, enabled, on, label));
}

/// Gives a button showing only a symbol an accessible name (and a tooltip).
fn named_button(response: &egui::Response, label: &str) {
    let enabled = response.enabled();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, enabled, label));
    let _ = response.clone().on_hover_text(label);
}

fn permissions_ui(ui: &mut egui::Ui, state: &State, draft: &mut AccessDraft) {
    let Some(index) = draft.selected.filter(|i| *i < draft.rules.len()) else {
        ui.weak("Select an entry to set what it allows and denies.");
        return;
    };
    let who = subject_text(state, draft.rules[index].subject.as_ref());
    ui.label(egui::RichText::new(entry_label(index, &who)).strong());
    ui.weak("deny wins over allow within one entry");
    egui::Grid::new("access-permissions")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            ui.label("permission");
            ui.label("allow");
            ui.label("deny");
            ui.end_row();
            for permission in Permissions::EVERY {
                ui.label(Permissions::name(permission));
                for deny in [false, true] {
                    let mut on = draft.has(index, permission, deny);
                    let response = ui.checkbox(&mut on, "");
                    named_toggle(&response, &toggle_label(permission, deny), on);
                    if response.changed() {
                        draft.set(index, permission, deny, on);
                    }
                }
                ui.end_row();
            }
        });
}

/// `drafted` is the state with the draft applied (`None` when it does not
/// apply): the preview is everyone's permissions there.
fn preview_ui(ui: &mut egui::Ui, state: &State, drafted: Option<&State>, draft: &AccessDraft) {
    ui.label(egui::RichText::new("Preview: everyone's permissions here").strong());
    let (Some(after), Some(now)) = (
        drafted.and_then(|d| effective(d, draft.room)),
        effective(state, draft.room),
    ) else {
        return;
    };
    if after.is_empty() {
        ui.weak("Nobody is on the server.");
        return;
    }
    ui.weak("changes from the rules in force are highlighted");
    let changed = egui::Color32::from_rgb(230, 180, 60);
    egui::Grid::new("access-preview")
        .striped(true)
        .num_columns(after.len() + 1)
        .show(ui, |ui| {
            ui.label("");
            for user in &after {
                let mut name = printable(&user.name).into_owned();
                if user.admin {
                    name.push_str(" (admin)");
                }
                ui.label(egui::RichText::new(name).strong());
            }
            ui.end_row();
            for (p, permission) in Permissions::EVERY.iter().enumerate() {
                let pname = Permissions::name(*permission);
                ui.label(pname);
                for user in &after {
                    cell_ui(ui, user, p, pname, was(&now, user, p), changed);
                }
                ui.end_row();
            }
        });
}

/// Whether `user` holds permission `p` under the rules in force.
fn was(now: &[Effective], user: &Effective, p: usize) -> Option<bool> {
    now.iter()
        .find(|u| u.session == user.session)
        .and_then(|u| u.permissions.get(p))
        .map(|d| d.granted)
}

fn cell_ui(
    ui: &mut egui::Ui,
    user: &Effective,
    p: usize,
    pname: &str,
    before: Option<bool>,
    changed: egui::Color32,
) {
    let Some(decision) = user.permissions.get(p) else {
        ui.label("");
        return;
    };
    let mut text = egui::RichText::new(if decision.granted { "✔" } else { "·" });
    if before.is_some_and(|b| b != decision.granted) {
        text = text.color(changed).strong();
    }
    let response = ui.label(text);
    let label = preview_label(&user.name, pname, decision.granted);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &label));
    let why = if user.admin {
        "admin: every permission".to_owned()
    } else if let Some(at) = &user.traverse_denied_at {
        format!("traverse is missing in {}", printable(at))
    } else {
        match &decision.rule {
            Some((_, path, index)) => format!("rule #{index} of {}", printable(path)),
            None => "no rule grants it".to_owned(),
        }
    };
    let _ = response.on_hover_text(why);
}

/// Save and Cancel, with why a save cannot be made or was refused; `true`
/// when the editor is to close.
fn actions_ui(ui: &mut egui::Ui, app: &mut App, state: &State, draft: &mut AccessDraft) -> bool {
    let blocked = need(&app.model, &draft.command()).and_then(|n| before_trying(&app.model, &n));
    let mut close = false;
    ui.horizontal(|ui| {
        let can_save = !draft.saving && blocked.is_none() && draft.changed(state);
        if ui.add_enabled(can_save, egui::Button::new(SAVE)).clicked() {
            draft.saving = true;
            draft.refusal = None;
            app.send(draft.command());
        }
        if ui.button(CANCEL).clicked() {
            close = true;
        }
        if draft.saving {
            ui.spinner();
            ui.label("Saving…");
        }
    });
    if let Some(why) = &blocked {
        why_ui(ui, ("access-blocked", draft.room), why, false);
    } else if let Some(why) = beyond_held(app, draft) {
        // Save stays: the server decides, the mirrored rules may be behind.
        why_ui(ui, ("access-beyond", draft.room), &why, false);
    }
    if let Some(refusal) = &draft.refusal {
        ui.colored_label(
            ui.visuals().error_fg_color,
            "The server refused these rules.",
        );
        why_ui(ui, ("access-refused", draft.room), refusal, true);
    }
    close
}

/// What the draft grants beyond what this client holds in the room (the
/// server refuses that), explained before Save is pressed.
fn beyond_held(app: &App, draft: &AccessDraft) -> Option<Refusal> {
    let granted = draft.rules.iter().fold(Permissions::NONE, |all, r| {
        all | Permissions::from_bits(r.allow)
    });
    let beyond = granted & !app.model.permissions_in(draft.room);
    let first = beyond.iter().next()?;
    let lacking = locally_lacking(&app.model, first, draft.room)?;
    Some(Refusal {
        question: question(&format!(
            "grant {beyond} in {}",
            printable(&app.model.room_path(draft.room))
        )),
        reason: format!("you can only grant permissions you hold yourself; {lacking}"),
        local: None,
    })
}
