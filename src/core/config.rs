//! The chat engine's settings (the protocol-relevant part of the server's).

/// A per-connection message rate: `per_sec` tokens a second, at most `burst` saved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Messages (SAY and WHISPER) allowed per second on average.
    pub per_sec: f64,
    /// Bucket size: how many may be sent at once after a quiet spell.
    pub burst: u32,
}

/// Settings of the sans-IO chat engine.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    /// Name sent in WELCOME.
    pub server_name: String,
    /// Largest frame payload, in and out (512..=65535).
    pub max_payload: usize,
    /// How long a connection may stay pending before HELLO completes, ms.
    pub handshake_timeout_ms: u64,
    /// Keepalive period announced in WELCOME; 0 = none.
    pub keepalive_secs: u16,
    /// MESSAGEs kept per room and replayed on JOIN.
    pub history: usize,
    /// Room every client joins on registration, if any.
    pub default_room: Option<String>,
    /// Rooms one client may be in at once (the default room counts).
    pub max_rooms_per_client: usize,
    /// Bytes that may be queued for one connection beyond what its socket took.
    pub max_outbuf: usize,
    /// Optional per-connection SAY/WHISPER rate.
    pub rate: Option<RateLimit>,
    /// Password the HELLO token must match, if any.
    pub password: Option<String>,
    /// Open connections allowed (pending and closing ones included).
    pub max_connections: usize,
    /// Open connections allowed from one IP address; 0 = no cap.
    pub max_connections_per_ip: usize,
    /// Registered nicks and their password hashes (`--users`), if any.
    pub users: Option<std::sync::Arc<crate::accounts::UserDb>>,
    /// Only nicks in `users` may register (`--registered-only`).
    pub registered_only: bool,
    /// Presence limit L (PROTOCOL.md section 5.2): a JOIN that takes a room
    /// above L members makes it quiet; at L / 2 or fewer it turns back.
    /// 0 = rooms are never quiet.
    pub presence_limit: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            server_name: "stxchat".into(),
            max_payload: 4096,
            handshake_timeout_ms: 10_000,
            keepalive_secs: 60,
            history: 50,
            default_room: Some("lobby".into()),
            max_rooms_per_client: 32,
            max_outbuf: 1 << 20,
            rate: None,
            password: None,
            max_connections: 10_000,
            max_connections_per_ip: 0,
            users: None,
            registered_only: false,
            presence_limit: 1000,
        }
    }
}

/// A setting the engine cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// max_payload outside 512..=65535.
    #[error("max payload must be within 512..=65535, got {0}")]
    MaxPayload(usize),
    /// The output limit is below (history + 2) x (max_payload + 8).
    #[error(
        "max outbuf must be at least (history + 2) x (max payload + 8) = {min} bytes, got {got}"
    )]
    MaxOutbuf {
        /// The smallest allowed value.
        min: usize,
        /// The value given.
        got: usize,
    },
    /// The default room is not a valid room name.
    #[error(
        "default room {0:?} is not a valid room name (1..=64 bytes, no spaces or control characters)"
    )]
    DefaultRoom(String),
    /// Rooms per client must be at least 1.
    #[error("max rooms per client must be at least 1")]
    MaxRooms,
    /// The rate or burst is not positive.
    #[error("rate must be a positive number and burst at least 1")]
    Rate,
    /// The server name does not fit a str8.
    #[error("server name must be at most 255 bytes")]
    ServerName,
    /// Zero connections allowed.
    #[error("max connections must be at least 1")]
    MaxConnections,
}

impl CoreConfig {
    /// The smallest output limit the protocol allows for these settings.
    pub fn min_outbuf(&self) -> usize {
        (self.history + 2) * (self.max_payload + 8)
    }

    /// Checks the settings against the protocol's rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(512..=65535).contains(&self.max_payload) {
            return Err(ConfigError::MaxPayload(self.max_payload));
        }
        if self.max_outbuf < self.min_outbuf() {
            return Err(ConfigError::MaxOutbuf {
                min: self.min_outbuf(),
                got: self.max_outbuf,
            });
        }
        if let Some(room) = &self.default_room
            && !crate::codec::is_valid_room(room)
        {
            return Err(ConfigError::DefaultRoom(room.clone()));
        }
        if self.max_rooms_per_client == 0 {
            return Err(ConfigError::MaxRooms);
        }
        if let Some(r) = self.rate
            && (!(r.per_sec > 0.0 && r.per_sec.is_finite()) || r.burst == 0)
        {
            return Err(ConfigError::Rate);
        }
        if self.server_name.len() > 255 {
            return Err(ConfigError::ServerName);
        }
        if self.max_connections == 0 {
            return Err(ConfigError::MaxConnections);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(CoreConfig::default().validate(), Ok(()));
    }

    #[test]
    fn outbuf_below_protocol_minimum_is_refused() {
        let cfg = CoreConfig {
            max_outbuf: 1000,
            ..CoreConfig::default()
        };
        assert_eq!(
            cfg.validate(),
            Err(ConfigError::MaxOutbuf {
                min: 52 * 4104,
                got: 1000
            })
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let base = CoreConfig::default();
        let bad = [
            CoreConfig {
                max_payload: 511,
                ..base.clone()
            },
            CoreConfig {
                default_room: Some("a b".into()),
                ..base.clone()
            },
            CoreConfig {
                max_rooms_per_client: 0,
                ..base.clone()
            },
            CoreConfig {
                rate: Some(RateLimit {
                    per_sec: 0.0,
                    burst: 1,
                }),
                ..base.clone()
            },
            CoreConfig {
                max_connections: 0,
                ..base.clone()
            },
        ];
        for cfg in bad {
            assert!(cfg.validate().is_err(), "{cfg:?}");
        }
    }
}
