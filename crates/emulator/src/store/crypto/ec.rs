//! ECDSA on NIST P-256 over a caller-supplied digest, in affine coordinates: key generation,
//! point validation, signing (r || s, 32 bytes each, as Key Vault returns ES256) and verifying.

use super::{BigUint, random_below, to_fixed};
use std::sync::LazyLock;

/// A point on the curve; `None` is the point at infinity.
type Point = Option<(BigUint, BigUint)>;

struct Curve {
    p: BigUint,
    a: BigUint,
    b: BigUint,
    g: (BigUint, BigUint),
    n: BigUint,
}

fn hex(s: &str) -> BigUint {
    BigUint::parse_bytes(s.as_bytes(), 16).unwrap_or_default()
}

static P256: LazyLock<Curve> = LazyLock::new(|| {
    let p = hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    Curve {
        a: &p - BigUint::from(3u32),
        b: hex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
        g: (
            hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
            hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
        ),
        n: hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
        p,
    }
});

/// Byte length of P-256 coordinates and scalars.
pub(crate) const LEN: usize = 32;

impl Curve {
    fn sub(&self, a: &BigUint, b: &BigUint) -> BigUint {
        (a + &self.p - (b % &self.p)) % &self.p
    }

    fn div(&self, a: &BigUint, b: &BigUint) -> Option<BigUint> {
        Some(a * b.modinv(&self.p)? % &self.p)
    }

    fn add(&self, a: &Point, b: &Point) -> Point {
        let ((x1, y1), (x2, y2)) = match (a, b) {
            (None, _) => return b.clone(),
            (_, None) => return a.clone(),
            (Some(a), Some(b)) => (a, b),
        };
        let slope = if x1 == x2 {
            if (y1 + y2) % &self.p == BigUint::ZERO {
                return None;
            }
            let three_x2 = BigUint::from(3u32) * x1 * x1 + &self.a;
            self.div(&three_x2, &(BigUint::from(2u32) * y1))?
        } else {
            self.div(&self.sub(y2, y1), &self.sub(x2, x1))?
        };
        let x3 = self.sub(&self.sub(&(&slope * &slope), x1), x2);
        let y3 = self.sub(&(&slope * self.sub(x1, &x3)), y1);
        Some((x3, y3))
    }

    fn mul(&self, k: &BigUint, point: &Point) -> Point {
        let mut acc: Point = None;
        for i in (0..k.bits()).rev() {
            acc = self.add(&acc, &acc);
            if k.bit(i) {
                acc = self.add(&acc, point);
            }
        }
        acc
    }

    fn on_curve(&self, x: &BigUint, y: &BigUint) -> bool {
        let rhs = (x * x * x + &self.a * x + &self.b) % &self.p;
        x < &self.p && y < &self.p && (y * y) % &self.p == rhs
    }

    /// The digest as an integer, truncated to the order's bit length.
    fn z(&self, digest: &[u8]) -> BigUint {
        BigUint::from_bytes_be(&digest[..digest.len().min(LEN)])
    }
}

/// A P-256 key: public point and, for a private key, the scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcKey {
    pub x: BigUint,
    pub y: BigUint,
    pub d: Option<BigUint>,
}

impl EcKey {
    /// A fresh private key.
    pub fn generate() -> EcKey {
        let c = &*P256;
        let d = random_below(&c.n);
        let (x, y) = c.mul(&d, &Some(c.g.clone())).unwrap_or_default();
        EcKey { x, y, d: Some(d) }
    }

    /// Whether the point is on the curve and matches the scalar, if any.
    pub fn is_valid(&self) -> bool {
        let c = &*P256;
        let point_ok = c.on_curve(&self.x, &self.y);
        point_ok
            && self.d.as_ref().is_none_or(|d| {
                d < &c.n && c.mul(d, &Some(c.g.clone())) == Some((self.x.clone(), self.y.clone()))
            })
    }

    /// Signs a digest: r || s; `None` for a public key.
    pub fn sign(&self, digest: &[u8]) -> Option<Vec<u8>> {
        let c = &*P256;
        let d = self.d.as_ref()?;
        let z = c.z(digest);
        loop {
            let k = random_below(&c.n);
            let Some((rx, _)) = c.mul(&k, &Some(c.g.clone())) else {
                continue;
            };
            let r = rx % &c.n;
            let s = (k.modinv(&c.n)? * ((&z + &r * d) % &c.n)) % &c.n;
            if r != BigUint::ZERO && s != BigUint::ZERO {
                let mut out = to_fixed(&r, LEN);
                out.extend(to_fixed(&s, LEN));
                return Some(out);
            }
        }
    }

    /// Verifies an r || s signature over a digest.
    pub fn verify(&self, digest: &[u8], signature: &[u8]) -> bool {
        let c = &*P256;
        if signature.len() != 2 * LEN {
            return false;
        }
        let (r, s) = signature.split_at(LEN);
        let (r, s) = (BigUint::from_bytes_be(r), BigUint::from_bytes_be(s));
        let in_range = |v: &BigUint| v > &BigUint::ZERO && v < &c.n;
        let Some(w) = (in_range(&r) && in_range(&s))
            .then(|| s.modinv(&c.n))
            .flatten()
        else {
            return false;
        };
        let u1 = (c.z(digest) * &w) % &c.n;
        let u2 = (&r * &w) % &c.n;
        let q = Some((self.x.clone(), self.y.clone()));
        let sum = c.add(&c.mul(&u1, &Some(c.g.clone())), &c.mul(&u2, &q));
        sum.is_some_and(|(x, _)| x % &c.n == r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_verify_with_ring() {
        let key = EcKey::generate();
        assert!(key.is_valid());
        let digest = ring::digest::digest(&ring::digest::SHA256, b"msg");
        let sig = key.sign(digest.as_ref()).unwrap();
        assert!(key.verify(digest.as_ref(), &sig));
        let other = ring::digest::digest(&ring::digest::SHA256, b"other");
        assert!(!key.verify(other.as_ref(), &sig));
        let mut point = vec![4u8];
        point.extend(to_fixed(&key.x, LEN));
        point.extend(to_fixed(&key.y, LEN));
        let ring_key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            point,
        );
        assert!(ring_key.verify(b"msg", &sig).is_ok());
        let wrong = EcKey {
            y: &key.y + BigUint::from(1u32),
            ..key.clone()
        };
        assert!(!wrong.is_valid());
    }
}
