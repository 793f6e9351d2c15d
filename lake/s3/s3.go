// Package s3 keeps the lake in a bucket of Amazon S3 or of an
// S3-compatible store (MinIO, Ceph, R2, ...), under a key prefix: a
// capture.Uploader that puts closed Parquet files there, and a lake.Store
// that lists and fetches them for `leadscore monitor`.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/leadscore/leadscore/internal/s3client"
)

// Config says where lake files go. Credentials not given here come from
// the SDK's default chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, the shared config files (AWS_PROFILE), web identity
// (EKS IRSA), or the ECS/EC2 role.
type Config struct {
	// Bucket is required.
	Bucket string
	// Prefix is prepended to every key (without leading or trailing
	// slashes it is used as a folder: "lake" gives lake/dt=...).
	Prefix string
	// Region, e.g. eu-west-1; empty takes AWS_REGION / the shared config,
	// then us-east-1.
	Region string
	// Endpoint is a custom endpoint URL for S3-compatible stores, e.g.
	// http://minio:9000; empty uses AWS's.
	Endpoint string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/KEY instead of
	// BUCKET.ENDPOINT/KEY (most S3-compatible stores need it).
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and optionally SessionToken) are
	// static credentials; both empty uses the default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Client uploads lake files to one bucket and prefix. It implements
// capture.Uploader and is safe for concurrent use.
type Client struct {
	api    *awss3.Client
	bucket string
	prefix string
}

// New builds a Client from cfg. It does not contact S3: a wrong bucket or
// unreachable endpoint shows up as upload failures (retried and counted by
// capture).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: bucket is required")
	}
	// capture retries with its own backoff and counts every attempt; one
	// SDK attempt each keeps those numbers true.
	api, err := s3client.New(ctx, s3client.Options{Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken, MaxAttempts: 1})
	if err != nil {
		return nil, err
	}
	return &Client{api: api, bucket: cfg.Bucket, prefix: strings.Trim(cfg.Prefix, "/")}, nil
}

// Key is the object key for a lake-relative key.
func (c *Client) Key(key string) string {
	if c.prefix == "" {
		return key
	}
	return path.Join(c.prefix, key)
}

// Upload puts body (size bytes) at Key(key) with one PutObject; lake files
// are at most the roll size (64 MiB by default), well under PutObject's
// 5 GiB limit. It returns nil once S3 has stored the object.
func (c *Client) Upload(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	_, err := c.api.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(c.bucket),
		Key:           aws.String(c.Key(key)),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/vnd.apache.parquet"),
	})
	if err != nil {
		return fmt.Errorf("s3 put s3://%s/%s: %w", c.bucket, c.Key(key), err)
	}
	return nil
}

// List returns the keys under Key(prefix), relative to the Client's
// prefix (lake-relative keys, like dt=2025-06-01/hour=12/part-x.parquet),
// following ListObjectsV2's pagination. It implements lake.Store.
func (c *Client) List(ctx context.Context, prefix string) ([]string, error) {
	full := prefix
	if c.prefix != "" {
		full = c.prefix + "/" + prefix
	}
	var keys []string
	p := awss3.NewListObjectsV2Paginator(c.api, &awss3.ListObjectsV2Input{
		Bucket: aws.String(c.bucket),
		Prefix: aws.String(full),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 list s3://%s/%s: %w", c.bucket, full, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if c.prefix != "" {
				var ok bool
				if k, ok = strings.CutPrefix(k, c.prefix+"/"); !ok {
					continue
				}
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Fetch copies the object at Key(key) into w. It implements
// lake.Store.
func (c *Client) Fetch(ctx context.Context, key string, w io.Writer) error {
	out, err := c.api.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(c.bucket),
		Key:    aws.String(c.Key(key)),
	})
	if err != nil {
		return fmt.Errorf("s3 get s3://%s/%s: %w", c.bucket, c.Key(key), err)
	}
	defer func() { _ = out.Body.Close() }()
	if _, err := io.Copy(w, out.Body); err != nil {
		return fmt.Errorf("s3 get s3://%s/%s: %w", c.bucket, c.Key(key), err)
	}
	return nil
}

// String names the destination, s3://bucket/prefix.
func (c *Client) String() string {
	return "s3://" + path.Join(c.bucket, c.prefix)
}

// ParseURL splits s3://bucket/prefix into a bucket and a prefix (which may
// be empty), for a single lake URL setting.
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("s3: %q is not an s3://bucket/prefix URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("s3: %q names no bucket", u)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}
