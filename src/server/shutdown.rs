//! Stopping a running server from another thread (or a signal handler path).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::Waker;

/// A cloneable handle that asks a running server to shut down: stop
/// accepting, send ERROR shutting_down to every client, flush briefly, return.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    pub(crate) fn new(waker: Arc<Waker>) -> Self {
        ShutdownHandle {
            flag: Arc::new(AtomicBool::new(false)),
            waker,
        }
    }

    /// Asks the server to shut down; returns at once.
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Whether shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}
