package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/leadscore/leadscore/internal/s3client"
)

// S3Config says how to reach S3 or an S3-compatible store. Credentials not
// given here come from the SDK's default chain: AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, the shared config files
// (AWS_PROFILE), web identity (EKS IRSA), or the ECS/EC2 role.
type S3Config struct {
	// Region, e.g. eu-west-1; empty takes AWS_REGION / the shared config,
	// then us-east-1.
	Region string
	// Endpoint is a custom endpoint URL for S3-compatible stores, e.g.
	// http://127.0.0.1:9000; empty uses AWS's.
	Endpoint string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/KEY instead of
	// BUCKET.ENDPOINT/KEY (most S3-compatible stores need it).
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and optionally SessionToken) are
	// static credentials; both empty uses the default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
}

// maxListPages bounds a listing: 1000 keys a page, so ten million keys.
const maxListPages = 10000

// S3Store is a Store in an S3 bucket under a key prefix. Every Put is one
// PutObject of the complete object, so readers never see a partial one;
// conditional writes use S3's If-Match / If-None-Match, which Amazon S3
// and gofakes3 honour. A store that ignores those headers degrades to
// last writer wins.
type S3Store struct {
	api    *awss3.Client
	bucket string
	prefix string
}

// NewS3Store returns a store for s3://bucket/prefix. It does not contact
// S3: a wrong bucket or endpoint shows up on the first call.
func NewS3Store(ctx context.Context, bucket, prefix string, cfg S3Config) (*S3Store, error) {
	if bucket == "" {
		return nil, errors.New("s3: bucket is required")
	}
	api, err := s3client.New(ctx, s3client.Options{Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken})
	if err != nil {
		return nil, err
	}
	return &S3Store{api: api, bucket: bucket, prefix: strings.Trim(prefix, "/")}, nil
}

// String is s3://bucket/prefix.
func (s *S3Store) String() string { return "s3://" + path.Join(s.bucket, s.prefix) }

// objectKey is the S3 key of a store key.
func (s *S3Store) objectKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Get is GetObject; the tag is the object's ETag.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	out, err := s.api.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || httpStatus(err) == http.StatusNotFound {
			err = fs.ErrNotExist
		}
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", s.bucket, s.objectKey(key), err)
	}
	return out.Body, aws.ToString(out.ETag), nil
}

// Put is one PutObject with If-Match or If-None-Match: * as cond asks.
func (s *S3Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, cond Cond) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.objectKey(key)),
		Body:          body,
		ContentLength: aws.Int64(size),
	}
	if strings.HasSuffix(key, ".json") {
		in.ContentType = aws.String("application/json")
	}
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(cond.IfMatch)
	}
	if cond.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.api.PutObject(ctx, in); err != nil {
		if isConflict(err) {
			err = fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, s.objectKey(key), err)
	}
	return nil
}

// List pages through ListObjectsV2, at most maxListPages pages.
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	full := s.objectKey(prefix)
	if prefix == "" && s.prefix != "" {
		full = s.prefix + "/"
	}
	p := awss3.NewListObjectsV2Paginator(s.api, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(full),
	})
	var keys []string
	for page := 0; p.HasMorePages(); page++ {
		if page == maxListPages {
			return nil, fmt.Errorf("list s3://%s/%s: more than %d pages", s.bucket, full, maxListPages)
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, full, err)
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if s.prefix != "" {
				k = strings.TrimPrefix(k, s.prefix+"/")
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// httpStatus is the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isConflict reports a failed precondition (412) or S3's 409 for two
// conditional writes racing.
func isConflict(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	st := httpStatus(err)
	return st == http.StatusPreconditionFailed || st == http.StatusConflict
}

var _ Store = (*S3Store)(nil)
