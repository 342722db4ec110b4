//! Engine tests of the HELLO token check with accounts: the check is
//! handed out as a job, input after the HELLO waits for the verdict and is
//! then handled in order, wrong passwords and a full queue are refused,
//! failures slow their address down, unlisted nicks and --registered-only.

use std::sync::Arc;

use crate::accounts::{UserDb, VerifyJob, cheap_params, hash_password, verify_password};
use crate::codec::{ClientMessage, ErrorCode};
use crate::core::VerifyOutcome;
use crate::core::config::CoreConfig;
use crate::core::session::ConnId;
use crate::core::tests::{Got, Harness};

fn users_cfg(registered_only: bool, password: Option<&str>) -> CoreConfig {
    let phc = hash_password("alice-pw", &cheap_params()).unwrap();
    CoreConfig {
        users: Some(Arc::new(UserDb::parse(&format!("alice:{phc}\n")).unwrap())),
        registered_only,
        password: password.map(str::to_owned),
        ..CoreConfig::default()
    }
}

fn hello(h: &mut Harness, nick: &str, token: &str) -> ConnId {
    let id = h.connect();
    h.send(
        id,
        ClientMessage::Hello {
            version: 1,
            nick,
            token,
        },
    );
    id
}

/// Runs the pending jobs as the worker pool would.
fn run_jobs(h: &mut Harness) -> usize {
    let mut jobs: Vec<VerifyJob> = Vec::new();
    h.e.take_verify_jobs(&mut jobs);
    for j in &jobs {
        let outcome = if verify_password(&j.phc, &j.token) {
            VerifyOutcome::Match
        } else {
            VerifyOutcome::Mismatch
        };
        h.e.on_verified(j.id, j.serial, j.peer, outcome, h.now);
    }
    jobs.len()
}

#[test]
fn a_listed_nick_waits_for_its_check_and_later_frames_keep_their_order() {
    let mut h = Harness::new(users_cfg(false, None));
    let id = h.connect();
    let mut b = Vec::new();
    for m in [
        ClientMessage::Hello {
            version: 1,
            nick: "Alice",
            token: "alice-pw",
        },
        ClientMessage::Join { room: "r" },
        ClientMessage::Ping { token: 7 },
    ] {
        m.encode(&mut b, 65535).unwrap();
    }
    h.e.on_input(id, &b, h.now);
    assert_eq!(h.recv(id), vec![], "nothing before the verdict");
    assert!(h.e.input_held(id));
    assert_eq!(run_jobs(&mut h), 1);
    assert!(!h.e.input_held(id));
    let got = h.recv(id);
    assert_eq!(got[0], Got::Welcome("Alice".into()));
    assert_eq!(got.last(), Some(&Got::Pong(7)), "{got:?}");
    assert!(
        got.contains(&Got::Joined("r".into(), "Alice".into())),
        "{got:?}"
    );
    let mut resumed = Vec::new();
    h.e.take_resumed(&mut resumed);
    assert_eq!(resumed, vec![id], "the driver reads it again");
}

#[test]
fn a_wrong_password_fails_and_slows_the_address_down() {
    let mut h = Harness::new(users_cfg(false, None));
    let id = hello(&mut h, "alice", "nope");
    assert_eq!(run_jobs(&mut h), 1);
    assert_eq!(h.recv(id), vec![Got::Error(ErrorCode::AuthFailed.as_u16())]);
    assert_eq!(h.closes(), vec![id]);
    // The next check from that address waits before it starts.
    let again = hello(&mut h, "alice", "alice-pw");
    assert_eq!(run_jobs(&mut h), 0, "delayed after a failure");
    h.advance(crate::accounts::throttle::BASE_DELAY_MS);
    assert_eq!(run_jobs(&mut h), 1);
    assert_eq!(h.recv(again)[0], Got::Welcome("alice".into()));
}

