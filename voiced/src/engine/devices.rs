//! The audio devices as `Status` reports them: on each side the device in
//! use, its health and its last problem (lost, or stuck: stopped delivering
//! without an error), kept from the audio engine's device events.

use voice_audio::{AudioEvent, Direction, StallAction};
use voice_proto::pb::control::device_problem::{Action, Kind};
use voice_proto::pb::control::select_device_request::Direction as PbDirection;
use voice_proto::pb::control::{AudioDeviceStatus, DeviceEvent, DeviceHealth, DeviceProblem};

/// Both sides' devices.
#[derive(Debug, Default, Clone)]
pub(crate) struct DeviceStatus {
    /// The microphone.
    pub(crate) input: Option<AudioDeviceStatus>,
    /// The speakers.
    pub(crate) output: Option<AudioDeviceStatus>,
}

impl DeviceStatus {
    /// Takes a device event into account and returns the `Watch` event
    /// that tells it; `None` for an event that is not about a device.
    pub(crate) fn apply(&mut self, e: &AudioEvent, now_ms: u64) -> Option<DeviceEvent> {
        match e {
            AudioEvent::DeviceInUse {
                direction,
                name,
                fallback,
            } => {
                let side = self.side(*direction);
                side.name.clone_from(name);
                side.set_health(DeviceHealth::DeviceOk);
                Some(DeviceEvent {
                    message: format!(
                        "{} device: {name}{}",
                        side_name(*direction),
                        if *fallback { " (fallback)" } else { "" }
                    ),
                    problem: None,
                })
            }
            AudioEvent::DeviceLost {
                direction,
                name,
                reason,
            } => {
                let message = format!(
                    "{} device {name:?} lost ({reason}); falling back to the default",
                    side_name(*direction)
                );
                let problem = DeviceProblem {
                    kind: Kind::Lost as i32,
                    direction: pb_direction(*direction) as i32,
                    device: name.clone(),
                    at_ms: now_ms,
                    silent_ms: 0,
                    action: Action::MovedToDefault as i32,
                    message: message.clone(),
                };
                let side = self.side(*direction);
                side.name.clear();
                side.set_health(DeviceHealth::DeviceMissing);
                side.last_problem = Some(problem.clone());
                Some(DeviceEvent {
                    message,
                    problem: Some(problem),
                })
            }
            AudioEvent::DeviceStalled {
                direction,
                name,
                silent_ms,
                action,
            } => {
                let what = match action {
                    StallAction::Reopened => "reopening it",
                    StallAction::MovedToDefault => "moving to the default device",
                    StallAction::Waiting => {
                        "retries used up: keeping it open and using it again as soon as it \
                         delivers (`voicectl device` chooses another)"
                    }
                };
                let message = format!(
                    "{} device {name:?} stopped delivering audio without an error \
                     (nothing for {silent_ms} ms); {what}",
                    side_name(*direction)
                );
                let problem = DeviceProblem {
                    kind: Kind::Stalled as i32,
                    direction: pb_direction(*direction) as i32,
                    device: name.clone(),
                    at_ms: now_ms,
                    silent_ms: *silent_ms,
                    action: match action {
                        StallAction::Reopened => Action::Reopened,
                        StallAction::MovedToDefault => Action::MovedToDefault,
                        StallAction::Waiting => Action::Waiting,
                    } as i32,
                    message: message.clone(),
                };
                let side = self.side(*direction);
                side.name.clone_from(name);
                // A reopen that works says so with `DeviceInUse`.
                side.set_health(DeviceHealth::DeviceStalled);
                side.last_problem = Some(problem.clone());
                Some(DeviceEvent {
                    message,
                    problem: Some(problem),
                })
            }
            AudioEvent::DeviceResumed { direction, name } => {
                let side = self.side(*direction);
                side.name.clone_from(name);
                side.set_health(DeviceHealth::DeviceOk);
                Some(DeviceEvent {
                    message: format!(
                        "{} device {name:?} delivers audio again",
                        side_name(*direction)
                    ),
                    problem: None,
                })
            }
            _ => None,
        }
    }

    fn side(&mut self, d: Direction) -> &mut AudioDeviceStatus {
        match d {
            Direction::Input => self.input.get_or_insert_with(Default::default),
            Direction::Output => self.output.get_or_insert_with(Default::default),
        }
    }
}

fn pb_direction(d: Direction) -> PbDirection {
    match d {
        Direction::Input => PbDirection::Input,
        Direction::Output => PbDirection::Output,
    }
}

/// `input` or `output`.
fn side_name(d: Direction) -> &'static str {
    match d {
        Direction::Input => "input",
        Direction::Output => "output",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_then_a_reopen_keeps_the_problem_and_says_ok() {
        let mut s = DeviceStatus::default();
        let stalled = AudioEvent::DeviceStalled {
            direction: Direction::Input,
            name: "default".into(),
            silent_ms: 600,
            action: StallAction::Reopened,
        };
        let ev = s.apply(&stalled, 1000).expect("a device event");
        assert!(
            ev.message
                .contains("stopped delivering audio without an error")
                && ev.message.contains("600 ms")
                && ev.message.contains("reopening it"),
            "{}",
            ev.message
        );
        let input = s.input.clone().expect("input status");
        assert_eq!(input.health, DeviceHealth::DeviceStalled as i32);
        let reopened = AudioEvent::DeviceInUse {
            direction: Direction::Input,
            name: "default".into(),
            fallback: false,
        };
        s.apply(&reopened, 1100);
        let input = s.input.expect("input status");
        assert_eq!(input.health, DeviceHealth::DeviceOk as i32);
        let problem = input.last_problem.expect("the stall is remembered");
        assert_eq!(problem.kind, Kind::Stalled as i32);
        assert_eq!(problem.action, Action::Reopened as i32);
        assert_eq!((problem.at_ms, problem.silent_ms), (1000, 600));
        assert!(s.output.is_none());
    }

    #[test]
    fn other_events_are_not_device_events() {
        let mut s = DeviceStatus::default();
        assert!(s.apply(&AudioEvent::OutputRunning, 0).is_none());
        assert!(s.input.is_none() && s.output.is_none());
    }
}
