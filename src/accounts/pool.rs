//! A small pool of threads that check passwords (argon2 costs milliseconds,
//! so never on the event loop). Jobs go in through a bounded queue that
//! refuses when full; verdicts come back through a channel, and a notify
//! callback (the loop's `mio::Waker`) tells the loop to collect them.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::accounts::hash::Verifier;

/// One password to check for a pending connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyJob {
    /// The connection's slot in the engine.
    pub id: usize,
    /// The connection's serial (a verdict for a slot reused since is stale).
    pub serial: u64,
    /// The connection's address (checks in flight are counted per address).
    pub peer: std::net::IpAddr,
    /// The HELLO's token.
    pub token: String,
    /// The nick's PHC string from the users file.
    pub phc: Arc<str>,
}

/// The result of one [`VerifyJob`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The job's connection slot.
    pub id: usize,
    /// The job's connection serial.
    pub serial: u64,
    /// The job's connection address.
    pub peer: std::net::IpAddr,
    /// Whether the token matched.
    pub ok: bool,
}

/// Called by a worker after it sent a verdict (wakes the loop).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// The worker threads and their two channels.
pub struct VerifyPool {
    jobs: Option<SyncSender<VerifyJob>>,
    verdicts: Receiver<Verdict>,
    workers: Vec<JoinHandle<()>>,
    queue: usize,
}

impl std::fmt::Debug for VerifyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyPool")
            .field("workers", &self.workers.len())
            .field("queue", &self.queue)
            .finish()
    }
}

impl VerifyPool {
    /// Starts `threads` workers (at least 1) behind a queue of `queue` jobs.
    pub fn new(threads: usize, queue: usize, notify: Notify) -> std::io::Result<VerifyPool> {
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<VerifyJob>(queue);
        let (verdict_tx, verdict_rx) = std::sync::mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let rx = job_rx.clone();
            let tx = verdict_tx.clone();
            let notify = notify.clone();
            let handle = std::thread::Builder::new()
                .name(format!("stxchat-auth-{i}"))
                .spawn(move || {
                    let mut verifier = Verifier::new();
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let ok = verifier.verify(&job.phc, &job.token);
                        let verdict = Verdict {
                            id: job.id,
                            serial: job.serial,
                            peer: job.peer,
                            ok,
                        };
                        if tx.send(verdict).is_err() {
                            return;
                        }
                        notify();
                    }
                })?;
            workers.push(handle);
        }
        Ok(VerifyPool {
            jobs: Some(job_tx),
            verdicts: verdict_rx,
            workers,
            queue,
        })
    }

    /// A sensible worker count for this machine: half the cores (the loop
    /// keeps one), at least 1, at most 4.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .clamp(1, 4)
    }

    /// Queues a job; gives it back if the queue is full.
    pub fn submit(&self, job: VerifyJob) -> Result<(), VerifyJob> {
        let Some(tx) = &self.jobs else {
            return Err(job);
        };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => Err(j),
        }
    }

    /// The next finished verdict, if any.
    pub fn try_recv(&self) -> Option<Verdict> {
        self.verdicts.try_recv().ok()
    }
}

impl Drop for VerifyPool {
    fn drop(&mut self) {
        // Closing the queue ends each worker after its current job.
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::hash::{cheap_params, hash_password};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn verdicts_come_back_with_a_notify_and_a_full_queue_refuses() {
        let phc: Arc<str> = hash_password("pw", &cheap_params()).unwrap().into();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        // The worker blocks in its first notify until the flood is over, so
        // at most 1 (its job) + 2 (the queue) jobs are ever accepted.
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let pool = VerifyPool::new(
            1,
            2,
            Arc::new(move || {
                let _ = gate.lock().unwrap().recv();
                w.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        let job = |id, token: &str| VerifyJob {
            id,
            serial: id as u64 + 100,
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            token: token.into(),
            phc: phc.clone(),
        };
        assert!(pool.submit(job(1, "pw")).is_ok());
        let mut refused = 0;
        for i in 2..200 {
            if pool.submit(job(i, "no")).is_err() {
                refused += 1;
            }
        }
        assert!(refused >= 196, "only 3 fit, {refused} refused");
        drop(gate_tx);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 199 - refused && Instant::now() < deadline {
            match pool.try_recv() {
                Some(v) => got.push(v),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        assert_eq!(got.len(), 199 - refused);
        assert!(got.contains(&Verdict {
            id: 1,
            serial: 101,
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            ok: true
        }));
        assert!(got.iter().filter(|v| v.id != 1).all(|v| !v.ok));
        // Each verdict is followed by its notify.
        while woken.load(Ordering::SeqCst) < got.len() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(woken.load(Ordering::SeqCst), got.len());
    }
}
