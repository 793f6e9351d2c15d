# The lake's Glue Data Catalog: one database and two tables, predictions and
# ground truth, over the sibling roots leadscore writes
# (LAKE/predictions/dt=YYYY-MM-DD/hour=HH/*.parquet and
# LAKE/groundtruth/dt=YYYY-MM-DD/hour=HH/*.parquet, UTC, hours zero-padded).
# Partition projection finds the partitions without a crawler or MSCK
# REPAIR: Athena computes each dt/hour path from the query's predicates.
# The columns follow the lake package (lake/lake.go, lake/schema.go);
# deploy/glue_test.go checks them against it. docs/lake.md has the queries.

locals {
  lake_location  = "s3://${aws_s3_bucket.lake.bucket}/${local.lake_prefix}"
  lake_serde     = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
  lake_input     = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
  lake_output    = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
  lake_partition = "dt=$${dt}/hour=$${hour}"
  lake_projection = {
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.lake_projection_start},NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "projection.hour.type"        = "integer"
    "projection.hour.range"       = "0,23"
    "projection.hour.digits"      = "2"
    "classification"              = "parquet"
    "EXTERNAL"                    = "TRUE"
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = replace("${var.name}_lake", "-", "_")
  description = "leadscore's capture lake: predictions and ground truth"
}

resource "aws_glue_catalog_table" "predictions" {
  database_name = aws_glue_catalog_database.lake.name
  name          = "predictions"
  description   = "One row per scored lead (POST /score, /invocations, V2)"
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(local.lake_projection, {
    "storage.location.template" = "${local.lake_location}/predictions/${local.lake_partition}"
  })

  partition_keys {
    name = "dt"
    type = "string"
  }

  partition_keys {
    name = "hour"
    type = "int"
  }

  storage_descriptor {
    location      = "${local.lake_location}/predictions/"
    input_format  = local.lake_input
    output_format = local.lake_output

    ser_de_info {
      serialization_library = local.lake_serde
    }

    columns {
      name = "event_time"
      type = "timestamp"
    }
    columns {
      name = "request_id"
      type = "string"
    }
    columns {
      name = "inference_id"
      type = "string"
    }
    columns {
      name = "lead_id"
      type = "string"
    }
    columns {
      name = "model_name"
      type = "string"
    }
    columns {
      name = "model_version"
      type = "string"
    }

    dynamic "columns" {
      for_each = var.lake_feature_columns
      content {
        name = columns.value
        type = "float"
      }
    }

    columns {
      name = "margin"
      type = "double"
    }
    columns {
      name = "probability"
      type = "double"
    }
    columns {
      name = "tier"
      type = "int"
    }
    columns {
      name = "latency_ms"
      type = "double"
    }
    columns {
      name = "variant"
      type = "string"
    }
    columns {
      name = "role"
      type = "string"
    }
  }
}

resource "aws_glue_catalog_table" "groundtruth" {
  database_name = aws_glue_catalog_database.lake.name
  name          = "groundtruth"
  description   = "Outcomes posted to POST /v1/feedback"
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(local.lake_projection, {
    "storage.location.template" = "${local.lake_location}/groundtruth/${local.lake_partition}"
  })

  partition_keys {
    name = "dt"
    type = "string"
  }

  partition_keys {
    name = "hour"
    type = "int"
  }

  storage_descriptor {
    location      = "${local.lake_location}/groundtruth/"
    input_format  = local.lake_input
    output_format = local.lake_output

    ser_de_info {
      serialization_library = local.lake_serde
    }

    columns {
      name = "event_time"
      type = "timestamp"
    }
    columns {
      name = "inference_id"
      type = "string"
    }
    columns {
      name = "lead_id"
      type = "string"
    }
    columns {
      name = "converted"
      type = "boolean"
    }
  }
}
