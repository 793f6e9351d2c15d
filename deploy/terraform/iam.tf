# Least privilege. The function may: write its own log stream, put objects
# under the lake prefix only, and (with SageMaker) invoke the one endpoint.
# No wildcard actions; the deploy test checks this file.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  statement {
    sid       = "WriteLakePrefixOnly"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.lake_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.enable_sagemaker ? [1] : []

    content {
      sid       = "InvokeTheEndpoint"
      effect    = "Allow"
      actions   = ["sagemaker:InvokeEndpoint"]
      resources = ["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:endpoint/${local.sagemaker_endpoint}"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# SageMaker's execution role: pull the image, read the one model artefact,
# write the endpoint's logs.
data "aws_iam_policy_document" "sagemaker_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "sagemaker" {
  count              = local.sagemaker_enabled
  name               = "${var.name}-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_assume.json
}

data "aws_iam_policy_document" "sagemaker" {
  count = local.sagemaker_enabled

  statement {
    sid       = "ReadTheModelArtefact"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.sagemaker_model_bucket}/${trimprefix(var.sagemaker_model_data_url, "s3://${var.sagemaker_model_bucket}/")}"]
  }

  statement {
    sid       = "PullTheImage"
    effect    = "Allow"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.name}"]
  }

  statement {
    # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteEndpointLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/Endpoints/${local.sagemaker_endpoint}:*"]
  }

  statement {
    sid       = "PublishEndpointMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/Endpoints"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  count  = local.sagemaker_enabled
  name   = "${var.name}-sagemaker"
  role   = aws_iam_role.sagemaker[0].id
  policy = data.aws_iam_policy_document.sagemaker[0].json
}
