variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "leadscore"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name: 2-31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "lambda_architecture" {
  description = "Lambda architecture: arm64 or x86_64 (make lambda builds both)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture: arm64 or x86_64."
  }
}

variable "lambda_zip" {
  description = "Path of the bootstrap zip; empty uses build/lambda/<architecture>/bootstrap.zip from make lambda."
  type        = string
  default     = ""
}

variable "lambda_memory_mb" {
  description = "Lambda memory (MB); CPU grows with it."
  type        = number
  default     = 1024
}

variable "lambda_timeout_s" {
  description = "Lambda timeout (seconds); API Gateway stops waiting at 30."
  type        = number
  default     = 10
}

variable "lambda_reserved_concurrency" {
  description = "Most concurrent executions of the function (-1: unreserved)."
  type        = number
  default     = -1
}

variable "lambda_environment" {
  description = "Extra environment for the function: LEADSCORE_* settings (see leadscore lambda -h)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "LEADSCORE_LOG_LEVEL of the function: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the function and API access logs."
  type        = number
  default     = 30
}

variable "api_throttle_rate" {
  description = "API Gateway steady-state requests per second."
  type        = number
  default     = 500
}

variable "api_throttle_burst" {
  description = "API Gateway burst size."
  type        = number
  default     = 1000
}

variable "lake_bucket_name" {
  description = "Name of the S3 lake bucket; empty derives one from name, account and region."
  type        = string
  default     = ""
}

variable "lake_prefix" {
  description = "Key prefix the function writes captured requests under; the only prefix it may write."
  type        = string
  default     = "lake/"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9._=-]+)*/?$", var.lake_prefix))
    error_message = "lake_prefix: a non-empty key prefix such as lake/ (letters, digits, '.', '_', '=', '-', '/')."
  }
}

variable "lake_transition_ia_days" {
  description = "Days after which lake objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "lake_transition_glacier_days" {
  description = "Days after which lake objects move to GLACIER_IR."
  type        = number
  default     = 90
}

variable "lake_expiration_days" {
  description = "Days after which lake objects are deleted."
  type        = number
  default     = 365

  validation {
    condition     = var.lake_expiration_days > var.lake_transition_glacier_days && var.lake_transition_glacier_days > var.lake_transition_ia_days && var.lake_transition_ia_days >= 30
    error_message = "Want 30 <= lake_transition_ia_days < lake_transition_glacier_days < lake_expiration_days (S3 needs 30 days before STANDARD_IA)."
  }
}

variable "enable_sagemaker" {
  description = "Create the SageMaker model, endpoint configuration, endpoint and its autoscaling, and point the function at it."
  type        = bool
  default     = false
}

variable "sagemaker_image" {
  description = "ECR image URI of leadscore (deploy/Dockerfile) for the SageMaker model."
  type        = string
  default     = ""
}

variable "sagemaker_model_data_url" {
  description = "s3:// URL of the model.tar.gz from leadscore model package."
  type        = string
  default     = ""
}

variable "sagemaker_model_bucket" {
  description = "Bucket holding sagemaker_model_data_url; SageMaker may read only that object."
  type        = string
  default     = ""
}

variable "sagemaker_instance_type" {
  description = "Instance type of the endpoint."
  type        = string
  default     = "ml.c6i.large"
}

variable "sagemaker_min_instances" {
  description = "Fewest endpoint instances."
  type        = number
  default     = 1
}

variable "sagemaker_max_instances" {
  description = "Most endpoint instances."
  type        = number
  default     = 4
}

variable "sagemaker_invocations_per_instance" {
  description = "Target invocations per instance per minute for autoscaling."
  type        = number
  default     = 3000
}
