package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzServeConfig feeds arbitrary config files to serve's settings parser:
// it must return settings or an error, never panic.
func FuzzServeConfig(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"listen": ":8443", "max_batch": 500, "rate_limit": 200, "max_body": "1MiB"}`,
		`{"api_keys": [{"name": "crm", "sha256": "` + "3f0d" + `"}], "require_api_key": true}`,
		`{"read_timeout": 5, "shutdown_timeout": "10s", "lake": false, "monitor_window_rows": 10}`,
		`{"max_batch": -1}`, `{"listen": 7}`, `[1,2]`, `{"unknown": 1}`, `{"max-in-flight": "lots"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, config string) {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := parseServeConfig([]string{"--config", path}, mapEnv(map[string]string{"SM_MODEL_DIR": filepath.Join(t.TempDir(), "none")}), io.Discard)
		if err == nil && c == nil {
			t.Fatal("no settings and no error")
		}
	})
}
