# Optional (enable_sagemaker): leadscore as a SageMaker real-time endpoint,
# the image from deploy/Dockerfile and the model.tar.gz from
# `leadscore model package`, scaled by Application Auto Scaling on
# invocations per instance.

resource "aws_sagemaker_model" "leadscore" {
  count              = local.sagemaker_enabled
  name               = "${var.name}-model"
  execution_role_arn = aws_iam_role.sagemaker[0].arn

  primary_container {
    image          = var.sagemaker_image
    model_data_url = var.sagemaker_model_data_url
    mode           = "SingleModel"
  }

  lifecycle {
    precondition {
      condition     = var.sagemaker_image != "" && startswith(var.sagemaker_model_data_url, "s3://${var.sagemaker_model_bucket}/")
      error_message = "enable_sagemaker needs sagemaker_image, and sagemaker_model_data_url inside sagemaker_model_bucket."
    }
  }
}

resource "aws_sagemaker_endpoint_configuration" "leadscore" {
  count = local.sagemaker_enabled
  name  = "${var.name}-config"

  production_variants {
    variant_name           = "AllTraffic"
    model_name             = aws_sagemaker_model.leadscore[0].name
    instance_type          = var.sagemaker_instance_type
    initial_instance_count = var.sagemaker_min_instances
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "leadscore" {
  count                = local.sagemaker_enabled
  name                 = local.sagemaker_endpoint
  endpoint_config_name = aws_sagemaker_endpoint_configuration.leadscore[0].name
}

resource "aws_appautoscaling_target" "sagemaker" {
  count              = local.sagemaker_enabled
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.leadscore[0].name}/variant/AllTraffic"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.sagemaker_min_instances
  max_capacity       = var.sagemaker_max_instances
}

resource "aws_appautoscaling_policy" "sagemaker" {
  count              = local.sagemaker_enabled
  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.sagemaker[0].service_namespace
  resource_id        = aws_appautoscaling_target.sagemaker[0].resource_id
  scalable_dimension = aws_appautoscaling_target.sagemaker[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.sagemaker_invocations_per_instance
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
