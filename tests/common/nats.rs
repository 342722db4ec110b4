//! A `nats-server -js` of the test's own: started on a free port with a
//! fresh store directory, stopped by PID on drop (the directory removed),
//! and restartable on the same port and store (the restart tests).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{WAIT, free_port};

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// The NATS server binary (Debian's package installs it in /usr/sbin).
fn binary() -> String {
    if let Ok(p) = std::env::var("NATS_SERVER") {
        return p;
    }
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "nats-server".into()
}

/// A running `nats-server -js` on 127.0.0.1.
pub struct Nats {
    child: Option<Child>,
    /// Its client port.
    pub port: u16,
    /// Its JetStream store.
    pub dir: PathBuf,
}

impl Nats {
    /// Starts one and waits until it serves (its INFO line says JetStream).
    pub fn start() -> Nats {
        let dir = std::env::temp_dir().join(format!(
            "stxchat-nats-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the NATS store directory");
        let mut n = Nats {
            child: None,
            port: free_port(),
            dir,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server (install it: apt-get install nats-server)");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if self.serves() {
                return;
            }
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("nats-server exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not start serving"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it answers with an INFO line that announces JetStream.
    fn serves(&self) -> bool {
        let Ok(s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).is_ok()
            && line.starts_with("INFO ")
            && line.contains("\"jetstream\":true")
    }

    /// Its URL for `--cluster`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it (SIGKILL, by PID) and waits for it; the store stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill on our own child's PID.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
