package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

func ptr[T any](v T) *T { return &v }

func checkKeys(ctx context.Context, e *env) error {
	cred, err := e.assertionCredential()
	if err != nil {
		return err
	}
	c, err := azkeys.NewClient(e.vaultURL(), cred, &azkeys.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		return err
	}
	rsaKey, err := c.CreateKey(ctx, "go-rsa", azkeys.CreateKeyParameters{Kty: ptr(azkeys.KeyTypeRSA), KeySize: ptr[int32](2048)}, nil)
	if err != nil {
		return fmt.Errorf("create RSA: %w", err)
	}
	if err := signRoundTrip(ctx, c, rsaKey.Key, azkeys.SignatureAlgorithmRS256); err != nil {
		return fmt.Errorf("RS256: %w", err)
	}
	for range 2 {
		if _, err = c.CreateKey(ctx, "go-ec", azkeys.CreateKeyParameters{Kty: ptr(azkeys.KeyTypeEC), Curve: ptr(azkeys.CurveNameP256)}, nil); err != nil {
			return fmt.Errorf("create EC: %w", err)
		}
	}
	latest, err := c.GetKey(ctx, "go-ec", "", nil)
	if err != nil {
		return err
	}
	if latest.Key.D != nil || latest.Key.X == nil || *latest.Key.Crv != azkeys.CurveNameP256 {
		return fmt.Errorf("GetKey must return the public EC key only")
	}
	if err := signRoundTrip(ctx, c, latest.Key, azkeys.SignatureAlgorithmES256); err != nil {
		return fmt.Errorf("ES256: %w", err)
	}
	if err := countVersions(ctx, c, "go-ec", 2); err != nil {
		return err
	}
	if err := importAndSign(ctx, c); err != nil {
		return err
	}
	return listed(ctx, c, "go-rsa", "go-ec", "go-imported-rsa", "go-imported-ec")
}

// signRoundTrip signs a digest in the vault, checks the signature locally with the public JWK,
// and asks the vault to verify it and a tampered digest.
func signRoundTrip(ctx context.Context, c *azkeys.Client, key *azkeys.JSONWebKey, alg azkeys.SignatureAlgorithm) error {
	digest := sha256.Sum256([]byte("vaultsync"))
	id := key.KID
	signed, err := c.Sign(ctx, id.Name(), id.Version(), azkeys.SignParameters{Algorithm: &alg, Value: digest[:]}, nil)
	if err != nil {
		return err
	}
	if err := verifyLocally(key, digest[:], signed.Result); err != nil {
		return err
	}
	for i, want := range []bool{true, false} {
		d := digest
		d[0] ^= byte(i)
		r, err := c.Verify(ctx, id.Name(), id.Version(), azkeys.VerifyParameters{Algorithm: &alg, Digest: d[:], Signature: signed.Result}, nil)
		if err != nil {
			return err
		}
		if r.Value == nil || *r.Value != want {
			return fmt.Errorf("vault verify returned %v, want %v", r.Value, want)
		}
	}
	return nil
}

func verifyLocally(key *azkeys.JSONWebKey, digest, sig []byte) error {
	if key.D != nil {
		return fmt.Errorf("the key bundle carries a private part")
	}
	switch *key.Kty {
	case azkeys.KeyTypeRSA:
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(key.N), E: int(new(big.Int).SetBytes(key.E).Int64())}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig)
	case azkeys.KeyTypeEC:
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(key.X), Y: new(big.Int).SetBytes(key.Y)}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if len(sig) != 64 || !ecdsa.Verify(pub, digest, r, s) {
			return fmt.Errorf("ES256 signature does not verify locally")
		}
		return nil
	}
	return fmt.Errorf("unexpected kty %v", *key.Kty)
}

// importAndSign imports keys made here and checks the vault signs with exactly them.
func importAndSign(ctx context.Context, c *azkeys.Client) error {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	jwk := &azkeys.JSONWebKey{Kty: ptr(azkeys.KeyTypeRSA), N: rk.N.Bytes(), E: big.NewInt(int64(rk.E)).Bytes(),
		D: rk.D.Bytes(), P: rk.Primes[0].Bytes(), Q: rk.Primes[1].Bytes(),
		DP: rk.Precomputed.Dp.Bytes(), DQ: rk.Precomputed.Dq.Bytes(), QI: rk.Precomputed.Qinv.Bytes()}
	imported, err := c.ImportKey(ctx, "go-imported-rsa", azkeys.ImportKeyParameters{Key: jwk}, nil)
	if err != nil {
		return fmt.Errorf("import RSA: %w", err)
	}
	if new(big.Int).SetBytes(imported.Key.N).Cmp(rk.N) != 0 {
		return fmt.Errorf("imported RSA key has another modulus")
	}
	if err := signRoundTrip(ctx, c, imported.Key, azkeys.SignatureAlgorithmRS256); err != nil {
		return fmt.Errorf("imported RS256: %w", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ejwk := &azkeys.JSONWebKey{Kty: ptr(azkeys.KeyTypeEC), Crv: ptr(azkeys.CurveNameP256),
		X: ek.X.FillBytes(make([]byte, 32)), Y: ek.Y.FillBytes(make([]byte, 32)), D: ek.D.FillBytes(make([]byte, 32))}
	importedEC, err := c.ImportKey(ctx, "go-imported-ec", azkeys.ImportKeyParameters{Key: ejwk}, nil)
	if err != nil {
		return fmt.Errorf("import EC: %w", err)
	}
	return signRoundTrip(ctx, c, importedEC.Key, azkeys.SignatureAlgorithmES256)
}

func countVersions(ctx context.Context, c *azkeys.Client, name string, want int) error {
	n := 0
	pager := c.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		n += len(page.Value)
	}
	if n != want {
		return fmt.Errorf("%s: want %d versions, got %d", name, want, n)
	}
	return nil
}

func listed(ctx context.Context, c *azkeys.Client, names ...string) error {
	seen := map[string]bool{}
	pager := c.NewListKeyPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, k := range page.Value {
			seen[k.KID.Name()] = true
		}
	}
	for _, n := range names {
		if !seen[n] {
			return fmt.Errorf("key %s missing from the listing", n)
		}
	}
	return nil
}
