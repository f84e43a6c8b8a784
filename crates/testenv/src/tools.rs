use std::path::{Path, PathBuf};
use std::process::Command;

use crate::StartError;

/// Paths of the pinned control-plane binaries.
#[derive(Debug, Clone)]
pub struct ToolPaths {
    /// Directory holding every binary.
    pub dir: PathBuf,
}

impl ToolPaths {
    /// Path of one binary in the tool directory (`etcd`, `kube-apiserver`, `kubectl`, `helm`, ...).
    pub fn binary(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The repository's `hack/ensure-tools.sh`.
pub fn ensure_tools_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/ensure-tools.sh")
}

/// Runs `hack/ensure-tools.sh` (idempotent: it builds only missing binaries) and returns where the
/// binaries are.
pub fn ensure_tools() -> Result<ToolPaths, StartError> {
    let script = ensure_tools_script();
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| StartError::Tools {
            message: format!("could not run {}: {e}", script.display()),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(StartError::Tools {
            message: format!(
                "{} exited with {}: {}",
                script.display(),
                output.status,
                stderr.trim()
            ),
        });
    }
    let dir = stdout
        .lines()
        .last()
        .map(PathBuf::from)
        .ok_or_else(|| StartError::Tools {
            message: format!("{} printed no tool directory", script.display()),
        })?;
    Ok(ToolPaths { dir })
}
