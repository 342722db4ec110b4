//! Live reload (SIGHUP, or a [`ReloadHandle`]): the settings are put
//! together again (the config file, the users file, the certificate and
//! key: everything `stxchat server` read at start) on a thread of their own,
//! never on the event loop, and handed back through the loop's waker. The
//! loop then applies what can change live (see [`LIVE_KEYS`]) and logs the
//! rest as needing a restart; a load that fails changes nothing.
//!
//! What changed is found by comparing the settings by their flag names
//! ([`Values`]), so a flag added to `stxchat server` is covered without
//! being listed here: it needs a restart unless it is in [`LIVE_KEYS`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use mio::Waker;

use crate::server::config::ServerConfig;

/// Every setting by its flag name (`max-payload`), with its raw values as
/// given (none when unset). Secrets are included: they are compared, never
/// logged.
pub type Values = BTreeMap<String, Vec<String>>;

/// The settings that a reload applies while running. The users file and
/// the certificate and key are re-read on every reload even when their
/// names did not change.
pub const LIVE_KEYS: &[&str] = &[
    "password",
    "users",
    "registered-only",
    "rate",
    "burst",
    "max-connections",
    "max-connections-per-ip",
    "presence-limit",
    "tls-cert",
    "tls-key",
];

/// Settings loaded afresh: the server's, and the values they came from.
#[derive(Debug)]
pub struct Loaded {
    /// The checked settings, files read.
    pub config: ServerConfig,
    /// The settings by flag name (empty for a server configured in code:
    /// then only the live settings are taken, and nothing is reported).
    pub values: Values,
}

/// What puts the settings together again: runs on the reload thread; an
/// error says why, for the log.
pub type LoadFn = Arc<dyn Fn() -> Result<Loaded, String> + Send + Sync>;

/// Which changed settings a reload applies and which need a restart.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Changed settings applied now (flag names).
    pub live: Vec<String>,
    /// Changed settings left as they are until a restart (flag names).
    pub restart: Vec<String>,
}

/// Compares the running values with the freshly loaded ones.
pub fn plan(running: &Values, fresh: &Values) -> Plan {
    let mut p = Plan::default();
    let empty = Vec::new();
    let keys: std::collections::BTreeSet<&String> = running.keys().chain(fresh.keys()).collect();
    for key in keys {
        let old = running.get(key).unwrap_or(&empty);
        let new = fresh.get(key).unwrap_or(&empty);
        if old == new {
            continue;
        }
        if LIVE_KEYS.contains(&key.as_str()) {
            p.live.push(key.clone());
        } else {
            p.restart.push(key.clone());
        }
    }
    p
}

/// The values in force after a reload that followed `plan`: the fresh ones,
/// except the settings that need a restart, which keep their running value
/// (so the next reload reports them again).
pub fn merged(running: &Values, fresh: &Values, plan: &Plan) -> Values {
    let mut out = fresh.clone();
    for key in &plan.restart {
        match running.get(key) {
            Some(v) => out.insert(key.clone(), v.clone()),
            None => out.remove(key),
        };
    }
    out
}

