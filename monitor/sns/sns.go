// Package sns publishes monitoring alerts to an Amazon SNS topic (email,
// SMS, Lambda, SQS, chat bridges and PagerDuty subscribe to it). It is the
// monitor.Notifier of `leadscore serve --monitor-sns-topic-arn`.
package sns

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
)

// Limits of a message, from the Publish API.
const (
	// MaxSubject is the longest subject SNS accepts (bytes, ASCII).
	MaxSubject = 100
	// MaxMessage is the largest message SNS accepts (256 KiB).
	MaxMessage = 256 << 10
)

// Config says where alerts go.
type Config struct {
	// TopicARN is the topic, arn:aws:sns:REGION:ACCOUNT:NAME (required).
	TopicARN string
	// Region defaults to the topic's region.
	Region string
	// Endpoint, when set, replaces the SNS endpoint (a VPC endpoint, a
	// local stand-in).
	Endpoint string
	// MaxAttempts bounds the SDK's tries of one publish, throttling and
	// server errors retried with backoff (default 5).
	MaxAttempts int
}

// Publisher publishes to one topic. It is safe for concurrent use.
type Publisher struct {
	client *awssns.Client
	topic  string
}

// New checks cfg and builds the client; credentials come from the AWS
// default chain (environment, shared files, the task or instance role).
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	a, err := arn.Parse(cfg.TopicARN)
	if err != nil || a.Service != "sns" || a.Resource == "" {
		return nil, fmt.Errorf("sns: topic ARN %q: want arn:aws:sns:REGION:ACCOUNT:TOPIC", cfg.TopicARN)
	}
	region := cfg.Region
	if region == "" {
		region = a.Region
	}
	if region == "" {
		return nil, errors.New("sns: no region in the topic ARN or the settings")
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sns: endpoint %q: want an http:// or https:// URL", cfg.Endpoint)
		}
	}
	attempts := cfg.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region),
		config.WithRetryer(func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), attempts) }))
	if err != nil {
		return nil, fmt.Errorf("sns: %w", err)
	}
	client := awssns.NewFromConfig(awsCfg, func(o *awssns.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Publisher{client: client, topic: cfg.TopicARN}, nil
}

// Name names the channel in logs and metrics.
func (p *Publisher) Name() string { return "sns" }

// Notify publishes text with subject (trimmed to SNS's limits) and
// returns the SDK's error once its retries are spent.
func (p *Publisher) Notify(ctx context.Context, subject, text string) error {
	_, err := p.client.Publish(ctx, &awssns.PublishInput{
		TopicArn: aws.String(p.topic),
		Subject:  aws.String(cleanSubject(subject)),
		Message:  aws.String(truncate(text, MaxMessage)),
	})
	if err != nil {
		return fmt.Errorf("sns publish: %w", err)
	}
	return nil
}

// cleanSubject keeps what SNS accepts in a subject: printable ASCII, at
// most MaxSubject bytes, starting with a letter, number or punctuation.
func cleanSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if len(out) > MaxSubject {
		out = strings.TrimSpace(out[:MaxSubject])
	}
	if out == "" {
		out = "leadscore alert"
	}
	return out
}

// truncate shortens s to at most n bytes of valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
