//! Runs the Python conformance suite (official azure-keyvault-* and azure-identity packages)
//! against the emulator binary. Fails, never skips, when python3 or pytest is missing.

use std::process::Command;

#[test]
fn python_sdk_conformance() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .args(["-m", "pytest", "tests/python", "-q", "-p", "no:cacheprovider"])
        .current_dir(manifest)
        .env("VAULTSYNC_EMULATOR_BIN", env!("CARGO_BIN_EXE_vaultsync-emulator"))
        .output()
        .expect("python3 must be installed (pip install -r crates/emulator/tests/python/requirements.txt)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pytest failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed"), "pytest ran no test:\n{stdout}");
}
