//! Finding the leaf and ordering its chain, independent of upload order.
//!
//! The leaf is the certificate carrying the private key's public key, not
//! "the first one". Each issuer must match by name *and* verify the child's
//! signature, so a look-alike certificate cannot slip into the chain.

use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

use crate::key::PrivateKey;
use crate::{ChainWarning, TlsError};

/// The leaf's chain as indices into the certificate list.
#[derive(Debug)]
pub(crate) struct Chain {
    /// The certificate for the private key.
    pub leaf: usize,
    /// Issuers from the leaf's issuer upward, excluding the self-signed root.
    pub intermediates: Vec<usize>,
    /// The self-signed root, when the chain reaches one; the leaf itself
    /// when it is self-signed.
    pub root: Option<usize>,
    /// What was wrong but not fatal.
    pub warnings: Vec<ChainWarning>,
}

/// Picks the leaf for `key` and walks issuers up to a self-signed root.
pub(crate) fn build(
    certs: &[X509Certificate<'_>],
    key: &PrivateKey,
    now_unix: i64,
) -> Result<Chain, TlsError> {
    let leaf = pick_leaf(certs, key, now_unix).ok_or(TlsError::KeyMismatch)?;
    let mut warnings = Vec::new();
    let mut path = vec![leaf];
    let mut root = None;
    let mut current = leaf;
    loop {
        if is_self_signed(&certs[current]) {
            root = Some(current);
            if current != leaf {
                path.pop();
            }
            break;
        }
        match issuer_of(certs, current, &path, now_unix, &mut warnings) {
            Some(next) => {
                path.push(next);
                current = next;
            }
            None => {
                warnings.push(ChainWarning::ChainIncomplete {
                    missing_issuer: certs[current].issuer().to_string(),
                });
                break;
            }
        }
    }
    let intermediates = path.split_off(1);
    let chain = Chain {
        leaf,
        intermediates,
        root,
        warnings,
    };
    Ok(chain.checked(certs, now_unix))
}

/// The certificate that issued `certs[current]` and verifies its signature, outside `path`;
/// same-name certificates whose signature does not verify are warned about.
fn issuer_of(
    certs: &[X509Certificate<'_>],
    current: usize,
    path: &[usize],
    now_unix: i64,
    warnings: &mut Vec<ChainWarning>,
) -> Option<usize> {
    let issuer_name = certs[current].issuer();
    let mut best: Option<usize> = None;
    for (i, candidate) in certs.iter().enumerate() {
        if path.contains(&i) || !same_name(candidate.subject(), issuer_name) {
            continue;
        }
        let signed = certs[current]
            .verify_signature(Some(candidate.public_key()))
            .is_ok();
        if !signed {
            push_unique(
                warnings,
                ChainWarning::IssuerSignatureMismatch {
                    subject: candidate.subject().to_string(),
                },
            );
        } else if best.is_none_or(|b| preferred(&certs[i], &certs[b], now_unix)) {
            best = Some(i);
        }
    }
    best
}

impl Chain {
    /// Adds the warnings about the chain as a whole: issuers not valid now, and certificates
    /// that belong to no link.
    fn checked(mut self, certs: &[X509Certificate<'_>], now_unix: i64) -> Self {
        for &i in self.intermediates.iter().chain(self.root.iter()) {
            let c = &certs[i];
            if i != self.leaf && !valid_at(c, now_unix) {
                self.warnings.push(ChainWarning::ChainCertificateNotValid {
                    subject: c.subject().to_string(),
                    not_after_unix: c.validity().not_after.timestamp(),
                });
            }
        }
        let root_apart = self.root.is_some_and(|r| r != self.leaf);
        let used = 1 + self.intermediates.len() + usize::from(root_apart);
        if certs.len() > used {
            self.warnings
                .push(ChainWarning::UnrelatedCertificates(certs.len() - used));
        }
        self
    }
}

/// Among certificates for the key, prefer end-entity ones, then the one
/// usable now, then the newest; a renewed certificate can reuse a key.
fn pick_leaf(certs: &[X509Certificate<'_>], key: &PrivateKey, now_unix: i64) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in certs.iter().enumerate() {
        if !key.matches(c.public_key()) {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => match (is_ca(c), is_ca(&certs[b])) {
                (false, true) => true,
                (true, false) => false,
                _ => preferred(c, &certs[b], now_unix),
            },
        };
        if better {
            best = Some(i);
        }
    }
    best
}

/// Whether `a` beats `b` as a choice among equivalent certificates.
fn preferred(a: &X509Certificate<'_>, b: &X509Certificate<'_>, now_unix: i64) -> bool {
    match (valid_at(a, now_unix), valid_at(b, now_unix)) {
        (true, false) => true,
        (false, true) => false,
        _ => a.validity().not_after.timestamp() > b.validity().not_after.timestamp(),
    }
}

fn valid_at(c: &X509Certificate<'_>, now_unix: i64) -> bool {
    let v = c.validity();
    v.not_before.timestamp() <= now_unix && now_unix <= v.not_after.timestamp()
}

/// Whether `c` says it is a CA (basicConstraints cA).
pub(crate) fn is_ca(c: &X509Certificate<'_>) -> bool {
    c.basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca)
}

/// Self-signed means self-issued and verifiable with its own key; a
/// self-issued certificate signed by an older key still needs an issuer.
pub(crate) fn is_self_signed(c: &X509Certificate<'_>) -> bool {
    same_name(c.subject(), c.issuer()) && c.verify_signature(None).is_ok()
}

/// Byte equality first; the string form absorbs harmless differences in
/// string types (PrintableString vs UTF8String) between issuers' encoders.
fn same_name(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || (a.iter().count() > 0 && a.to_string() == b.to_string())
}

fn push_unique(warnings: &mut Vec<ChainWarning>, w: ChainWarning) {
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}
