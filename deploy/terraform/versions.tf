# leadscore on AWS: API Gateway HTTP API -> Lambda (provided.al2023), an S3
# lake bucket for captured requests, least-privilege IAM, and optionally a
# SageMaker real-time endpoint with autoscaling. See docs/deploy.md.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({
      "app"        = var.name
      "managed-by" = "terraform"
    }, var.tags)
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  lambda_zip  = var.lambda_zip != "" ? var.lambda_zip : "${path.module}/../../build/lambda/${var.lambda_architecture}/bootstrap.zip"
  lake_bucket = var.lake_bucket_name != "" ? var.lake_bucket_name : "${var.name}-lake-${local.account_id}-${var.region}"
  lake_prefix = trimsuffix(var.lake_prefix, "/")

  sagemaker_enabled  = var.enable_sagemaker ? 1 : 0
  sagemaker_endpoint = "${var.name}-endpoint"
}
