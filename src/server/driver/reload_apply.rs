//! Applying a reload on the loop: the engine takes the live settings, the
//! TLS listener and a TLS admin listener the new certificate (for
//! connections accepted from now on; open ones keep theirs), the rest is
//! logged as needing a restart. On a cluster node the settings every node
//! must share (password, registered-only, presence limit, history, ...) keep
//! their running value whatever the reload says, and the log says why:
//! changing one on one node would silently break the cluster's contract.
//! The files were read and parsed on the reload thread; nothing here blocks.

use crate::core::{Engine, Now};
use crate::server::conn::Io;
use crate::server::listener::ListenerKind;
use crate::server::reload::{Loaded, merged, plan};

use super::Server;

impl Server {
    /// Applies a load that came back, if one did.
    pub(super) fn reload_turn(&mut self, now: Now) {
        if let Some(result) = self.reloader.poll() {
            self.apply_reload(result, now);
        }
    }

    fn apply_reload(&mut self, result: Result<Loaded, String>, now: Now) {
        let loaded = match result {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(target: "stxchat::reload", "reload failed, keeping the running settings: {e}");
                return;
            }
        };
        let mut plan = plan(self.reloader.values(), &loaded.values);
        let mut fresh = loaded.config;
        if fresh.auto_max_connections {
            fresh.core.max_connections = self.auto_capacity;
        }
        // Cluster: the shared settings stay (kept like those that need a
        // restart, so the next reload reports them again).
        let mut kept = Vec::new();
        if self.cluster.is_some() {
            kept = Engine::<Io>::keep_cluster_settings(&mut fresh.core, &self.cfg.core);
            plan.live.retain(|k| !kept.contains(k));
            plan.restart.retain(|k| !kept.contains(k));
        }
        if let Err(e) = self.engine.reconfigure(&fresh.core, now) {
            tracing::error!(target: "stxchat::reload", "reload failed, keeping the running settings: {e}");
            return;
        }
        self.cfg.core = self.engine.config().clone();
        self.cfg.auto_max_connections = fresh.auto_max_connections;
        let mut certificate = "none";
        if let (Some(running), Some(new)) = (&mut self.cfg.tls, &fresh.tls)
            && running.bind == new.bind
        {
            for l in &mut self.listeners {
                if let ListenerKind::Tls(cfg) = &mut l.kind {
                    *cfg = new.config.clone();
                }
            }
            running.cert = new.cert.clone();
            running.key = new.key.clone();
            running.config = new.config.clone();
            certificate = "reloaded (for new connections)";
        }
        // The admin listener serves the same certificate (`--admin-tls`,
        // itself restart-only: a reload neither turns it on nor off).
        if let (Some(running), Some(new)) = (&mut self.cfg.admin.tls, &fresh.admin.tls)
            && self.admin.replace_tls_config(new.config.clone())
        {
            running.cert = new.cert.clone();
            running.key = new.key.clone();
            running.config = new.config.clone();
            certificate = "reloaded (for new connections)";
        }
        let mut keep = plan.clone();
        keep.restart.extend(kept.iter().cloned());
        let values = merged(self.reloader.values(), &loaded.values, &keep);
        self.reloader.set_values(values);
        let users = self.cfg.core.users.as_ref().map_or(0, |u| u.len());
        tracing::info!(
            target: "stxchat::reload",
            changed = ?plan.live,
            users,
            certificate,
            "reloaded: {} setting(s) changed live, users file {users} nick(s), certificate {certificate}",
            plan.live.len(),
        );
        if !kept.is_empty() {
            tracing::warn!(
                target: "stxchat::reload",
                kept = ?kept,
                "reload: these settings must be the same on every node of the cluster, so they keep their running value on this node: {}; to change them, change them on every node and restart the whole cluster",
                kept.join(", ")
            );
        }
        if !plan.restart.is_empty() {
            tracing::warn!(
                target: "stxchat::reload",
                needs_restart = ?plan.restart,
                "reload: these settings changed but need a restart to take effect (still running with the old ones): {}",
                plan.restart.join(", ")
            );
        }
    }
}
