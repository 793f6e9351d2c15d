output "api_endpoint" {
  description = "Base URL of the HTTP API: POST $api_endpoint/score."
  value       = aws_apigatewayv2_api.http.api_endpoint
}

output "lambda_function_name" {
  description = "Name of the scoring function."
  value       = aws_lambda_function.api.function_name
}

output "lake_bucket" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_url" {
  description = "Where the function may write: s3://bucket/prefix."
  value       = "s3://${aws_s3_bucket.lake.bucket}/${local.lake_prefix}"
}

output "sagemaker_endpoint_name" {
  description = "Name of the SageMaker endpoint, or null without enable_sagemaker."
  value       = var.enable_sagemaker ? aws_sagemaker_endpoint.leadscore[0].name : null
}

output "glue_database" {
  description = "Glue database of the lake's tables (Athena: SELECT ... FROM <database>.predictions)."
  value       = aws_glue_catalog_database.lake.name
}

output "alerts_topic_arn" {
  description = "SNS topic of the CloudWatch alarms; pass it to leadscore serve --monitor-sns-topic-arn."
  value       = aws_sns_topic.alerts.arn
}
