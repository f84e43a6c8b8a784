//! Seeds and mutations for the no-panic fuzz tests: valid inputs of every
//! shape, damaged in ways that reach deep into the parsers.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use vaultsync_tls::{BackingFormat, CaSource, ConvertOptions, KeyFormat};

use super::*;

/// Valid inputs to start mutating from.
pub struct Seeds {
    /// Raw PFX bytes (not base64).
    pub pfx: Vec<Vec<u8>>,
    /// PEM blocks as (label, DER) of complete chains with keys.
    pub pem_sets: Vec<Vec<(String, Vec<u8>)>>,
}

/// Builds seeds for every algorithm and PFX flavour. Cheap PFX (one KDF
/// iteration) dominate so mutations spend time in parsing, not hashing.
pub fn seeds() -> Seeds {
    let mut pfx = Vec::new();
    let mut pem_sets = Vec::new();
    for alg in ALL_ALGS {
        let pki = pki(alg);
        for extra in [&["-iter", "1"][..], &["-legacy", "-iter", "1"][..]] {
            pfx.push(cheap_pfx(&pki, extra));
        }
        let crate_pfx = pfx_crate(&pki.leaf_key_der, &[&pki.leaf, &pki.inter, &pki.root]);
        pfx.push(STANDARD.decode(crate_pfx).unwrap());
        let key_der = pki.leaf_key_der.clone();
        pem_sets.push(vec![
            ("PRIVATE KEY".into(), key_der),
            ("CERTIFICATE".into(), pki.leaf.der.clone()),
            ("CERTIFICATE".into(), pki.inter.der.clone()),
            ("CERTIFICATE".into(), pki.root.der.clone()),
        ]);
    }
    Seeds { pfx, pem_sets }
}

fn cheap_pfx(pki: &Pki, extra: &[&str]) -> Vec<u8> {
    let dir = tempdir();
    std::fs::write(dir.join("k.pem"), &pki.leaf_key_pem).unwrap();
    std::fs::write(
        dir.join("c.pem"),
        pem_join(&[&pki.leaf.pem, &pki.root.pem, &pki.inter.pem]),
    )
    .unwrap();
    let out = Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:"])
        .args(extra)
        .arg("-inkey")
        .arg(dir.join("k.pem"))
        .arg("-in")
        .arg(dir.join("c.pem"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// PEM text for `blocks`.
pub fn pem_text(blocks: &[(String, Vec<u8>)]) -> String {
    blocks
        .iter()
        .map(|(label, der)| {
            let b64 = STANDARD.encode(der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                lines.join("\n")
            )
        })
        .collect()
}

/// A small deterministic PRNG (xorshift64*), so failures replay from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Applies one random structural mutation to `data`.
pub fn mutate(data: &mut Vec<u8>, rng: &mut Rng, donor: &[u8]) {
    if data.is_empty() {
        data.push(rng.next() as u8);
        return;
    }
    let len = data.len();
    let at = rng.below(len);
    match rng.below(9) {
        0 => data[at] ^= 1 << rng.below(8),
        1 => data[at] = rng.next() as u8,
        2 => data[at] = [0x00, 0xff, 0x7f, 0x80, 0x81, 0x82, 0x30][rng.below(7)],
        3 => data.truncate(at),
        4 => {
            let end = (at + 1 + rng.below(16)).min(len);
            data.drain(at..end);
        }
        5 => {
            let end = (at + 1 + rng.below(32)).min(len);
            let copy = data[at..end].to_vec();
            let to = rng.below(data.len());
            data.splice(to..to, copy);
        }
        6 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        7 if !donor.is_empty() => {
            // Splice: our prefix, a donor's suffix.
            let from = rng.below(donor.len());
            data.truncate(at);
            data.extend_from_slice(&donor[from..]);
        }
        _ => {
            // Tweak what is probably a DER length byte after a common tag.
            if let Some(pos) = (at..len.saturating_sub(1))
                .find(|&i| matches!(data[i], 0x30 | 0x31 | 0x02 | 0x03 | 0x04 | 0x06 | 0xa0))
            {
                let delta = [1u8, 0xff, 0x80, 0x7f][rng.below(4)];
                data[pos + 1] = data[pos + 1].wrapping_add(delta);
            }
        }
    }
}

/// One fuzz input: a mutated seed in one of three shapes, with random options.
pub fn case(rng: &mut Rng, seeds: &Seeds) -> (String, BackingFormat, ConvertOptions) {
    let mut options = ConvertOptions::new(NOW);
    options.key_format = [KeyFormat::Pkcs8, KeyFormat::Pkcs1, KeyFormat::Sec1][rng.below(3)];
    options.ca = [CaSource::Chain, CaSource::Root][rng.below(2)];
    // Keystore output costs 20k KDF rounds; exercise it now and then.
    if rng.below(64) == 0 {
        options.pkcs12_password = Some("pw".into());
    }
    let mutations = 1 + rng.below(4);
    match rng.below(3) {
        0 => {
            let mut pfx = seeds.pfx[rng.below(seeds.pfx.len())].clone();
            let donor = &seeds.pfx[rng.below(seeds.pfx.len())];
            for _ in 0..mutations {
                mutate(&mut pfx, rng, donor);
            }
            (STANDARD.encode(pfx), BackingFormat::Pkcs12, options)
        }
        1 => {
            let set = &seeds.pem_sets[rng.below(seeds.pem_sets.len())];
            let mut text = pem_text(set).into_bytes();
            for _ in 0..mutations {
                mutate(&mut text, rng, b"-----BEGIN CERTIFICATE-----\n");
            }
            (
                String::from_utf8_lossy(&text).into_owned(),
                BackingFormat::Pem,
                options,
            )
        }
        _ => {
            // Damage the DER inside an intact PEM envelope, in a random
            // order, so the key and X.509 parsers see the damage.
            let mut set = seeds.pem_sets[rng.below(seeds.pem_sets.len())].clone();
            let victim = rng.below(set.len());
            let donor = set[rng.below(set.len())].1.clone();
            for _ in 0..mutations {
                mutate(&mut set[victim].1, rng, &donor);
            }
            if rng.below(2) == 0 {
                set.remove(rng.below(set.len()));
            }
            let swap = rng.below(set.len());
            set.swap(0, swap);
            (pem_text(&set), BackingFormat::Pem, options)
        }
    }
}
