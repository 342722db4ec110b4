//! The token check of HELLO (PROTOCOL.md 4.1 step 2): per-user accounts
//! and the shared password.
//!
//! A nick listed in the users file registers only with its own password.
//! Checking it costs milliseconds of argon2, so the engine never does it:
//! it emits a [`VerifyJob`] ([`Engine::take_verify_jobs`]) that the driver
//! hands to a worker pool, and the driver reports the verdict back
//! ([`Engine::on_verified`]). Meanwhile the connection's later input is
//! held, unhandled, so that its frames are still handled in order (4.1 step
//! 6): the rest of the read that brought the HELLO is kept here, and the
//! driver stops reading the connection ([`Engine::input_held`]) until the
//! verdict, then reads it again ([`Engine::take_resumed`]). After a failure
//! from an address, its later checks start only after a growing delay
//! ([`FailureThrottle`]). Unlisted nicks register as before (with the shared
//! `--password` if one is set), or get `auth_failed` under
//! `--registered-only`.

use std::collections::HashMap;
use std::net::IpAddr;

use subtle::ConstantTimeEq;

use crate::accounts::throttle::key as address_key;
use crate::accounts::{FailureThrottle, VerifyJob};
use crate::codec::ErrorCode;
use crate::core::engine::{Engine, Now};
use crate::core::session::{ConnId, Phase};
use crate::core::timers::{Deadline, TimerKind};

/// Input held for one connection while its password is checked: more than
/// one read of the driver's (it stops reading) means a driver bug; the
/// connection is then closed rather than memory growing.
const MAX_HELD: usize = 256 * 1024;

/// Checks one address may have in the worker pool's queue at once; more
/// wait in the engine (retried every [`RETRY_MS`]), so that one address
/// cannot fill the queue that everyone shares.
pub const MAX_IN_FLIGHT_PER_ADDRESS: u32 = 2;

/// The detail of the `server_full` a login gets when its password check
/// could not be queued (the worker pool's queue is full); `stxchat bench
/// --bad-logins` tells it from the other `server_full` refusals by it.
pub const BUSY_DETAIL: &str = "too many logins being checked; try again later";

/// How often a check waiting for its address's turn looks again, ms.
const RETRY_MS: u64 = crate::accounts::throttle::BASE_DELAY_MS;

/// A pending connection whose password is being checked.
#[derive(Debug)]
pub(crate) struct AuthWait {
    /// The HELLO payload, handled again once the password matched.
    hello: Box<[u8]>,
    /// Input that came after the HELLO, handled after the verdict.
    held: Vec<u8>,
    /// The check, while it waits for its start time (see the throttle).
    job: Option<VerifyJob>,
    /// The password matched: the next token check of this HELLO passes.
    verified: bool,
}

/// How a password check ended, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The token is the nick's password.
    Match,
    /// It is not.
    Mismatch,
    /// The check could not be queued (the worker pool's queue is full).
    Busy,
}

/// The engine's side of password checks: jobs for the driver, connections
/// to read again, and the per-address slowdown.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    jobs: Vec<VerifyJob>,
    resumed: Vec<ConnId>,
    throttle: FailureThrottle,
    /// Checks handed to the driver and not yet answered, per address key.
    in_flight: HashMap<IpAddr, u32>,
}

impl AuthState {
    /// Hands `job` out now if its address has room in flight.
    fn try_start(&mut self, job: VerifyJob) -> Result<(), VerifyJob> {
        let n = self.in_flight.entry(address_key(job.peer)).or_insert(0);
        if *n >= MAX_IN_FLIGHT_PER_ADDRESS {
            return Err(job);
        }
        *n += 1;
        self.jobs.push(job);
        Ok(())
    }

    /// A check of `peer` was answered.
    fn finished(&mut self, peer: IpAddr) {
        let k = address_key(peer);
        if let Some(n) = self.in_flight.get_mut(&k) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&k);
            }
        }
    }
}

impl<T> Engine<T> {
    /// The token check of HELLO for `nick`: `true` if registration goes on
    /// now; `false` if the connection got `auth_failed` or waits for a
    /// password check (its `payload` is kept and handled again then).
    pub(crate) fn check_token(
        &mut self,
        id: ConnId,
        payload: &[u8],
        nick: &str,
        token: &str,
        now: Now,
    ) -> bool {
        let s = &mut self.sessions[id];
        if s.auth.as_ref().is_some_and(|w| w.verified) {
            s.auth = None;
            return true;
        }
        let phc = self
            .cfg
            .users
            .as_ref()
            .and_then(|u| u.hash_of(nick))
            .cloned();
        if let Some(phc) = phc {
            let serial = s.serial;
            let peer = s.peer.ip();
            let job = VerifyJob {
                id,
                serial,
                peer,
                token: token.into(),
                phc,
            };
            let at = self.auth.throttle.start_at(peer, now.mono_ms);
            let mut wait = AuthWait {
                hello: payload.into(),
                held: Vec::new(),
                job: None,
                verified: false,
            };
            let waiting = if at <= now.mono_ms {
                self.auth.try_start(job).err()
            } else {
                Some(job)
            };
            if let Some(job) = waiting {
                wait.job = Some(job);
                self.timers.push(Deadline {
                    at_ms: at.max(now.mono_ms + 1),
                    id,
                    serial,
                    kind: TimerKind::AuthStart,
                });
            }
            let s = &mut self.sessions[id];
            s.auth = Some(Box::new(wait));
            return false;
        }
        if self.cfg.registered_only {
            self.error(
                id,
                ErrorCode::AuthFailed,
                "nick is not registered on this server",
                now,
            );
            return false;
        }
        if let Some(password) = &self.cfg.password
            && !bool::from(token.as_bytes().ct_eq(password.as_bytes()))
        {
            self.error(id, ErrorCode::AuthFailed, "wrong password", now);
            return false;
        }
        true
    }

