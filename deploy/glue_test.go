package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/parquet-go/parquet-go"
	"github.com/zclconf/go-cty/cty"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/lake"
)

// hiveType is the Glue (Hive) type Athena reads a lake column as.
func hiveType(t *testing.T, n parquet.Node) string {
	t.Helper()
	typ := n.Type()
	if lt := typ.LogicalType(); lt != nil {
		switch s := strings.ToUpper(lt.String()); {
		case strings.HasPrefix(s, "TIMESTAMP"):
			return "timestamp"
		case strings.HasPrefix(s, "STRING"):
			return "string"
		}
	}
	switch typ.Kind() {
	case parquet.Double:
		return "double"
	case parquet.Float:
		return "float"
	case parquet.Int32:
		return "int"
	case parquet.Boolean:
		return "boolean"
	}
	t.Fatalf("no Hive type for %v", typ)
	return ""
}

type glueColumn struct{ name, typ string }

// TestGlueTablesMatchTheLake parses glue.tf and checks the database and
// its two tables against the lake package: each table's location is its
// sibling root, the projection's path template is the lake's partition
// path (dt=YYYY-MM-DD, hour zero-padded to two digits, as lake writes
// them), and the columns are the lake's, in file order, with the Hive
// types of their Parquet types.
func TestGlueTablesMatchTheLake(t *testing.T) {
	c := loadTerraform(t)
	if c.resources["aws_glue_catalog_database.lake"] == nil {
		t.Fatal("no aws_glue_catalog_database.lake")
	}
	def, diags := c.variables["lake_feature_columns"].Body.Attributes["default"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var features []string
	for _, v := range def.AsValueSlice() {
		features = append(features, v.AsString())
	}
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(features, demo.FeatureNames()) {
		t.Errorf("lake_feature_columns default %v is not the demo model's features", features)
	}

	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"lake_projection_start": cty.StringVal("2025-01-01")}),
	}}
	partition, diags := c.locals["lake_partition"].Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wantTemplate := lake.PartitionDay + "=${" + lake.PartitionDay + "}/" + lake.PartitionHour + "=${" + lake.PartitionHour + "}"
	if partition.AsString() != wantTemplate {
		t.Errorf("lake_partition %q, want %q", partition.AsString(), wantTemplate)
	}
	proj, diags := c.locals["lake_projection"].Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := map[string]string{}
	for k, v := range proj.AsValueMap() {
		p[k] = v.AsString()
	}
	// The lake writes hour=07: two digits; and dt as time.DateOnly.
	at := time.Date(2025, 6, 1, 7, 0, 0, 0, time.UTC)
	if !strings.HasSuffix(lake.Predictions.Partition(at), "/"+lake.PartitionHour+"=07") || p["projection.hour.digits"] != "2" {
		t.Errorf("hour partitions %q, projection.hour.digits %q", lake.Predictions.Partition(at), p["projection.hour.digits"])
	}
	if !strings.Contains(lake.Predictions.Partition(at), "dt=2025-06-01") || p["projection.dt.format"] != "yyyy-MM-dd" || p["projection.dt.type"] != "date" {
		t.Errorf("day partitions: projection %v", p)
	}
	if p["projection.enabled"] != "true" || p["projection.hour.range"] != "0,23" || p["projection.hour.type"] != "integer" {
		t.Errorf("projection %v", p)
	}

	predSchema, err := lake.PredictionSchema(features)
	if err != nil {
		t.Fatal(err)
	}
	gtSchema := parquet.SchemaOf(lake.OutcomeRow{})
	for _, tc := range []struct {
		res    string
		table  lake.Table
		schema *parquet.Schema
	}{
		{"aws_glue_catalog_table.predictions", lake.Predictions, predSchema},
		{"aws_glue_catalog_table.groundtruth", lake.GroundTruth, gtSchema},
	} {
		b := c.resources[tc.res]
		if b == nil {
			t.Errorf("no %s", tc.res)
			continue
		}
		if name, _ := literal(b, "name"); name != tc.table.String() {
			t.Errorf("%s is named %q, want %q", tc.res, name, tc.table.String())
		}
		params := c.text(b.Body.Attributes["parameters"].Expr)
		if want := `"${local.lake_location}/` + tc.table.Dir() + `/${local.lake_partition}"`; !strings.Contains(params, want) {
			t.Errorf("%s storage.location.template: want %s in %s", tc.res, want, params)
		}
		var keys []string
		var sd *hclsyntax.Block
		for _, blk := range b.Body.Blocks {
			switch blk.Type {
			case "partition_keys":
				n, _ := literal(blk, "name")
				keys = append(keys, n)
			case "storage_descriptor":
				sd = blk
			}
		}
		if !slices.Equal(keys, []string{lake.PartitionDay, lake.PartitionHour}) {
			t.Errorf("%s partition keys %v", tc.res, keys)
		}
		if sd == nil {
			t.Fatalf("%s has no storage_descriptor", tc.res)
		}
		if loc := c.text(sd.Body.Attributes["location"].Expr); loc != `"${local.lake_location}/`+tc.table.Dir()+`/"` {
			t.Errorf("%s location %s, want the %s/ root", tc.res, loc, tc.table.Dir())
		}
		var got []glueColumn
		for _, blk := range sd.Body.Blocks {
			switch blk.Type {
			case "columns":
				n, _ := literal(blk, "name")
				ty, _ := literal(blk, "type")
				got = append(got, glueColumn{n, ty})
			case "dynamic":
				if !strings.Contains(c.text(blk.Body.Attributes["for_each"].Expr), "var.lake_feature_columns") {
					t.Errorf("%s: dynamic columns over %s", tc.res, c.text(blk.Body.Attributes["for_each"].Expr))
				}
				for _, f := range features {
					got = append(got, glueColumn{f, "float"})
				}
			}
		}
		var want []glueColumn
		for _, f := range tc.schema.Fields() {
			want = append(want, glueColumn{f.Name(), hiveType(t, f)})
		}
		if tc.table == lake.GroundTruth { // SchemaOf orders fields as the struct does
			want = want[:0]
			for _, name := range []string{lake.ColEventTime, lake.ColInferenceID, lake.ColLeadID, lake.ColConverted} {
				f, ok := tc.schema.Lookup(name)
				if !ok {
					t.Fatalf("ground truth has no %s", name)
				}
				want = append(want, glueColumn{name, hiveType(t, f.Node)})
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s columns\n%v\nwant the lake's\n%v", tc.res, got, want)
		}
	}
}
