//! Runs the Go conformance program (official azidentity, azsecrets, azcertificates and azkeys
//! modules, pinned in tests/go/go.mod and go.sum) against an in-process emulator seeded here.
//! The program is built from the Go module proxy into a cache outside the repository, keyed by
//! the hash of its sources, so only the first run after a change pays for the build. Fails,
//! never skips, when Go is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use vaultsync_emulator::{CertificateImport, Emulator, EmulatorConfig, Permission, SecretOptions};

const VAULT: &str = "govault";
const TENANT: &str = "tenant-go";
const CLIENT: &str = "app-go";
const SUBJECT: &str = "system:serviceaccount:go:reader";

/// Hex SHA-256 of the Go program's sources (go.mod, go.sum, *.go), in name order.
fn source_hash(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/go exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name == "go.mod" || name == "go.sum" || name.ends_with(".go")
        })
        .collect();
    files.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        ctx.update(f.file_name().unwrap().to_string_lossy().as_bytes());
        ctx.update(&std::fs::read(&f).expect("read Go source"));
    }
    hex::encode(ctx.finish())
}

/// The cached conformance binary, built when missing.
fn conformance_binary() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go");
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set")
        .join("vaultsync/go-conformance")
        .join(&source_hash(&src)[..16]);
    let bin = cache.join("emulator-conformance");
    if bin.exists() {
        return bin;
    }
    std::fs::create_dir_all(&cache).expect("create the Go conformance cache");
    let tmp = cache.join(format!("emulator-conformance.{}.tmp", std::process::id()));
    let started = Instant::now();
    let out = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&tmp)
        .arg(".")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .output()
        .expect("the go command must be installed (Go 1.26 or newer)");
    assert!(
        out.status.success(),
        "go build of tests/go failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("move the built binary into place");
    // Builds of older sources are never used again.
    if let Some(root) = cache.parent()
        && let Ok(entries) = std::fs::read_dir(root)
    {
        for old in entries.flatten().filter(|e| e.path() != cache) {
            let _ = std::fs::remove_dir_all(old.path());
        }
    }
    eprintln!(
        "built the Go conformance program in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    bin
}

/// A self-signed certificate and its PKCS#8 key, as one PEM upload.
fn certificate_pem() -> String {
    let c = rcgen::generate_simple_self_signed(vec!["go.example.test".to_owned()])
        .expect("certificate");
    format!("{}{}", c.signing_key.serialize_pem(), c.cert.pem())
}

/// Vault, identity and the objects each Go check reads.
fn seed(emu: &Emulator) {
    let c = emu.control();
    c.set_challenge_resource_port(true);
    c.create_vault(VAULT, TENANT);
    c.register_app(TENANT, CLIENT);
    c.add_federated_credential(CLIENT, c.test_issuer(), SUBJECT);
    let all = [
        Permission::SecretsRead,
        Permission::SecretsWrite,
        Permission::CertificatesRead,
        Permission::List,
        Permission::KeysRead,
        Permission::KeysWrite,
    ];
    c.assign_role(CLIENT, VAULT, &all);
    let set = |name: &str, value: &str, opts: SecretOptions| {
        c.set_secret(VAULT, name, value, opts).expect("seed secret");
    };
    set("go-plain", "plain-value", SecretOptions::default());
    set("go-soft", "soft-value", SecretOptions::default());
    for i in 0..30 {
        set(&format!("go-page-{i:02}"), "x", SecretOptions::default());
    }
    for v in ["v0", "v1", "v2"] {
        set("go-versions", v, SecretOptions::default());
    }
    let off = SecretOptions {
        enabled: false,
        ..SecretOptions::default()
    };
    set("go-off", "disabled-value", off);
    let pem = CertificateImport {
        pem: Some(certificate_pem()),
        ..CertificateImport::default()
    };
    c.import_certificate(VAULT, "go-cert", pem)
        .expect("seed certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sdk_conformance() {
    let bin = tokio::task::spawn_blocking(conformance_binary)
        .await
        .expect("build task");
    let emu = Emulator::start(EmulatorConfig {
        port: 0,
        test_issuer: true,
    })
    .await
    .expect("emulator starts");
    seed(&emu);
    let dir = std::env::temp_dir().join(format!("vaultsync-go-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, emu.ca_pem()).expect("write CA");
    // The projected ServiceAccount token of the workload identity convention.
    let token_file = dir.join("token");
    let token = emu
        .control()
        .mint_test_token(SUBJECT, "api://AzureADTokenExchange", 3600);
    std::fs::write(&token_file, token).expect("write token");
    let mut cmd = Command::new(&bin);
    cmd.env("EMULATOR_PORT", emu.port().to_string())
        .env("EMULATOR_CA_FILE", &ca_file)
        .env("EMULATOR_VAULT", VAULT)
        .env("EMULATOR_TENANT", TENANT)
        .env("EMULATOR_CLIENT", CLIENT)
        .env("EMULATOR_SUBJECT", SUBJECT)
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .env("AZURE_AUTHORITY_HOST", emu.authority_host());
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("run task")
        .expect("run the Go conformance program");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "Go conformance ran in {:.1}s:\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "Go conformance failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "no summary:\n{stdout}"
    );
    // MSAL Go validated the authority through the emulator's discovery documents.
    let counters = emu.control().counters();
    let ok = |op: &str| counters.sum_where(|k| k.operation == op && k.status == 200);
    assert!(
        ok("InstanceDiscovery") >= 1,
        "MSAL Go asked no instance discovery"
    );
    assert!(
        ok("OpenIdConfiguration") >= 1,
        "MSAL Go read no OpenID configuration"
    );
    emu.shutdown().await;
}
