//! Every client message as the server reads it after login: the envelope
//! decoder, then what the server does with it against a seeded state
//! (proposals are judged and applied as the hub does, explanations are
//! computed). The first byte picks the session that sent it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_fuzz::{SESSIONS, check_state, seeded_state};
use voice_proto::acl::{self, Subject};
use voice_proto::frame;
use voice_proto::pb::wire::{ClientMsg, client_msg::Msg};
use voice_proto::state::Actor;
use voice_proto::{State, StateHash};

fuzz_target!(|data: &[u8]| {
    let Some((&who, data)) = data.split_first() else {
        return;
    };
    let Ok(msg) = frame::decode::<ClientMsg>(data) else {
        return;
    };
    let actor = SESSIONS[usize::from(who) % SESSIONS.len()];
    let mut state = seeded_state();
    match msg.msg {
        Some(Msg::Propose(p)) => propose(&mut state, actor, &p.expected_hash, p.change),
        Some(Msg::Explain(req)) => {
            let session = if req.session == 0 { actor } else { req.session };
            if let Some(s) = state.session(session) {
                let _ = acl::explain(&state, Subject::from(s), session, req.room);
            }
        }
        _ => {}
    }
});

fn propose(
    state: &mut State,
    actor: u32,
    expected: &[u8],
    change: Option<voice_proto::pb::wire::Change>,
) {
    let Some(change) = change else {
        return;
    };
    let before = state.hash();
    // As sent (mostly stale), then against the current hash to reach the
    // permission check and the change itself.
    let sent = StateHash::from_slice(expected).unwrap_or_default();
    for expected in [sent, before] {
        match state.propose(Actor::Session(actor), &expected, &change) {
            Ok(applied) => {
                check_state(state);
                if let Some(last) = applied.last() {
                    assert_eq!(last.hash, state.hash());
                }
                // Undo: the inverses restore the state exactly.
                for step in applied.iter().rev() {
                    state.apply_all(&step.inverse).expect("inverse applies");
                }
                assert_eq!(state.hash(), before, "undo restores the hash");
                return;
            }
            Err(_) => assert_eq!(state.hash(), before, "a refused proposal changes nothing"),
        }
    }
}
