package main

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func fakeBuildInfo(mainVersion string, settings ...string) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		bi := &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Path: "github.com/leadscore/leadscore", Version: mainVersion}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		bi.Deps = []*debug.Module{
			{Path: "github.com/parquet-go/parquet-go", Version: "v0.32.0"},
			{Path: "github.com/aws/aws-sdk-go-v2", Version: "v1.40.0", Replace: &debug.Module{Path: "x", Version: "v1.40.1"}},
			{Path: "golang.org/x/sys", Version: "v0.30.0"}, // not a main library
		}
		return bi, true
	}
}

func TestReadBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name, ldflags, mainVersion, want string
	}{
		{"release build (ldflags)", "v1.4.0", "(devel)", "v1.4.0"},
		{"go install @version", "dev", "v1.3.2", "v1.3.2"},
		{"go run / go build", "dev", "(devel)", "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := version
			version = tc.ldflags
			defer func() { version = old }()
			b := readBuildInfo(fakeBuildInfo(tc.mainVersion,
				"vcs.revision", "0123abcd", "vcs.time", "2026-12-06T10:00:00Z", "vcs.modified", "true",
				"CGO_ENABLED", "0", "-trimpath", "true", "GOPATH", "/should/not/show"))
			if b.Version != tc.want {
				t.Errorf("version %q, want %q", b.Version, tc.want)
			}
			if b.Commit != "0123abcd" || !b.Modified || b.BuildDate != "2026-12-06T10:00:00Z" || b.GoVersion != "go1.27.3" {
				t.Errorf("%+v", b)
			}
			if b.Settings["CGO_ENABLED"] != "0" || b.Settings["-trimpath"] != "true" || b.Settings["GOPATH"] != "" {
				t.Errorf("settings %v", b.Settings)
			}
			if len(b.Deps) != 2 || b.Deps[1].Version != "v1.40.1" {
				t.Errorf("deps %+v (want the main libraries only, replacements resolved)", b.Deps)
			}
			text := b.text()
			for _, s := range []string{"leadscore " + tc.want + "\n", "0123abcd (with uncommitted changes)", "2026-12-06T10:00:00Z", "go1.27.3", "CGO_ENABLED=0 -trimpath=true", "github.com/parquet-go/parquet-go v0.32.0"} {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
		})
	}
	// Without build information (a stripped test binary, say), the version
	// and the running Go still print.
	b := readBuildInfo(func() (*debug.BuildInfo, bool) { return nil, false })
	if b.Version != version || b.GoVersion == "" || !strings.Contains(b.text(), "commit:     unknown") {
		t.Errorf("%+v\n%s", b, b.text())
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "leadscore ") ||
			!strings.Contains(out.String(), "go:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"version", "--json"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var info buildInfo
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Version == "" || info.GoVersion == "" || info.Platform == "" {
		t.Errorf("version --json: %v: %s", err, out.String())
	}
	if code := run([]string{"version", "extra"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
