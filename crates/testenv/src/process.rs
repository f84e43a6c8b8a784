//! Child processes of a control plane, their log files, and the watchdog that removes them when
//! the owning process dies without running destructors.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::StartError;

/// A running child whose stdout and stderr go to `log`, with what it takes to start it again.
pub(crate) struct ManagedProcess {
    pub log: PathBuf,
    child: Child,
    binary: PathBuf,
    args: Vec<String>,
    pid_file: PathBuf,
}

impl ManagedProcess {
    /// Spawns `binary args...` in its own process group (so a terminal's Ctrl-C reaches only the
    /// test runner, whose watchdog then tears everything down in order), appending its pid to
    /// `pid_file` for the watchdog.
    pub fn spawn(
        name: &str,
        step: &'static str,
        binary: &Path,
        args: &[String],
        log_dir: &Path,
        pid_file: &Path,
    ) -> Result<Self, StartError> {
        let log = log_dir.join(format!("{name}.log"));
        File::create(&log).map_err(|e| StartError::prepare(step, e))?;
        let child = start_child(step, binary, args, &log, pid_file)?;
        Ok(ManagedProcess {
            log,
            child,
            binary: binary.to_path_buf(),
            args: args.to_vec(),
            pid_file: pid_file.to_path_buf(),
        })
    }

    /// Stops the process (SIGTERM, SIGKILL after `grace`) and starts it again with the same
    /// binary and arguments, its output appended to the same log. The caller waits for readiness.
    pub fn restart(&mut self, step: &'static str, grace: Duration) -> Result<(), StartError> {
        self.stop(grace);
        self.child = start_child(step, &self.binary, &self.args, &self.log, &self.pid_file)?;
        Ok(())
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `probe` every `every` while this process runs, until it answers `Ok`; fails with
    /// the last problem it reported and this process's log after `timeout`, or at once when the
    /// process exits.
    pub async fn wait_until<Fut>(
        &mut self,
        step: &'static str,
        timeout: Duration,
        every: Duration,
        mut probe: impl FnMut() -> Fut,
    ) -> Result<(), StartError>
    where
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running(step)?;
            let last_problem = match probe().await {
                Ok(()) => return Ok(()),
                Err(problem) => problem,
            };
            if Instant::now() > deadline {
                return Err(StartError::NotReady {
                    step,
                    seconds: timeout.as_secs(),
                    last_problem,
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Fails with [`StartError::Exited`] if the process has already exited.
    pub fn check_running(&mut self, step: &'static str) -> Result<(), StartError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(StartError::Exited {
                step,
                status: status.to_string(),
                log: self.log.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; always reaps the child so no zombie remains.
    pub fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary args...` in its own process group, output appended to `log`, and records its
/// pid in `pid_file` for the watchdog.
fn start_child(
    step: &'static str,
    binary: &Path,
    args: &[String],
    log: &Path,
    pid_file: &Path,
) -> Result<Child, StartError> {
    let out = OpenOptions::new()
        .append(true)
        .open(log)
        .map_err(|e| StartError::prepare(step, e))?;
    let err = out.try_clone().map_err(|e| StartError::prepare(step, e))?;
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| StartError::Spawn {
            step,
            binary: binary.to_path_buf(),
            source,
        })?;
    let mut pids = OpenOptions::new()
        .create(true)
        .append(true)
        .open(pid_file)
        .map_err(|e| StartError::prepare(step, e))?;
    writeln!(pids, "{}", child.id()).map_err(|e| StartError::prepare(step, e))?;
    Ok(child)
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell loop that waits for the owning process to die, then stops every pid in `pid_file`
/// and removes the directories. Dropping the handle (normal teardown) stops the watchdog itself.
pub struct Watchdog {
    child: Child,
}

/// Waits for the owner to die, then stops every pid in the pid file; the caller's script follows
/// with its own positional arguments in `"$@"`.
const WAIT_AND_KILL: &str = r#"
owner="$1"; pids="$2"; shift 2
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
if [ -f "$pids" ]; then
  for p in $(cat "$pids"); do kill -TERM "$p" 2>/dev/null; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    alive=0
    for p in $(cat "$pids"); do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for p in $(cat "$pids"); do kill -KILL "$p" 2>/dev/null; done
fi
"#;

impl Watchdog {
    /// Starts watching this process; on its death, stops the pids in `pid_file` and removes `dirs`.
    pub fn start(pid_file: &Path, dirs: &[&Path]) -> Result<Self, StartError> {
        Self::start_script(pid_file, "rm -rf \"$@\"\n", dirs)
    }

    /// Like [`Watchdog::start`], but after stopping the pids it runs the bash `script` with `args`
    /// as its positional parameters (a node's sweep of containers, mounts and cgroups).
    pub(crate) fn start_script(
        pid_file: &Path,
        script: &str,
        args: &[&Path],
    ) -> Result<Self, StartError> {
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!("{WAIT_AND_KILL}{script}"))
            .arg("vaultsync-testenv-watchdog")
            .arg(std::process::id().to_string())
            .arg(pid_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| StartError::Spawn {
                step: "start watchdog",
                binary: PathBuf::from("bash"),
                source,
            })?;
        Ok(Watchdog { child })
    }

    /// The watchdog's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a process with this pid still exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Ties an extra process (an operator under test, say) to the owning process: when the owner
/// dies, however it dies, the watchdog stops `pid`. Keep the returned guard alive as long as the
/// process should run; dropping it stops only the watchdog.
pub fn guard_pid(pid: u32) -> std::io::Result<Watchdog> {
    let pid_file =
        std::env::temp_dir().join(format!("vaultsync-guard-{}-{pid}", std::process::id()));
    std::fs::write(&pid_file, format!("{pid}\n"))?;
    Watchdog::start(&pid_file, &[pid_file.as_path()])
        .map_err(|e| std::io::Error::other(e.to_string()))
}
