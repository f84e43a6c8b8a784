//! The README's demo, end to end: the same binary `hack/demo.sh --exit` runs (built by
//! `cargo test` with the other examples) starts its own control plane, emulator and operator,
//! syncs both examples and prints them.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::eventually::eventually_blocking;

fn demo_binary() -> PathBuf {
    let operator = PathBuf::from(env!("CARGO_BIN_EXE_vaultsync"));
    operator
        .parent()
        .expect("target directory")
        .join("examples")
        .join("demo")
}

#[test]
fn demo_syncs_both_examples_and_exits() {
    let binary = demo_binary();
    assert!(
        binary.exists(),
        "{} missing: cargo test builds examples",
        binary.display()
    );
    let mut child = Command::new(&binary)
        .arg("--exit")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually_blocking("the demo finishing", Duration::from_secs(300), || {
            let exited = child.try_wait().unwrap();
            exited.map(drop).ok_or_else(|| "still running".to_string())
        })
    }));
    if let Err(panic) = finished {
        let _ = child.kill();
        std::panic::resume_unwind(panic);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            (l.starts_with("vaultsecret") || l.starts_with("vaultcertificate"))
                && !l.ends_with(" created")
                && !l.ends_with(" configured")
        })
        .collect();
    assert_eq!(table.len(), 2, "both resources listed:\n{stdout}");
    assert!(
        table
            .iter()
            .all(|l| l.contains("True") && l.contains("Synced")),
        "both Ready:\n{stdout}"
    );
    assert!(
        stdout.contains("DB_PASSWORD=s3cr3t-demo-password"),
        "{stdout}"
    );
    assert!(stdout.contains("kubernetes.io/tls"), "{stdout}");
    assert!(stdout.contains("web.demo.example"), "{stdout}");
}
