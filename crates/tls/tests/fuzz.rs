//! No input may panic `convert`.
//!
//! Property tests feed arbitrary and mutated inputs; `mutation_fuzz_long_run`
//! is a cargo-fuzz-free fuzzer whose size is set by `VAULTSYNC_FUZZ_CASES`
//! (default 3000) and optionally capped by `VAULTSYNC_FUZZ_SECONDS`; seed
//! with `VAULTSYNC_FUZZ_SEED` to replay. A long run:
//!
//! ```text
//! VAULTSYNC_FUZZ_CASES=200000 VAULTSYNC_FUZZ_SECONDS=600 \
//!   cargo test --release -p vaultsync-tls --test fuzz mutation_fuzz_long_run -- --nocapture
//! ```

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::mutate::{Rng, Seeds, case, seeds};
use proptest::prelude::*;
use vaultsync_tls::{BackingFormat, ConvertOptions, TlsError, convert};

fn shared_seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(seeds)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whatever comes back must be well-behaved: errors have a reason and no
/// key text in their message.
fn check(value: &str, format: BackingFormat, options: &ConvertOptions) {
    match convert(value, format, options) {
        Ok(b) => assert!(!format!("{b:?}").contains("PRIVATE KEY")),
        Err(e) => check_error(&e),
    }
}

fn check_error(e: &TlsError) {
    assert!(!e.reason().is_empty());
    let text = e.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("-----"),
        "{text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(env_num("VAULTSYNC_PROPTEST_CASES", 256) as u32))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,400}") {
        check(&s, BackingFormat::Pem, &ConvertOptions::new(0));
        check(&s, BackingFormat::Pkcs12, &ConvertOptions::new(0));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&STANDARD.encode(&bytes), BackingFormat::Pkcs12, &ConvertOptions::new(0));
        check(&String::from_utf8_lossy(&bytes), BackingFormat::Pem, &ConvertOptions::new(0));
    }

    #[test]
    fn pem_shaped_garbage_never_panics(
        label in "(CERTIFICATE|PRIVATE KEY|RSA PRIVATE KEY|EC PRIVATE KEY|[A-Z ]{0,12})",
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let text = format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(&body)
        );
        check(&text, BackingFormat::Pem, &ConvertOptions::new(0));
    }

    #[test]
    fn mutated_valid_inputs_never_panic(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let (value, format, options) = case(&mut rng, shared_seeds());
        check(&value, format, &options);
    }
}

#[test]
fn mutation_fuzz_long_run() {
    let cases = env_num("VAULTSYNC_FUZZ_CASES", 3000);
    let limit = Duration::from_secs(env_num("VAULTSYNC_FUZZ_SECONDS", u64::MAX / 4));
    let seed = env_num("VAULTSYNC_FUZZ_SEED", 0x5eed_f00d);
    let seeds = shared_seeds();
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let (mut done, mut accepted) = (0u64, 0u64);
    while done < cases && start.elapsed() < limit {
        let (value, format, options) = case(&mut rng, seeds);
        let outcome = catch_unwind(AssertUnwindSafe(|| convert(&value, format, &options)));
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => check_error(&e),
            Err(_) => {
                let path = std::env::temp_dir().join(format!("vaultsync-tls-crash-{seed}-{done}"));
                std::fs::write(&path, &value).ok();
                panic!(
                    "convert panicked on input #{done} ({format:?}), saved to {}",
                    path.display()
                );
            }
        }
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz: {done} inputs in {secs:.1} s ({:.0}/s), {accepted} still converted, seed {seed}",
        done as f64 / secs.max(1e-9)
    );
    assert!(done > 0);
}