    /// Whether `id`'s input is held for a password check (the driver must
    /// not read it until [`Engine::take_resumed`] names it).
    pub fn input_held(&self, id: ConnId) -> bool {
        self.sessions
            .get(id)
            .is_some_and(|s| s.auth.is_some() && s.phase == Phase::Pending)
            || self.cluster_waits(id)
    }

    /// Keeps `bytes` of `id`'s input for after its password check; false if
    /// no check is pending (handle them now).
    pub(crate) fn hold_input(&mut self, id: ConnId, bytes: &[u8], now: Now) -> bool {
        let Some(w) = self.sessions[id].auth.as_mut() else {
            // A proposal in flight holds input the same way (`cluster.rs`).
            return self.cluster.is_some() && self.hold_cluster_input(id, bytes, now);
        };
        if w.held.len() + bytes.len() > MAX_HELD {
            self.fail(
                id,
                ErrorCode::BadFrame,
                "too much input while the password is checked",
                now,
            );
            return true;
        }
        w.held.extend_from_slice(bytes);
        true
    }

    /// Names `id` among the connections to read again.
    pub(crate) fn auth_resumed(&mut self, id: ConnId) {
        self.auth.resumed.push(id);
    }

    /// Moves the password checks to run into `into` (for the worker pool).
    pub fn take_verify_jobs(&mut self, into: &mut Vec<VerifyJob>) {
        into.append(&mut self.auth.jobs);
    }

    /// Moves the connections whose held input was handled, to be read
    /// again, into `into`.
    pub fn take_resumed(&mut self, into: &mut Vec<ConnId>) {
        into.append(&mut self.auth.resumed);
    }

    /// A waiting check's start time came (from [`Engine::tick`]): it starts
    /// if its address has room in flight, or looks again soon.
    pub(crate) fn start_verification(&mut self, id: ConnId, now: Now) {
        let s = &mut self.sessions[id];
        let serial = s.serial;
        let Some(job) = s.auth.as_mut().and_then(|w| w.job.take()) else {
            return;
        };
        if let Err(job) = self.auth.try_start(job) {
            if let Some(w) = self.sessions[id].auth.as_mut() {
                w.job = Some(job);
            }
            self.timers.push(Deadline {
                at_ms: now.mono_ms + RETRY_MS,
                id,
                serial,
                kind: TimerKind::AuthStart,
            });
        }
    }

    /// The verdict of the password check of connection `id` (`serial`):
    /// registration goes on (then the held input is handled), or the
    /// connection gets `auth_failed` (a wrong password; the address is
    /// slowed down) or `server_full` (the check could not be queued). A
    /// verdict for a connection closed since is ignored.
    pub fn on_verified(
        &mut self,
        id: ConnId,
        serial: u64,
        peer: IpAddr,
        outcome: VerifyOutcome,
        now: Now,
    ) {
        self.auth.finished(peer);
        let Some(s) = self.sessions.get_mut(id) else {
            return;
        };
        if s.serial != serial || s.phase != Phase::Pending {
            return;
        }
        let Some(w) = s.auth.as_mut() else {
            return;
        };
        if w.job.is_some() {
            // Still waiting for its start: this verdict is not for it.
            return;
        }
        let peer = s.peer.ip();
        match outcome {
            VerifyOutcome::Match => {
                w.verified = true;
                let hello = std::mem::take(&mut w.hello);
                let held = std::mem::take(&mut w.held);
                // The HELLO was counted when it first came.
                self.counters.frames_in -= 1;
                self.on_frame(id, &hello, now);
                self.sessions[id].auth = None;
                if !held.is_empty() && self.sessions[id].phase != Phase::Closing {
                    self.decode_input(id, &held, now);
                }
            }
            VerifyOutcome::Mismatch => {
                s.auth = None;
                self.auth.throttle.failed(peer, now.mono_ms);
                self.error(id, ErrorCode::AuthFailed, "wrong password", now);
            }
            VerifyOutcome::Busy => {
                s.auth = None;
                self.error(id, ErrorCode::ServerFull, BUSY_DETAIL, now);
            }
        }
        self.auth.resumed.push(id);
        self.settle(now);
    }
}
