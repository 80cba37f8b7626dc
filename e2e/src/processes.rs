//! The binaries under test as child processes: the ingress serving HTTP (killed with SIGKILL and
//! restarted at will, as Lambda does to a function mid-request), and the sweeper, once or on a
//! schedule. Each incarnation logs to its own file so a lost event can be traced afterwards.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::testing::repo_root;
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(
        "the {name} binary is missing at {path}: run `cargo build --workspace` first \
         (or set {override_var} to the binary)"
    )]
    BinaryMissing {
        name: &'static str,
        path: PathBuf,
        override_var: &'static str,
    },
    #[error("cannot start {path}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the log file {path}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the ingress exited with {status} before listening; last log lines:\n{log_tail}")]
    ExitedAtStart {
        status: ExitStatus,
        log_tail: String,
    },
    #[error(
        "the ingress did not listen on {address} within {limit:?}; last log lines:\n{log_tail}"
    )]
    NotListening {
        address: SocketAddr,
        limit: Duration,
        log_tail: String,
    },
    #[error("waiting for a killed {name} process failed")]
    Wait {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the {name} process (pid {pid}) did not exit within {limit:?} after being killed")]
    Unkillable {
        name: &'static str,
        pid: u32,
        limit: Duration,
    },
}

/// The `ingress` binary: `INGRESS_BIN`, or `<target>/debug/ingress`.
pub fn ingress_binary() -> Result<PathBuf, ProcessError> {
    find_binary("ingress", "INGRESS_BIN")
}

/// The `sweeper` binary: `SWEEPER_BIN`, or `<target>/debug/sweeper`.
pub fn sweeper_binary() -> Result<PathBuf, ProcessError> {
    find_binary("sweeper", "SWEEPER_BIN")
}

fn find_binary(name: &'static str, override_var: &'static str) -> Result<PathBuf, ProcessError> {
    let path = match std::env::var_os(override_var).filter(|value| !value.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let root = repo_root();
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .filter(|value| !value.is_empty())
                .map(|dir| root.join(dir))
                .unwrap_or_else(|| root.join("target"));
            target.join("debug").join(name)
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(ProcessError::BinaryMissing {
            name,
            path,
            override_var,
        })
    }
}

fn log_file(path: &Path) -> Result<(File, File), ProcessError> {
    let error = |source| ProcessError::Log {
        path: path.to_owned(),
        source,
    };
    let stdout = File::create(path).map_err(error)?;
    let stderr = stdout.try_clone().map_err(error)?;
    Ok((stdout, stderr))
}

/// Starts `binary` with exactly `env` and `args`, stdout and stderr to the file `log`, killed
/// if the handle is dropped.
fn spawn_logged(
    binary: &Path,
    env: &[(String, String)],
    args: &[String],
    log: &Path,
) -> Result<Child, ProcessError> {
    let (stdout, stderr) = log_file(log)?;
    Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProcessError::Spawn {
            path: binary.to_owned(),
            source,
        })
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const KILL_WAIT: Duration = Duration::from_secs(15);

async fn kill_and_wait(
    name: &'static str,
    child: &mut Child,
) -> Result<Option<ExitStatus>, ProcessError> {
    let pid = child.id().unwrap_or(0);
    // Already gone is fine: start_kill only fails when the child was reaped.
    let _ = child.start_kill();
    match tokio::time::timeout(KILL_WAIT, child.wait()).await {
        Ok(Ok(status)) => Ok(Some(status)),
        Ok(Err(source)) => Err(ProcessError::Wait { name, source }),
        Err(_) => Err(ProcessError::Unkillable {
            name,
            pid,
            limit: KILL_WAIT,
        }),
    }
}

/// The ingress binary serving HTTP on a fixed address across restarts.
pub struct IngressProcess {
    binary: PathBuf,
    env: Vec<(String, String)>,
    address: SocketAddr,
    log_dir: PathBuf,
    child: Option<Child>,
    incarnation: u32,
}