/// Asks a running server to reload, from any thread (SIGHUP does the same).
#[derive(Clone, Debug)]
pub struct ReloadHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ReloadHandle {
    /// Asks for a reload; returns at once (the result is logged).
    pub fn reload(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// The loop's side of reloading: at most one load runs at a time; a request
/// during one runs another after it (the files may have changed since).
pub struct Reloader {
    load: Option<LoadFn>,
    values: Values,
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
    tx: mpsc::Sender<Result<Loaded, String>>,
    rx: mpsc::Receiver<Result<Loaded, String>>,
    in_flight: bool,
    again: bool,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("enabled", &self.load.is_some())
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl Reloader {
    /// A reloader that wakes the loop through `waker`; off until
    /// [`Reloader::enable`].
    pub fn new(waker: Arc<Waker>) -> Reloader {
        let (tx, rx) = mpsc::channel();
        Reloader {
            load: None,
            values: Values::new(),
            flag: Arc::new(AtomicBool::new(false)),
            waker,
            tx,
            rx,
            in_flight: false,
            again: false,
        }
    }

    /// Reloads will run `load`; `values` are the settings in force now.
    pub fn enable(&mut self, values: Values, load: LoadFn) {
        self.values = values;
        self.load = Some(load);
    }

    /// A handle that asks for a reload.
    pub fn handle(&self) -> ReloadHandle {
        ReloadHandle {
            flag: self.flag.clone(),
            waker: self.waker.clone(),
        }
    }

    /// The settings in force, by flag name.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Records the values in force after a reload.
    pub fn set_values(&mut self, values: Values) {
        self.values = values;
    }

    /// Asks for a reload (a SIGHUP): starts loading now, or after the load
    /// under way.
    pub fn request(&mut self) {
        if self.in_flight {
            self.again = true;
            return;
        }
        let Some(load) = self.load.clone() else {
            tracing::warn!(target: "stxchat::reload", "reload asked for, but this server has no settings to reload");
            return;
        };
        let tx = self.tx.clone();
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new()
            .name("stxchat-reload".into())
            .spawn(move || {
                let result = load();
                let _ = tx.send(result);
                let _ = waker.wake();
            });
        match spawned {
            Ok(_) => {
                self.in_flight = true;
                tracing::info!(target: "stxchat::reload", "reloading the settings");
            }
            Err(e) => {
                tracing::error!(target: "stxchat::reload", error = %e, "reload failed: cannot start the reload thread; keeping the running settings");
            }
        }
    }

    /// A finished load, if one came back (called every loop turn; also
    /// starts the loads asked for through a [`ReloadHandle`]).
    pub fn poll(&mut self) -> Option<Result<Loaded, String>> {
        if self.flag.swap(false, Ordering::SeqCst) {
            self.request();
        }
        if !self.in_flight {
            return None;
        }
        let got = match self.rx.try_recv() {
            Ok(r) => r,
            Err(mpsc::TryRecvError::Empty) => return None,
            Err(mpsc::TryRecvError::Disconnected) => Err("the reload thread stopped".into()),
        };
        self.in_flight = false;
        if std::mem::take(&mut self.again) {
            self.request();
        }
        Some(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    #[test]
    fn live_and_restart_settings_are_told_apart() {
        let old = vals(&[("password", "a"), ("bind", "127.0.0.1:1"), ("rate", "5")]);
        let new = vals(&[
            ("password", "b"),
            ("bind", "127.0.0.1:2"),
            ("rate", "5"),
            ("node", "n1"),
        ]);
        let p = plan(&old, &new);
        assert_eq!(p.live, vec!["password"]);
        assert_eq!(p.restart, vec!["bind", "node"]);
        let m = merged(&old, &new, &p);
        assert_eq!(m["password"], vec!["b"]);
        assert_eq!(m["bind"], vec!["127.0.0.1:1"], "still the running one");
        assert!(!m.contains_key("node"), "not set while running");
        assert_eq!(
            plan(&m, &new).restart,
            vec!["bind", "node"],
            "reported again"
        );
    }

    #[test]
    fn a_setting_unset_or_removed_counts_as_changed() {
        let old = vals(&[("users", "/etc/u")]);
        let p = plan(&old, &Values::new());
        assert_eq!(p.live, vec!["users"]);
        assert!(p.restart.is_empty());
        assert_eq!(plan(&old, &old), Plan::default());
    }

    #[test]
    fn loads_run_off_the_loop_one_at_a_time() {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(1)).unwrap());
        let mut r = Reloader::new(waker);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        r.enable(
            Values::new(),
            Arc::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
                Err("nope".into())
            }),
        );
        r.handle().reload();
        r.request();
        let mut results = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while results < 2 && std::time::Instant::now() < deadline {
            if let Some(res) = r.poll() {
                assert_eq!(res.unwrap_err(), "nope");
                results += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(results, 2, "the request during a load ran after it");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(r.poll().is_none());
    }
}
