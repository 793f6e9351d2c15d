# Alerts: one SNS topic for everything that should wake someone up.
# CloudWatch alarms on the Lambda's EMF metrics (namespace
# var.metrics_namespace, dimensions FunctionName and Route) publish to
# it, and `leadscore serve --monitor-sns-topic-arn` publishes its drift,
# quality, bias, attribution and capture-health violations to it.

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  score_dimensions = {
    FunctionName = aws_lambda_function.api.function_name
    Route        = "/score"
  }
}

# p99 latency of /score above the limit for three minutes.
resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  alarm_name          = "${var.name}-score-latency-p99"
  alarm_description   = "p99 latency of /score above ${var.alarm_p99_latency_ms} ms (EMF Latency)"
  namespace           = var.metrics_namespace
  metric_name         = "Latency"
  dimensions          = local.score_dimensions
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.alarm_p99_latency_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# Share of /score requests answered with an error above the limit.
resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-score-error-rate"
  alarm_description   = "errors over requests of /score above ${var.alarm_error_rate} (EMF Errors / Requests)"
  evaluation_periods  = 3
  threshold           = var.alarm_error_rate
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, errors / requests, 0)"
    label       = "error rate"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "Errors"
      dimensions  = local.score_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "Requests"
      dimensions  = local.score_dimensions
      period      = 60
      stat        = "Sum"
    }
  }
}

# Throughput floor: fewer /score requests than expected means the lead
# source upstream stopped sending (missing data counts as breaching).
resource "aws_cloudwatch_metric_alarm" "throughput_floor" {
  count               = var.alarm_min_requests_per_5m > 0 ? 1 : 0
  alarm_name          = "${var.name}-score-throughput-floor"
  alarm_description   = "fewer than ${var.alarm_min_requests_per_5m} /score requests in 5 minutes (EMF Requests)"
  namespace           = var.metrics_namespace
  metric_name         = "Requests"
  dimensions          = local.score_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarm_min_requests_per_5m
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# Lets `leadscore serve` (on EC2, ECS or EKS, under this role) publish
# monitoring alerts to the topic, and nothing else.
data "aws_iam_policy_document" "publish_alerts" {
  statement {
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

resource "aws_iam_policy" "publish_alerts" {
  name        = "${var.name}-publish-alerts"
  description = "leadscore serve publishes monitoring alerts to ${aws_sns_topic.alerts.name}"
  policy      = data.aws_iam_policy_document.publish_alerts.json
}

resource "aws_iam_role_policy_attachment" "serve_publish_alerts" {
  count      = var.serve_role_name == "" ? 0 : 1
  role       = var.serve_role_name
  policy_arn = aws_iam_policy.publish_alerts.arn
}
