package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// control POSTs a JSON body to the emulator's control surface and decodes the reply into out.
func (e *env) control(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("https://127.0.0.1:%s/_emulator%s", e.port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("control %s: HTTP %d", path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// mintToken asks the emulator's test issuer for a ServiceAccount-like token (the assertion).
func (e *env) mintToken(ctx context.Context) (string, error) {
	var out struct{ Token string }
	err := e.control(ctx, "/test-issuer/token", map[string]any{"subject": e.subject, "expires_in": 600}, &out)
	return out.Token, err
}

// counter reads how many requests of an operation ended with a status on the vault.
func (e *env) counter(ctx context.Context, operation string, status int) (int, error) {
	url := fmt.Sprintf("https://127.0.0.1:%s/_emulator/counters", e.port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var rows []struct {
		Vault, Operation string
		Status, Count    int
	}
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if r.Vault == e.vault && r.Operation == operation && r.Status == status {
			n += r.Count
		}
	}
	return n, nil
}

// responseError unwraps the SDK's error for a refused request.
func responseError(err error, status int, code string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("want HTTP %d %s, got %v", status, code, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		return fmt.Errorf("want HTTP %d %s, got HTTP %d %s", status, code, re.StatusCode, re.ErrorCode)
	}
	return nil
}
