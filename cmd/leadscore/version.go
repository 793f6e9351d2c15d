package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set by the release build with -ldflags "-X main.version=v1.2.3"
// (make release, the Dockerfile). A `go install ...@v1.2.3` build has no
// ldflags but carries the module version, which is used instead; a plain
// `go run` or `go build` is "dev".
var version = "dev"

// buildInfo is what `leadscore version` reports: the release, the source it
// was built from and the toolchain and libraries it was built with.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	BuildDate string `json:"build_date,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	// Settings that decide what the binary is: CGO_ENABLED, -trimpath, tags.
	Settings map[string]string `json:"settings,omitempty"`
	// Deps are the main libraries, module path to version.
	Deps []dependency `json:"dependencies,omitempty"`
}

type dependency struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// mainDeps are the libraries a reader of `leadscore version` cares about:
// the ones that parse input, write the lake or talk to AWS.
var mainDeps = []string{
	"github.com/parquet-go/parquet-go",
	"github.com/klauspost/compress",
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/aws-sdk-go-v2/service/s3",
	"github.com/aws/aws-lambda-go",
	"github.com/prometheus/client_golang",
	"go.opentelemetry.io/otel",
	"go.opentelemetry.io/otel/sdk",
}

// readBuildInfo gathers the build information from the binary itself: the
// commit and its time come from the VCS stamp the go command writes (so the
// build date is the commit's date, the same for every rebuild of a commit).
func readBuildInfo(read func() (*debug.BuildInfo, bool)) buildInfo {
	out := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := read()
	if !ok {
		return out
	}
	if out.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		out.GoVersion = bi.GoVersion
	}
	out.Settings = map[string]string{}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.time":
			out.BuildDate = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		case "CGO_ENABLED", "-trimpath", "-tags", "GOAMD64", "GOARM64":
			out.Settings[s.Key] = s.Value
		}
	}
	have := map[string]string{}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		have[d.Path] = v
	}
	for _, p := range mainDeps {
		if v, ok := have[p]; ok {
			out.Deps = append(out.Deps, dependency{Path: p, Version: v})
		}
	}
	return out
}

const versionUsage = `Usage: leadscore version [--json]

Prints the version, the commit and its time (the build date: the same for
every rebuild of a commit), the Go version and platform, the build settings
and the main libraries. A release build sets the version; a plain go build
or go run says dev.
`

// runVersion prints the build information, as text or with --json.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("version", versionUsage, stdout, stderr)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	info := readBuildInfo(debug.ReadBuildInfo)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := io.WriteString(stdout, info.text())
	return err
}

// text is the human form: the first line is "leadscore VERSION", the rest
// one fact a line.
func (b buildInfo) text() string {
	var s strings.Builder
	fmt.Fprintf(&s, "leadscore %s\n", b.Version)
	commit := b.Commit
	if commit == "" {
		commit = "unknown (built without VCS information, e.g. go run)"
	} else if b.Modified {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(&s, "  commit:     %s\n", commit)
	if b.BuildDate != "" {
		fmt.Fprintf(&s, "  built:      %s (the commit's time)\n", b.BuildDate)
	}
	fmt.Fprintf(&s, "  go:         %s %s\n", b.GoVersion, b.Platform)
	if len(b.Settings) > 0 {
		keys := []string{"CGO_ENABLED", "-trimpath", "-tags", "GOAMD64", "GOARM64"}
		var parts []string
		for _, k := range keys {
			if v, ok := b.Settings[k]; ok {
				parts = append(parts, k+"="+v)
			}
		}
		fmt.Fprintf(&s, "  build:      %s\n", strings.Join(parts, " "))
	}
	for i, d := range b.Deps {
		label := ""
		if i == 0 {
			label = "libraries:"
		}
		fmt.Fprintf(&s, "  %-11s %s %s\n", label, d.Path, d.Version)
	}
	return s.String()
}
