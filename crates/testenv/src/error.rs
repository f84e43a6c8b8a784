use std::path::PathBuf;

/// Why a control plane could not be started. Every variant names the step and, where one exists,
/// the log file that explains it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `hack/ensure-tools.sh` failed (Go missing, a build failure, ...).
    #[error("step 'ensure tools' failed: {message}")]
    Tools { message: String },
    /// A process could not be spawned at all.
    #[error("step '{step}' failed: could not spawn {binary}: {source}")]
    Spawn {
        step: &'static str,
        binary: PathBuf,
        source: std::io::Error,
    },
    /// A process exited before it became ready (a port clash, a bad flag, ...).
    #[error(
        "step '{step}' failed: the process exited ({status}) before it became ready; read {log}"
    )]
    Exited {
        step: &'static str,
        status: String,
        log: PathBuf,
    },
    /// A process kept running but never became ready within the bounded wait.
    #[error("step '{step}' timed out after {seconds}s: {last_problem}; read {log}")]
    NotReady {
        step: &'static str,
        seconds: u64,
        last_problem: String,
        log: PathBuf,
    },
    /// A command of a step failed (an image import, say); its output is in `log`.
    #[error("step '{step}' failed: {message}; read {log}")]
    Failed {
        step: &'static str,
        message: String,
        log: PathBuf,
    },
    /// Preparing files (certificates, kubeconfig, directories) failed.
    #[error("step '{step}' failed: {message}")]
    Prepare { step: &'static str, message: String },
}

impl StartError {
    /// The log file the error names, if any.
    pub fn log(&self) -> Option<&std::path::Path> {
        match self {
            StartError::Exited { log, .. }
            | StartError::NotReady { log, .. }
            | StartError::Failed { log, .. } => Some(log),
            _ => None,
        }
    }

    pub(crate) fn prepare(step: &'static str, err: impl std::fmt::Display) -> Self {
        StartError::Prepare {
            step,
            message: err.to_string(),
        }
    }
}
