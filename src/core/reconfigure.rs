//! Settings that change while the engine runs (a reload, see
//! `crate::server::reload`): the password, the users file, who may
//! register, the message rate, the connection caps and the presence limit.
//! Connected clients keep their sessions; every change applies from the next
//! frame, accept or JOIN on. The other settings of a [`CoreConfig`] are
//! fixed at start (they were announced in WELCOME or sized buffers).

use crate::core::config::{ConfigError, CoreConfig};
use crate::core::engine::Engine;
use crate::core::rate::TokenBucket;
use crate::core::rooms::RoomId;
use crate::core::{Now, Phase};

/// The fields of [`CoreConfig`] that [`Engine::reconfigure`] applies.
pub const LIVE_FIELDS: &[&str] = &[
    "password",
    "users",
    "registered_only",
    "rate",
    "max_connections",
    "max_connections_per_ip",
    "presence_limit",
];

impl<T> Engine<T> {
    /// Takes the live settings of `new` (see [`LIVE_FIELDS`]); the others
    /// are left as they are. `new` is validated first: on error nothing
    /// changes.
    ///
    /// - A rate turned on gives every open connection a full bucket; a
    ///   changed rate or burst applies to the buckets already there.
    /// - A per-address cap turned on counts the connections already open
    ///   (they stay; new ones from a full address are refused).
    /// - A lower `max_connections` closes nobody: new connections are
    ///   refused until the count falls under it.
    /// - A changed presence limit turns quiet rooms that are now at half of
    ///   it or fewer (or every quiet room, with 0) back to normal at once.
    /// - Password and users apply to the next HELLO; checks already handed
    ///   to the workers finish with the hash they began with.
    ///
    /// One pass over the connections or rooms when a cap, the rate or the
    /// presence limit changed; nothing otherwise.
    pub fn reconfigure(&mut self, new: &CoreConfig, now: Now) -> Result<(), ConfigError> {
        new.validate()?;
        // In a cluster every node must keep the settings the cluster shares
        // (the password, who may register, the presence limit: every node
        // checks and turns rooms quiet alike): they stay as started.
        let kept;
        let new = if self.cluster.is_some() {
            let mut n = new.clone();
            let changed = Self::keep_cluster_settings(&mut n, &self.cfg);
            if !changed.is_empty() {
                tracing::warn!(
                    target: "stxchat::cluster",
                    kept = ?changed,
                    "these settings must be the same on every node of a cluster: keeping the running values ({}); change them on every node and restart the cluster",
                    changed.join(", ")
                );
            }
            kept = n;
            &kept
        } else {
            new
        };
        let old_rate = self.cfg.rate;
        let old_cap = self.cfg.max_connections_per_ip;
        let old_limit = self.cfg.presence_limit;
        self.cfg.password = new.password.clone();
        self.cfg.users = new.users.clone();
        self.cfg.registered_only = new.registered_only;
        self.cfg.rate = new.rate;
        self.cfg.max_connections = new.max_connections;
        self.cfg.max_connections_per_ip = new.max_connections_per_ip;
        let new_limit = new.presence_limit;
        self.cfg.presence_limit = new_limit;
        if let (None, Some(limit)) = (old_rate, new.rate) {
            for (_, s) in self.sessions.iter_mut() {
                s.bucket = Some(Box::new(TokenBucket::full(limit, now.mono_ms)));
            }
        }
        if (old_cap == 0) != (new.max_connections_per_ip == 0) {
            self.per_ip.clear();
            if new.max_connections_per_ip > 0 {
                for (_, s) in self.sessions.iter() {
                    *self.per_ip.entry(s.peer().ip()).or_insert(0) += 1;
                }
            }
        }
        if old_limit != new_limit {
            let limit = new_limit;
            let back: Vec<RoomId> = self
                .rooms
                .iter()
                .filter(|(_, r)| r.quiet && (limit == 0 || r.len() <= limit / 2))
                .map(|(id, _)| id)
                .collect();
            for rid in back {
                self.turn_normal(rid);
            }
        }
        Ok(())
    }

