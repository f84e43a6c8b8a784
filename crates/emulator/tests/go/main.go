// Command emulator-conformance drives the official Azure SDK for Go (azidentity, azsecrets,
// azcertificates, azkeys) against a running vaultsync emulator that the Rust test
// (tests/go_conformance.rs) started and seeded. It prints one line per check and exits non-zero
// when any check fails.
//
// Environment: EMULATOR_PORT, EMULATOR_CA_FILE, EMULATOR_VAULT, EMULATOR_TENANT, EMULATOR_CLIENT,
// EMULATOR_SUBJECT, plus the workload identity convention (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// env holds the emulator's coordinates and the clients under test.
type env struct {
	port, vault, tenant, client, subject string
	http                                 *http.Client
}

func main() {
	e := env{
		port:    must("EMULATOR_PORT"),
		vault:   must("EMULATOR_VAULT"),
		tenant:  must("EMULATOR_TENANT"),
		client:  must("EMULATOR_CLIENT"),
		subject: must("EMULATOR_SUBJECT"),
	}
	e.http = loopbackClient(must("EMULATOR_CA_FILE"), e.port)
	checks := []struct {
		name string
		run  func(context.Context, *env) error
	}{
		{"client assertion credential (ServiceAccount token)", checkClientAssertion},
		{"workload identity credential (AZURE_FEDERATED_TOKEN_FILE)", checkWorkloadIdentity},
		{"list secrets with paging", checkPaging},
		{"secret versions", checkVersions},
		{"certificate and its backing secret", checkCertificate},
		{"disabled secret is Forbidden/SecretDisabled", checkDisabled},
		{"missing secret is SecretNotFound", checkMissing},
		{"throttling honours Retry-After", checkThrottle},
		{"soft delete: deleted state, conflict, recover, purge", checkSoftDelete},
		{"keys: create RSA and EC, get, versions, list, sign, verify", checkKeys},
	}
	failed := 0
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := c.run(ctx, &e)
		cancel()
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", c.name, err)
		} else {
			fmt.Printf("ok   %s\n", c.name)
		}
	}
	fmt.Printf("%d passed, %d failed\n", len(checks)-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func must(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "%s is not set\n", name)
		os.Exit(2)
	}
	return v
}

// loopbackClient trusts the emulator's CA and sends every connection to the emulator on
// 127.0.0.1, whatever the host name (vault hosts, login.localhost, and the worldwide login host
// MSAL asks for instance discovery). Nothing leaves the loopback interface.
func loopbackClient(caFile, port string) *http.Client {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		panic("no certificate in " + caFile)
	}
	var d net.Dialer
	transport := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

// clientOptions: the loopback transport and quick retries that still honour Retry-After.
func (e *env) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: e.http,
		Retry: policy.RetryOptions{
			MaxRetries:    3,
			RetryDelay:    100 * time.Millisecond,
			MaxRetryDelay: 5 * time.Second,
		},
	}
}

func (e *env) authority() string { return "https://login.localhost:" + e.port + "/" }

func (e *env) vaultURL() string {
	return fmt.Sprintf("https://%s.vault.localhost:%s/", e.vault, e.port)
}

// assertionCredential exchanges a ServiceAccount-like token minted by the emulator's test issuer.
func (e *env) assertionCredential() (azcore.TokenCredential, error) {
	opts := e.clientOptions()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: e.authority()}
	mint := func(ctx context.Context) (string, error) { return e.mintToken(ctx) }
	return azidentity.NewClientAssertionCredential(e.tenant, e.client, mint,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts})
}
