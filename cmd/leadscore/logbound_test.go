package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLogStringsBounded is issue 10, finding 6: a warning printed a
// caller's 64 KB inference id. Every string a log line carries (message,
// attribute, error, in groups and logger attributes too) is cut to
// maxLogString bytes on a rune boundary; short records are unchanged.
func TestLogStringsBounded(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(slog.NewJSONHandler(&buf, nil))
	huge := strings.Repeat("é", 32<<10) // 64 KiB
	log.With("caller", huge).WithGroup("g").Warn(huge, "inference_id", huge, "err", errors.New(huge),
		slog.Group("nested", "id", huge), "n", 7)
	line := buf.String()
	if len(line) > 8*maxLogString {
		t.Fatalf("a log line of %d bytes", len(line))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("%v: %.200s", err, line)
	}
	g, _ := rec["g"].(map[string]any)
	nested, _ := g["nested"].(map[string]any)
	for name, v := range map[string]any{"msg": rec["msg"], "caller": rec["caller"], "inference_id": g["inference_id"],
		"err": g["err"], "nested.id": nested["id"]} {
		s, _ := v.(string)
		if !strings.HasSuffix(s, "...(65536 bytes)") || len(s) > maxLogString+32 || !utf8.ValidString(s) {
			t.Errorf("%s: %d bytes %.40q..., want cut at %d bytes", name, len(s), s, maxLogString)
		}
	}
	if g["n"] != 7.0 {
		t.Errorf("other attributes lost: %v", g)
	}
	buf.Reset()
	log.Info("request", "request_id", "abc", "status", 200)
	if !strings.Contains(buf.String(), `"msg":"request","request_id":"abc","status":200`) {
		t.Errorf("a short record changed: %s", buf.String())
	}
}
