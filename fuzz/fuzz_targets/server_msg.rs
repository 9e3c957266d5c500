//! Every server message as voiced reads it: the envelope decoder, then
//! state updates applied to a mirror of a seeded state, and snapshots
//! (in `Welcome` and `Snapshot`) rebuilt and validated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_fuzz::{check_state, seeded_state};
use voice_proto::frame;
use voice_proto::pb::wire::{ServerMsg, server_msg::Msg};
use voice_proto::{Limits, State};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = frame::decode::<ServerMsg>(data) else {
        return;
    };
    match msg.msg {
        Some(Msg::Update(update)) => {
            let Some(change) = update.change else {
                return;
            };
            let mut state = seeded_state();
            let before = state.hash();
            match state.apply(&change) {
                Ok(inverse) => {
                    check_state(&state);
                    state.apply_all(&inverse).expect("inverse applies");
                    assert_eq!(state.hash(), before, "the inverse restores the hash");
                }
                Err(_) => assert_eq!(state.hash(), before, "a refused change changes nothing"),
            }
        }
        Some(Msg::Welcome(w)) => snapshot(w.snapshot),
        Some(Msg::Snapshot(s)) => snapshot(s.snapshot),
        _ => {}
    }
});

fn snapshot(snapshot: Option<voice_proto::pb::wire::StateSnapshot>) {
    if let Some(snapshot) = snapshot {
        if let Ok(state) = State::from_snapshot(&snapshot, Limits::default()) {
            check_state(&state);
            let again = State::from_snapshot(&state.snapshot(), Limits::default())
                .expect("own snapshot loads");
            assert_eq!(again.hash(), state.hash());
        }
    }
}