impl IngressProcess {
    /// Starts the first incarnation and returns once it listens.
    pub async fn start(
        binary: PathBuf,
        env: Vec<(String, String)>,
        address: SocketAddr,
        log_dir: PathBuf,
    ) -> Result<Self, ProcessError> {
        let mut process = Self {
            binary,
            env,
            address,
            log_dir,
            child: None,
            incarnation: 0,
        };
        process.spawn().await?;
        Ok(process)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many times the binary was started.
    pub fn incarnations(&self) -> u32 {
        self.incarnation
    }

    /// The log files of every incarnation so far.
    pub fn logs(&self) -> Vec<PathBuf> {
        (1..=self.incarnation).map(|n| self.log_path(n)).collect()
    }

    fn log_path(&self, incarnation: u32) -> PathBuf {
        self.log_dir.join(format!("ingress-{incarnation}.log"))
    }

    async fn spawn(&mut self) -> Result<(), ProcessError> {
        self.incarnation += 1;
        let log = self.log_path(self.incarnation);
        let mut env = self.env.clone();
        env.push(("INGRESS_LISTEN".to_owned(), self.address.to_string()));
        let mut child = spawn_logged(&self.binary, &env, &[], &log)?;
        let limit = Duration::from_secs(30);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(ProcessError::ExitedAtStart {
                    status,
                    log_tail: log_tail(&log, 20),
                });
            }
            let connect = tokio::net::TcpStream::connect(self.address);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), connect).await {
                break;
            }
            if started.elapsed() > limit {
                let _ = kill_and_wait("ingress", &mut child).await;
                return Err(ProcessError::NotListening {
                    address: self.address,
                    limit,
                    log_tail: log_tail(&log, 20),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no graceful shutdown, requests in flight get no answer.
    pub async fn kill(&mut self) -> Result<(), ProcessError> {
        if let Some(mut child) = self.child.take() {
            kill_and_wait("ingress", &mut child).await?;
        }
        Ok(())
    }

    /// Starts a new incarnation on the same address.
    pub async fn restart(&mut self) -> Result<(), ProcessError> {
        self.kill().await?;
        self.spawn().await
    }
}

/// How a one-shot sweeper run ended.
#[derive(Debug, Clone)]
pub struct SweeperRun {
    /// The exit status; `None` when it was killed for running past its limit.
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
    pub log: PathBuf,
}

impl SweeperRun {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }
}

/// Runs `sweeper` (one sweep over every shard) and waits for it, killing it after `limit`.
pub async fn sweep_once(
    binary: &Path,
    env: &[(String, String)],
    log: PathBuf,
    limit: Duration,
) -> Result<SweeperRun, ProcessError> {
    let started = Instant::now();
    let mut child = spawn_logged(binary, env, &[], &log)?;
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(source)) => {
            return Err(ProcessError::Wait {
                name: "sweeper",
                source,
            })
        }
        Err(_) => {
            kill_and_wait("sweeper", &mut child).await?;
            None
        }
    };
    Ok(SweeperRun {
        status,
        elapsed: started.elapsed(),
        log,
    })
}

/// `sweeper --every N` running beside the ingress, as the schedule runs it in production.
pub struct SweeperSchedule {
    child: Child,
    pub log: PathBuf,
}

impl SweeperSchedule {
    pub fn start(
        binary: &Path,
        env: &[(String, String)],
        every: Duration,
        log: PathBuf,
    ) -> Result<Self, ProcessError> {
        let args = ["--every".to_owned(), every.as_secs().max(1).to_string()];
        let child = spawn_logged(binary, env, &args, &log)?;
        Ok(Self { child, log })
    }

    /// SIGTERM, then SIGKILL if it does not stop within `grace`. Returns its exit status (`None`
    /// when it had to be killed) so the caller can notice a schedule that died early.
    pub async fn stop(mut self, grace: Duration) -> Result<Option<ExitStatus>, ProcessError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(Some(status));
        }
        if let Some(pid) = self.child.id() {
            // tokio cannot send SIGTERM itself; kill(1) can, without adding a libc dependency.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => Ok(Some(status)),
            _ => {
                kill_and_wait("sweeper", &mut self.child).await?;
                Ok(None)
            }
        }
    }
}
