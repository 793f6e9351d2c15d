// Package s3client builds the AWS SDK's S3 client the way every S3
// adapter of leadscore (the lake's uploads, the model registry) needs it:
// an optional region, custom endpoint, path-style addressing and static
// credentials over the SDK's default chain, and checksums only where S3
// requires them.
package s3client

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options says how to reach S3 or an S3-compatible store.
type Options struct {
	// Region, e.g. eu-west-1; empty takes AWS_REGION / the shared config,
	// then us-east-1.
	Region string
	// Endpoint is a custom endpoint URL; empty uses AWS's.
	Endpoint string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/KEY.
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and optionally SessionToken) are
	// static credentials; both empty uses the default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// MaxAttempts, when positive, caps the SDK's attempts per call (1: the
	// caller retries itself); 0 keeps the SDK's default retries.
	MaxAttempts int
}

// New returns a client for o. It does not contact S3.
func New(ctx context.Context, o Options) (*awss3.Client, error) {
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("s3: give both the access key id and the secret access key, or neither")
	}
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	if o.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return awss3.NewFromConfig(awsCfg, func(so *awss3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// Checksums only where S3 requires them: S3-compatible stores do
		// not all understand the newer default trailing checksums.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}
