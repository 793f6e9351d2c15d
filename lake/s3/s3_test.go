package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// isolate keeps the developer's AWS settings out of a test.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func fakeS3(t *testing.T) (*s3mem.Backend, *httptest.Server) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return backend, srv
}

func get(t *testing.T, backend *s3mem.Backend, key string) []byte {
	t.Helper()
	obj, err := backend.GetObject("lake", key, nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer func() { _ = obj.Contents.Close() }()
	data, err := io.ReadAll(obj.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestUpload(t *testing.T) {
	isolate(t)
	backend, srv := fakeS3(t)
	for _, tc := range []struct {
		prefix, key, want string
	}{
		{"", "dt=2025-11-26/hour=18/part-a.parquet", "dt=2025-11-26/hour=18/part-a.parquet"},
		{"captures/prod", "dt=2025-11-26/hour=18/part-b.parquet", "captures/prod/dt=2025-11-26/hour=18/part-b.parquet"},
		{"/captures/", "dt=2025-11-26/hour=19/part-c.parquet", "captures/dt=2025-11-26/hour=19/part-c.parquet"},
	} {
		c, err := New(context.Background(), Config{Bucket: "lake", Prefix: tc.prefix, Region: "eu-west-1",
			Endpoint: srv.URL, PathStyle: true, AccessKeyID: "AKIDTEST", SecretAccessKey: "not-a-secret"})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Key(tc.key); got != tc.want {
			t.Fatalf("Key(%q) = %q, want %q", tc.key, got, tc.want)
		}
		body := []byte("PAR1 " + tc.key + " PAR1")
		if err := c.Upload(context.Background(), tc.key, bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		if got := get(t, backend, tc.want); !bytes.Equal(got, body) {
			t.Fatalf("stored %q, want %q", got, body)
		}
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	backend, srv := fakeS3(t)
	c, err := New(context.Background(), Config{Bucket: "lake", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.api.Options().Region; got != "us-east-1" {
		t.Fatalf("region %q, want the us-east-1 fallback", got)
	}
	if err := c.Upload(context.Background(), "k", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if string(get(t, backend, "k")) != "x" {
		t.Fatal("object not stored")
	}
	if c.String() != "s3://lake" {
		t.Fatalf("String() = %q", c.String())
	}
}

func TestUploadFailure(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Config{Bucket: "lake", Prefix: "p", Region: "us-west-2",
		Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Upload(context.Background(), "dt=x/f.parquet", strings.NewReader("x"), 1)
	if err == nil || !strings.Contains(err.Error(), "s3://lake/p/dt=x/f.parquet") {
		t.Fatalf("error %v", err)
	}
	if c.String() != "s3://lake/p" {
		t.Fatalf("String() = %q", c.String())
	}
}

func TestConfigErrors(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "bucket is required"},
		{Config{Bucket: "b", AccessKeyID: "a"}, "both"},
		{Config{Bucket: "b", SecretAccessKey: "s"}, "both"},
	} {
		if _, err := New(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix, err string
	}{
		{"s3://lake", "lake", "", ""},
		{"s3://lake/", "lake", "", ""},
		{"s3://lake/captures/prod/", "lake", "captures/prod", ""},
		{"s3:///x", "", "", "no bucket"},
		{"./data/lake", "", "", "not an s3://"},
	} {
		b, p, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q): %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v", tc.in, b, p, err)
		}
	}
}
