//! RSA: key generation (two random probable primes, e = 65537) and PKCS#1 v1.5 signatures over a
//! caller-supplied digest.

use super::{BigUint, random_below, random_bytes, to_fixed};

/// An RSA key; the private exponent is `None` for a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaKey {
    pub n: BigUint,
    pub e: BigUint,
    pub d: Option<BigUint>,
}

/// DER prefixes of the DigestInfo for SHA-256/384/512, by digest length.
fn digest_info(digest_len: usize) -> Option<&'static [u8]> {
    const SHA256: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    const SHA384: &[u8] = &[
        0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0x04, 0x30,
    ];
    const SHA512: &[u8] = &[
        0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
        0x05, 0x00, 0x04, 0x40,
    ];
    match digest_len {
        32 => Some(SHA256),
        48 => Some(SHA384),
        64 => Some(SHA512),
        _ => None,
    }
}

/// Small primes for trial division before Miller-Rabin.
fn small_primes() -> Vec<u32> {
    (3..2000u32)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .collect()
}

fn is_probable_prime(n: &BigUint, small: &[u32]) -> bool {
    if small.iter().any(|p| (n % *p) == BigUint::ZERO) {
        return false;
    }
    let one = BigUint::from(1u32);
    let n1 = n - &one;
    let s = n1.trailing_zeros().unwrap_or(0);
    let d = &n1 >> s;
    (0..16).all(|_| {
        let a = random_below(&n1) + &one; // in [2, n-1]
        let mut x = a.modpow(&d, n);
        if x == one || x == n1 {
            return true;
        }
        (1..s).any(|_| {
            x = x.modpow(&BigUint::from(2u32), n);
            x == n1
        })
    })
}

/// A random probable prime of exactly `bits` bits with the top two bits set.
fn random_prime(bits: u64, small: &[u32]) -> BigUint {
    loop {
        let mut c = BigUint::from_bytes_be(&random_bytes(bits.div_ceil(8) as usize));
        c >>= c.bits().saturating_sub(bits);
        c.set_bit(bits - 1, true);
        c.set_bit(bits - 2, true);
        c.set_bit(0, true);
        if is_probable_prime(&c, small) {
            return c;
        }
    }
}

impl RsaKey {
    /// Generates a key with a modulus of `bits` bits.
    pub fn generate(bits: u64) -> RsaKey {
        let small = small_primes();
        let e = BigUint::from(65_537u32);
        loop {
            let p = random_prime(bits / 2, &small);
            let q = random_prime(bits - bits / 2, &small);
            let one = BigUint::from(1u32);
            let phi = (&p - &one) * (&q - &one);
            let n = p * q;
            if let Some(d) = e.modinv(&phi)
                && n.bits() == bits
            {
                return RsaKey { n, e, d: Some(d) };
            }
        }
    }

    /// Modulus length in bytes.
    pub fn len(&self) -> usize {
        self.n.bits().div_ceil(8) as usize
    }

    /// Whether `d` really is the private exponent of (n, e): a random message round-trips.
    pub fn is_consistent(&self) -> bool {
        let Some(d) = &self.d else { return true };
        let m = random_below(&self.n);
        m.modpow(&self.e, &self.n).modpow(d, &self.n) == m
    }

    /// EMSA-PKCS1-v1_5 encoding of a digest for this modulus.
    fn encode(&self, digest: &[u8]) -> Option<BigUint> {
        let info = digest_info(digest.len())?;
        let k = self.len();
        let pad = k
            .checked_sub(3 + info.len() + digest.len())
            .filter(|p| *p >= 8)?;
        let mut em = vec![0x00, 0x01];
        em.extend(std::iter::repeat_n(0xff, pad));
        em.push(0x00);
        em.extend_from_slice(info);
        em.extend_from_slice(digest);
        Some(BigUint::from_bytes_be(&em))
    }

    /// Signs a SHA-256/384/512 digest; `None` for a public key or a digest of another length.
    pub fn sign(&self, digest: &[u8]) -> Option<Vec<u8>> {
        let m = self.encode(digest)?;
        let s = m.modpow(self.d.as_ref()?, &self.n);
        Some(to_fixed(&s, self.len()))
    }

    /// Verifies a signature over a digest.
    pub fn verify(&self, digest: &[u8], signature: &[u8]) -> bool {
        let s = BigUint::from_bytes_be(signature);
        if signature.len() != self.len() || s >= self.n {
            return false;
        }
        self.encode(digest) == Some(s.modpow(&self.e, &self.n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_verify_with_ring() {
        let key = RsaKey::generate(2048);
        assert_eq!(key.n.bits(), 2048);
        assert!(key.is_consistent());
        let digest = ring::digest::digest(&ring::digest::SHA256, b"msg");
        let sig = key.sign(digest.as_ref()).unwrap();
        assert!(key.verify(digest.as_ref(), &sig));
        let other = ring::digest::digest(&ring::digest::SHA256, b"other");
        assert!(!key.verify(other.as_ref(), &sig));
        // An independent implementation accepts it for the message.
        let public = ring::signature::RsaPublicKeyComponents {
            n: key.n.to_bytes_be(),
            e: key.e.to_bytes_be(),
        };
        let ring_alg = &ring::signature::RSA_PKCS1_2048_8192_SHA256;
        assert!(public.verify(ring_alg, b"msg", &sig).is_ok());
        assert!(key.sign(&[0u8; 20]).is_none());
    }
}
