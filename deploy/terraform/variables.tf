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

variable "lake_feature_columns" {
  description = "The served model's feature names, in order: the predictions table's feature columns (default: the demo model's)."
  type        = list(string)
  default = [
    "company_size_log",
    "annual_revenue_log",
    "industry_code",
    "country_tier",
    "company_age_years",
    "is_public_company",
    "funding_stage",
    "num_locations_log",
    "tech_stack_fit",
    "competitor_user",
    "job_title_seniority",
    "department_code",
    "is_decision_maker",
    "contact_tenure_months",
    "linkedin_connections_log",
    "has_business_email",
    "web_sessions_7d",
    "web_sessions_30d",
    "pages_viewed_7d",
    "pages_viewed_30d",
    "avg_session_duration_sec",
    "pricing_page_views_30d",
    "docs_page_views_30d",
    "blog_views_30d",
    "is_returning_visitor",
    "mobile_session_share",
    "email_opens_30d",
    "email_clicks_30d",
    "email_unsubscribed",
    "email_bounces",
    "form_submissions",
    "content_downloads",
    "webinar_registrations",
    "webinar_attended",
    "demo_requested",
    "trial_started",
    "trial_active_days",
    "product_logins_14d",
    "features_used_count",
    "chat_interactions",
    "support_tickets",
    "days_since_last_touch",
    "days_since_first_touch",
    "touches_total",
    "sales_calls_count",
    "meetings_booked",
    "lead_source_code",
    "campaign_code",
    "intent_score_3p",
    "social_engagement_score"
  ]
}

variable "lake_projection_start" {
  description = "First day (YYYY-MM-DD) Athena's partition projection considers for the lake tables."
  type        = string
  default     = "2025-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.lake_projection_start))
    error_message = "lake_projection_start: a day as YYYY-MM-DD."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the Lambda's EMF metrics (leadscore lambda --emf-namespace)."
  type        = string
  default     = "leadscore"
}

variable "alert_email" {
  description = "Email address subscribed to the alerts topic (empty: none)."
  type        = string
  default     = ""
}

variable "alarm_p99_latency_ms" {
  description = "p99 latency of /score, in ms, above which the latency alarm fires."
  type        = number
  default     = 200
}

variable "alarm_error_rate" {
  description = "Share of /score requests answered with an error above which the error alarm fires."
  type        = number
  default     = 0.05
}

variable "alarm_min_requests_per_5m" {
  description = "Fewest /score requests in 5 minutes before the throughput floor alarm fires (0: no floor)."
  type        = number
  default     = 0
}

variable "serve_role_name" {
  description = "IAM role of `leadscore serve` (EC2, ECS task or EKS service account) allowed to publish alerts (empty: none)."
  type        = string
  default     = ""
}
