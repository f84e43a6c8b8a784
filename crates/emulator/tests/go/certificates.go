package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
)

// checkCertificate reads a certificate, then its private key and chain through the backing
// secret named by its sid, and checks that both carry the same leaf.
func checkCertificate(ctx context.Context, e *env) error {
	cred, err := e.assertionCredential()
	if err != nil {
		return err
	}
	certs, err := azcertificates.NewClient(e.vaultURL(), cred,
		&azcertificates.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		return err
	}
	cert, err := certs.GetCertificate(ctx, "go-cert", "", nil)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(cert.CER)
	if err != nil {
		return fmt.Errorf("cer: %w", err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "go.example.test" {
		return fmt.Errorf("unexpected SANs %v", leaf.DNSNames)
	}
	secrets, err := e.secrets()
	if err != nil {
		return err
	}
	sid := cert.SID
	backing, err := secrets.GetSecret(ctx, sid.Name(), sid.Version(), nil)
	if err != nil {
		return fmt.Errorf("backing secret: %w", err)
	}
	if ct := backing.ContentType; ct == nil || *ct != "application/x-pem-file" {
		return fmt.Errorf("backing secret content type %v", ct)
	}
	if backing.KID == nil || backing.Managed == nil || !*backing.Managed {
		return fmt.Errorf("backing secret is not marked managed with a kid")
	}
	return pemHoldsKeyAndLeaf(value(backing.Secret), cert.CER)
}

func pemHoldsKeyAndLeaf(text string, leaf []byte) error {
	rest, hasKey, firstCert := []byte(text), false, []byte(nil)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
				return fmt.Errorf("backing key: %w", err)
			}
			hasKey = true
		case "CERTIFICATE":
			if firstCert == nil {
				firstCert = block.Bytes
			}
		}
	}
	if !hasKey || !bytes.Equal(firstCert, leaf) {
		return fmt.Errorf("backing secret lacks the key or does not start with the leaf")
	}
	return nil
}
