//! Accepting connections: from every listener until `WouldBlock` (pausing
//! when out of descriptors), admitting each with its listener's transport,
//! and adopting the web listener's WebSocket upgrades.

use std::io::{self, IoSlice};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::core::Now;
use crate::server::conn::Io;
use crate::server::listener::ListenerKind;
use crate::server::transport::Transport;
use crate::web::{Service, Upgraded};

use super::{Server, is_resource_exhaustion};

impl Server {
    /// Accepts from every listener with waiting connections until
    /// `WouldBlock`, pausing briefly when out of descriptors.
    pub(super) fn accept_all(&mut self, now: Now) {
        if !self.accepting() {
            // Cluster mode before the replica is in place: they wait in
            // the listen backlog (`pending` stays set).
            return;
        }
        if let Some(until) = self.accept_paused_until {
            if now.mono_ms < until {
                return;
            }
            self.accept_paused_until = None;
        }
        for i in 0..self.listeners.len() {
            if self.listeners[i].pending && !self.accept_from(i, now) {
                return;
            }
        }
    }

    /// Accepts from listener `i` until `WouldBlock`; false if accepting
    /// paused (out of descriptors).
    pub(super) fn accept_from(&mut self, i: usize, now: Now) -> bool {
        loop {
            let Some(listener) = self.listeners.get_mut(i) else {
                return true;
            };
            match listener.socket.accept() {
                Ok((stream, peer)) => {
                    if self.fd_episode {
                        self.fd_episode = false;
                        tracing::info!(target: "stxchat::server", "accepting again");
                    }
                    let kind = listener.kind.clone();
                    self.admit(&kind, stream, peer, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    listener.pending = false;
                    return true;
                }
                Err(e) if is_resource_exhaustion(&e) => {
                    if !self.fd_episode {
                        self.fd_episode = true;
                        tracing::warn!(
                            target: "stxchat::server",
                            error = %e,
                            "out of file descriptors: pausing accept, still serving {} connections",
                            self.engine.len()
                        );
                    }
                    self.accept_paused_until =
                        Some(now.mono_ms + self.cfg.accept_backoff.as_millis() as u64);
                    // Edge-triggered: no new event will come for the waiting
                    // ones, so `pending` stays set.
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(target: "stxchat::server", error = %e, "accept failed");
                }
            }
        }
    }

    pub(super) fn admit(
        &mut self,
        kind: &ListenerKind,
        stream: TcpStream,
        peer: SocketAddr,
        now: Now,
    ) {
        let mut transport = match kind.transport(stream) {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(target: "stxchat::conn", peer = %peer, error = %e, transport = kind.name(), "cannot set up the transport");
                return;
            }
        };
        if self.engine.admit(peer.ip()).is_err() {
            let mut frame = Vec::new();
            self.engine.refuse(&mut frame);
            let _ = transport.write(&[IoSlice::new(&frame)]);
            transport.abort();
            tracing::info!(target: "stxchat::conn", peer = %peer, "refused: server full");
            return;
        }
        let _ = transport.stream().set_nodelay(true);
        let gateway = transport.is_gateway();
        let id = if gateway {
            self.engine.accept_gateway(peer, Io::new(transport), now)
        } else {
            self.engine.accept(peer, Io::new(transport), now)
        };
        let registered = match self.engine.io_mut(id) {
            Some(io) => {
                self.poll
                    .registry()
                    .register(io.transport.stream(), Token(id), Interest::READABLE)
            }
            None => return,
        };
        if let Err(e) = registered {
            tracing::warn!(target: "stxchat::server", error = %e, "cannot register connection");
            self.finish(id, now);
        }
    }

    /// The web listener's turn: HTTP requests answered, finished WebSocket
    /// upgrades adopted (chat ones as connections of the engine, admin ones
    /// by the admin hub).
    pub(super) fn web_turn(&mut self, now: Now) {
        if !self.accepting() {
            // Cluster mode before the replica is in place: web clients wait
            // in the listen backlog like the others (the pending flag stays).
            return;
        }
        let Some(web) = &mut self.web else {
            return;
        };
        let ctx = crate::web::http::RouteContext {
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            admin_on: self.admin.is_on(),
            admin_token: self.admin.token_required(),
        };
        web.turn(self.poll.registry(), ctx, now.mono_ms);
        let upgrades: Vec<Upgraded> = web.take_upgrades().collect();
        for up in upgrades {
            self.adopt_web(up, now);
        }
    }

    /// Takes over a connection the web listener upgraded to WebSocket.
    pub(super) fn adopt_web(&mut self, up: Upgraded, now: Now) {
        let Upgraded {
            service,
            peer,
            mut transport,
            early,
        } = up;
        if service == Service::Admin {
            let t = Transport::Ws(Box::new(transport));
            self.admin.adopt(t, peer, &early, self.poll.registry());
            return;
        }
        if self.engine.admit(peer.ip()).is_err() {
            let mut frame = Vec::new();
            self.engine.refuse(&mut frame);
            transport.refuse(&frame);
            tracing::info!(target: "stxchat::conn", peer = %peer, transport = "web", "refused: server full");
            return;
        }
        let id = self
            .engine
            .accept(peer, Io::new(Transport::Ws(Box::new(transport))), now);
        let registered = match self.engine.io_mut(id) {
            Some(io) => {
                self.poll
                    .registry()
                    .register(io.transport.stream(), Token(id), Interest::READABLE)
            }
            None => return,
        };
        if let Err(e) = registered {
            tracing::warn!(target: "stxchat::server", error = %e, "cannot register connection");
            self.finish(id, now);
            return;
        }
        if !early.is_empty() {
            self.engine.on_input(id, &early, now);
        }
        if self
            .engine
            .io_mut(id)
            .is_some_and(|io| io.transport.wants_write())
        {
            self.queue_flush(id);
        }
        // Frames may have followed the upgrade already (edge-triggered).
        self.read_ready(id, now);
    }
}
