package deploy

import (
	"strings"
	"testing"
)

// TestTerraformAlerts: an SNS topic; CloudWatch alarms on the Lambda's EMF
// metrics (p99 latency, error rate, throughput floor) publishing to it;
// and a policy letting serve publish to that topic only.
func TestTerraformAlerts(t *testing.T) {
	c := loadTerraform(t)
	if c.resources["aws_sns_topic.alerts"] == nil {
		t.Fatal("no aws_sns_topic.alerts")
	}
	for name, want := range map[string][]string{
		"aws_cloudwatch_metric_alarm.latency_p99":      {`"Latency"`, `"p99"`, "var.metrics_namespace", "aws_sns_topic.alerts.arn"},
		"aws_cloudwatch_metric_alarm.error_rate":       {`"Errors"`, `"Requests"`, "errors / requests", "aws_sns_topic.alerts.arn"},
		"aws_cloudwatch_metric_alarm.throughput_floor": {`"Requests"`, `"LessThanThreshold"`, `"breaching"`, "aws_sns_topic.alerts.arn"},
	} {
		b := c.resources[name]
		if b == nil {
			t.Errorf("no %s", name)
			continue
		}
		src := string(b.Range().SliceBytes(c.src[c.files[b]]))
		for _, w := range want {
			if !strings.Contains(src, w) {
				t.Errorf("%s lacks %s", name, w)
			}
		}
	}
	pol := c.data["aws_iam_policy_document.publish_alerts"]
	if pol == nil {
		t.Fatal("no publish_alerts policy document")
	}
	src := string(pol.Range().SliceBytes(c.src[c.files[pol]]))
	if !strings.Contains(src, `"sns:Publish"`) || !strings.Contains(src, "aws_sns_topic.alerts.arn") || strings.Contains(src, `"*"`) {
		t.Errorf("publish policy %s", src)
	}
}