#[test]
fn a_full_queue_refuses_with_server_full_and_stale_verdicts_are_ignored() {
    let mut h = Harness::new(users_cfg(false, None));
    let id = hello(&mut h, "alice", "alice-pw");
    let mut jobs = Vec::new();
    h.e.take_verify_jobs(&mut jobs);
    h.e.on_verified(id, jobs[0].serial, jobs[0].peer, VerifyOutcome::Busy, h.now);
    assert_eq!(h.recv(id), vec![Got::Error(ErrorCode::ServerFull.as_u16())]);
    // A verdict arriving after the close changes nothing.
    h.e.on_verified(
        id,
        jobs[0].serial,
        jobs[0].peer,
        VerifyOutcome::Match,
        h.now,
    );
    assert_eq!(h.recv(id), vec![]);
    // The handshake timeout still runs while a check is pending.
    let slow = hello(&mut h, "alice", "alice-pw");
    let mut jobs = Vec::new();
    h.e.take_verify_jobs(&mut jobs);
    h.advance(10_000);
    assert_eq!(h.recv(slow), vec![Got::Error(ErrorCode::Timeout.as_u16())]);
    h.e.on_verified(
        slow,
        jobs[0].serial,
        jobs[0].peer,
        VerifyOutcome::Match,
        h.now,
    );
    assert_eq!(h.recv(slow), vec![]);
}

#[test]
fn unlisted_nicks_use_the_shared_password_or_are_refused_when_registered_only() {
    let mut h = Harness::new(users_cfg(false, Some("shared")));
    let bob = hello(&mut h, "bob", "shared");
    assert_eq!(h.recv(bob)[0], Got::Welcome("bob".into()));
    let eve = hello(&mut h, "eve", "wrong");
    assert_eq!(
        h.recv(eve),
        vec![Got::Error(ErrorCode::AuthFailed.as_u16())]
    );
    // A listed nick's own password, not the shared one.
    let a = hello(&mut h, "alice", "shared");
    run_jobs(&mut h);
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::AuthFailed.as_u16())]);
    let mut h = Harness::new(users_cfg(true, None));
    let bob = hello(&mut h, "bob", "");
    assert_eq!(
        h.recv(bob),
        vec![Got::Error(ErrorCode::AuthFailed.as_u16())]
    );
    assert_eq!(run_jobs(&mut h), 0);
}

#[test]
fn a_listed_nick_in_use_is_taken_only_after_the_password() {
    let mut h = Harness::new(users_cfg(false, None));
    let a = hello(&mut h, "alice", "alice-pw");
    run_jobs(&mut h);
    assert_eq!(h.recv(a)[0], Got::Welcome("alice".into()));
    let wrong = hello(&mut h, "ALICE", "x");
    run_jobs(&mut h);
    assert_eq!(
        h.recv(wrong),
        vec![Got::Error(ErrorCode::AuthFailed.as_u16())]
    );
    let right = hello(&mut h, "ALICE", "alice-pw");
    h.advance(crate::accounts::throttle::BASE_DELAY_MS);
    run_jobs(&mut h);
    assert_eq!(
        h.recv(right),
        vec![Got::Error(ErrorCode::NickTaken.as_u16())]
    );
}

#[test]
fn one_address_has_at_most_two_checks_in_flight() {
    let mut h = Harness::new(users_cfg(false, None));
    let ids: Vec<ConnId> = (0..5).map(|_| hello(&mut h, "alice", "x")).collect();
    let mut jobs = Vec::new();
    h.e.take_verify_jobs(&mut jobs);
    assert_eq!(jobs.len(), 2, "the others wait in the engine");
    h.advance(100);
    h.e.take_verify_jobs(&mut jobs);
    assert_eq!(jobs.len(), 2, "nothing answered yet: still two");
    let j = jobs.remove(0);
    h.e.on_verified(j.id, j.serial, j.peer, VerifyOutcome::Mismatch, h.now);
    h.advance(100);
    h.e.take_verify_jobs(&mut jobs);
    assert_eq!(jobs.len(), 2, "one more started: {jobs:?}");
    assert!(ids.contains(&jobs[1].id));
}