    /// Registered connections now (for reload logs and tests).
    pub fn registered_count(&self) -> usize {
        self.sessions
            .iter()
            .filter(|(_, s)| s.phase() == Phase::Registered)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::accounts::{UserDb, cheap_params, hash_password};
    use crate::codec::{ClientMessage, ErrorCode};
    use crate::core::config::{CoreConfig, RateLimit};
    use crate::core::tests::{Got, Harness};

    fn hello(h: &mut Harness, nick: &str, token: &str) -> usize {
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

    #[test]
    fn a_new_password_applies_to_the_next_hello_and_keeps_the_connected() {
        let mut h = Harness::new(CoreConfig {
            password: Some("old".into()),
            ..CoreConfig::default()
        });
        let a = hello(&mut h, "alice", "old");
        assert!(matches!(h.recv(a).first(), Some(Got::Welcome(_))));
        let cfg = CoreConfig {
            password: Some("new".into()),
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        let b = hello(&mut h, "bob", "old");
        assert!(
            h.recv(b)
                .contains(&Got::Error(ErrorCode::AuthFailed.as_u16()))
        );
        let c = hello(&mut h, "carol", "new");
        assert!(matches!(h.recv(c).first(), Some(Got::Welcome(_))));
        h.send(
            a,
            ClientMessage::Say {
                room: "lobby",
                text: "still here",
            },
        );
        assert!(
            h.recv(a)
                .iter()
                .any(|g| matches!(g, Got::Message { text, .. } if text == "still here"))
        );
    }

    #[test]
    fn users_added_and_removed() {
        let mut h = Harness::new(CoreConfig::default());
        let phc = hash_password("pw", &cheap_params()).unwrap();
        let cfg = CoreConfig {
            users: Some(Arc::new(UserDb::parse(&format!("alice:{phc}\n")).unwrap())),
            registered_only: true,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        let b = hello(&mut h, "bob", "");
        assert!(
            h.recv(b)
                .contains(&Got::Error(ErrorCode::AuthFailed.as_u16()))
        );
        let mut jobs = Vec::new();
        let _a = hello(&mut h, "alice", "pw");
        h.e.take_verify_jobs(&mut jobs);
        assert_eq!(jobs.len(), 1, "a listed nick is checked by the workers");
        let cfg = CoreConfig {
            users: None,
            registered_only: false,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        let b = hello(&mut h, "bob", "");
        assert!(matches!(h.recv(b).first(), Some(Got::Welcome(_))));
    }

    #[test]
    fn a_rate_turned_on_limits_connections_already_open() {
        let mut h = Harness::new(CoreConfig::default());
        let a = h.hello("alice");
        h.recv(a);
        let cfg = CoreConfig {
            rate: Some(RateLimit {
                per_sec: 1.0,
                burst: 2,
            }),
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        for _ in 0..3 {
            h.send(
                a,
                ClientMessage::Say {
                    room: "lobby",
                    text: "x",
                },
            );
        }
        let got = h.recv(a);
        assert_eq!(
            got.iter()
                .filter(|g| matches!(g, Got::Message { .. }))
                .count(),
            2
        );
        assert!(got.contains(&Got::Error(ErrorCode::RateLimited.as_u16())));
    }

    #[test]
    fn a_per_address_cap_turned_on_counts_the_open_connections() {
        let mut h = Harness::new(CoreConfig::default());
        let _a = h.connect();
        let _b = h.connect();
        let cfg = CoreConfig {
            max_connections_per_ip: 2,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        let ip = "127.0.0.1".parse().unwrap();
        assert!(h.e.admit(ip).is_err(), "two are open already");
        let cfg = CoreConfig {
            max_connections_per_ip: 3,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        assert!(h.e.admit(ip).is_ok());
    }

    #[test]
    fn a_lower_connection_cap_refuses_new_ones_only() {
        let mut h = Harness::new(CoreConfig::default());
        let a = h.hello("alice");
        h.recv(a);
        let cfg = CoreConfig {
            max_connections: 1,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        assert!(h.e.admit("127.0.0.1".parse().unwrap()).is_err());
        assert_eq!(h.e.registered_count(), 1);
        assert!(h.closes().is_empty());
    }

    #[test]
    fn a_raised_presence_limit_turns_quiet_rooms_back_at_once() {
        let mut h = Harness::new(CoreConfig {
            presence_limit: 2,
            ..CoreConfig::default()
        });
        let ids: Vec<usize> = ["a1", "a2", "a3"].iter().map(|n| h.hello_v(n, 2)).collect();
        for &id in &ids {
            h.recv(id);
        }
        assert!(h.e.rooms.iter().any(|(_, r)| r.quiet));
        let cfg = CoreConfig {
            presence_limit: 10,
            ..h.e.config().clone()
        };
        h.e.reconfigure(&cfg, h.now).unwrap();
        assert!(h.e.rooms.iter().all(|(_, r)| !r.quiet));
        assert!(
            h.recv(ids[0])
                .iter()
                .any(|g| matches!(g, Got::Members { .. }))
        );
    }

    #[test]
    fn an_invalid_config_changes_nothing() {
        let mut h = Harness::new(CoreConfig::default());
        let cfg = CoreConfig {
            password: Some("x".into()),
            max_connections: 0,
            ..h.e.config().clone()
        };
        assert!(h.e.reconfigure(&cfg, h.now).is_err());
        assert_eq!(h.e.config().password, None);
    }
}
