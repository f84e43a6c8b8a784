package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func (e *env) secrets() (*azsecrets.Client, error) {
	cred, err := e.assertionCredential()
	if err != nil {
		return nil, err
	}
	return azsecrets.NewClient(e.vaultURL(), cred, &azsecrets.ClientOptions{ClientOptions: e.clientOptions()})
}

func value(s azsecrets.Secret) string {
	if s.Value == nil {
		return "<nil>"
	}
	return *s.Value
}

func checkClientAssertion(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	s, err := c.GetSecret(ctx, "go-plain", "", nil)
	if err != nil {
		return err
	}
	if value(s.Secret) != "plain-value" {
		return errors.New("go-plain has an unexpected value")
	}
	return nil
}

// checkWorkloadIdentity reads everything from the environment, as a pod with the workload
// identity webhook's projected token does; only the transport is ours.
func checkWorkloadIdentity(ctx context.Context, e *env) error {
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(),
	})
	if err != nil {
		return err
	}
	c, err := azsecrets.NewClient(e.vaultURL(), cred, &azsecrets.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		return err
	}
	s, err := c.GetSecret(ctx, "go-plain", "", nil)
	if err != nil {
		return err
	}
	if value(s.Secret) != "plain-value" {
		return errors.New("go-plain has an unexpected value")
	}
	return nil
}

func checkPaging(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	pages, names := 0, map[string]bool{}
	pager := c.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		pages++
		for _, p := range page.Value {
			if p.ID.Version() != "" {
				return fmt.Errorf("list item %s carries a version", *p.ID)
			}
			names[p.ID.Name()] = true
		}
	}
	for i := range 30 {
		if n := fmt.Sprintf("go-page-%02d", i); !names[n] {
			return fmt.Errorf("%s missing from the listing", n)
		}
	}
	if pages < 2 {
		return fmt.Errorf("want at least 2 pages for %d secrets, got %d", len(names), pages)
	}
	return nil
}

func checkVersions(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	var got []string
	pager := c.NewListSecretPropertiesVersionsPager("go-versions", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, p := range page.Value {
			s, err := c.GetSecret(ctx, "go-versions", p.ID.Version(), nil)
			if err != nil {
				return err
			}
			got = append(got, value(s.Secret))
		}
	}
	if strings.Join(got, ",") != "v0,v1,v2" {
		return fmt.Errorf("want versions v0,v1,v2, got %v", got)
	}
	latest, err := c.GetSecret(ctx, "go-versions", "", nil)
	if err != nil {
		return err
	}
	if value(latest.Secret) != "v2" {
		return errors.New("latest version is not the last one set")
	}
	return nil
}

func checkDisabled(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	_, err = c.GetSecret(ctx, "go-off", "", nil)
	if err := responseError(err, 403, "Forbidden"); err != nil {
		return err
	}
	var re *azcore.ResponseError
	errors.As(err, &re)
	body, _ := io.ReadAll(re.RawResponse.Body)
	if !strings.Contains(string(body), `"SecretDisabled"`) {
		return fmt.Errorf("no innererror SecretDisabled in %s", body)
	}
	return nil
}

func checkMissing(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	_, err = c.GetSecret(ctx, "go-missing", "", nil)
	return responseError(err, 404, "SecretNotFound")
}

func checkThrottle(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	if _, err := c.GetSecret(ctx, "go-plain", "", nil); err != nil { // token and challenge first
		return err
	}
	fault := map[string]any{"kind": "throttle", "retry_after": 1, "remaining": 1}
	if err := e.control(ctx, "/vaults/"+e.vault+"/faults", fault, nil); err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.GetSecret(ctx, "go-plain", "", nil); err != nil {
		return fmt.Errorf("the retry after 429 failed: %w", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		return fmt.Errorf("retried after %v, before Retry-After: 1", waited)
	}
	n, err := e.counter(ctx, "GetSecret", 429)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("want one 429 counted, got %d", n)
	}
	return nil
}

func checkSoftDelete(ctx context.Context, e *env) error {
	c, err := e.secrets()
	if err != nil {
		return err
	}
	deleted, err := c.DeleteSecret(ctx, "go-soft", nil)
	if err != nil {
		return err
	}
	if deleted.RecoveryID == nil || !strings.HasSuffix(*deleted.RecoveryID, "/deletedsecrets/go-soft") {
		return fmt.Errorf("unexpected recoveryId %v", deleted.RecoveryID)
	}
	if _, err := c.GetDeletedSecret(ctx, "go-soft", nil); err != nil {
		return err
	}
	_, err = c.GetSecret(ctx, "go-soft", "", nil)
	if err := responseError(err, 404, "SecretNotFound"); err != nil {
		return fmt.Errorf("get of a deleted secret: %w", err)
	}
	v := "new"
	_, err = c.SetSecret(ctx, "go-soft", azsecrets.SetSecretParameters{Value: &v}, nil)
	if err := responseError(err, 409, "Conflict"); err != nil {
		return fmt.Errorf("set on a deleted name: %w", err)
	}
	if _, err := c.RecoverDeletedSecret(ctx, "go-soft", nil); err != nil {
		return err
	}
	s, err := c.GetSecret(ctx, "go-soft", "", nil)
	if err != nil {
		return fmt.Errorf("get after recover: %w", err)
	}
	if value(s.Secret) != "soft-value" {
		return errors.New("recovered secret has another value")
	}
	if _, err := c.DeleteSecret(ctx, "go-soft", nil); err != nil {
		return err
	}
	if _, err := c.PurgeDeletedSecret(ctx, "go-soft", nil); err != nil {
		return err
	}
	_, err = c.GetDeletedSecret(ctx, "go-soft", nil)
	if err := responseError(err, 404, "SecretNotFound"); err != nil {
		return fmt.Errorf("deleted secret after purge: %w", err)
	}
	_, err = c.SetSecret(ctx, "go-soft", azsecrets.SetSecretParameters{Value: &v}, nil)
	return err
}
