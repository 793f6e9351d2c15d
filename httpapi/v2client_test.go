package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/leadscore/leadscore/internal/oipclient"
)

// TestV2ClientDatatypes sends, through an Open Inference Protocol client
// written from the protocol document (internal/oipclient), the demo rows
// in every numeric datatype as a NumPy client sends them, and compares
// each probability with what XGBoost predicts from the array of that type
// (testdata/v2/datatypes.json, made by gen.py).
func TestV2ClientDatatypes(t *testing.T) {
	raw, err := os.ReadFile("testdata/v2/datatypes.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Datatype      string    `json:"datatype"`
			Shape         []int64   `json:"shape"`
			Data          any       `json:"data"`
			Probabilities []float64 `json:"probabilities"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(demoServer(t, SageMaker{}))
	defer srv.Close()
	c := &oipclient.Client{BaseURL: srv.URL}
	ctx := context.Background()
	seen := map[string]bool{}
	for _, tc := range doc.Cases {
		seen[tc.Datatype] = true
		resp, err := c.Infer(ctx, "lead-demo", "", oipclient.InferRequest{
			ID:      "req-" + tc.Datatype,
			Inputs:  []oipclient.Tensor{{Name: "input-0", Shape: tc.Shape, Datatype: tc.Datatype, Data: tc.Data}},
			Outputs: []oipclient.RequestedOutput{{Name: "probability", Parameters: map[string]any{"binary_data": false}}},
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.Datatype, err)
		}
		if resp.ID != "req-"+tc.Datatype || len(resp.Outputs) != 1 {
			t.Fatalf("%s: response %+v", tc.Datatype, resp)
		}
		got, err := resp.Outputs[0].Floats()
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range tc.Probabilities {
			if float32(got[i]) != float32(p) {
				t.Errorf("%s row %d: %v, XGBoost %v", tc.Datatype, i, got[i], p)
			}
		}
	}
	for dt := range v2DTypes {
		if !seen[dt] {
			t.Errorf("datatype %s not covered by datatypes.json", dt)
		}
	}
}

// TestV2ClientProtocol walks the protocol's other calls with the client:
// health, metadata, Triton's config, requested outputs, parameters, and a
// BYTES tensor's clear 400.
func TestV2ClientProtocol(t *testing.T) {
	srv := httptest.NewServer(demoServer(t, SageMaker{}))
	defer srv.Close()
	c := &oipclient.Client{BaseURL: srv.URL}
	ctx := context.Background()
	if err := c.ServerLive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ServerReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ModelReady(ctx, "lead-demo", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	md, err := c.ModelMetadata(ctx, "lead-demo", "")
	if err != nil || md.Name != "lead-demo" || len(md.Inputs) != 1 || md.Inputs[0].Shape[1] != 50 || len(md.Outputs) != 5 {
		t.Fatalf("metadata %+v %v", md, err)
	}
	cfg, err := c.ModelConfig(ctx, "lead-demo")
	if err != nil || cfg.Name != "lead-demo" || cfg.MaxBatchSize != DefaultMaxBatch || len(cfg.Input) != 1 ||
		cfg.Input[0].DataType != "TYPE_FP32" || len(cfg.Input[0].Dims) != 1 || cfg.Input[0].Dims[0] != 50 || len(cfg.Output) != 5 {
		t.Fatalf("config %+v %v", cfg, err)
	}
	row := make([]float64, 50)
	for i := range row {
		row[i] = float64(i % 3)
	}
	req := oipclient.InferRequest{
		Parameters: map[string]any{"timeout": 10_000_000},
		Inputs:     []oipclient.Tensor{{Name: "input-0", Shape: []int64{1, 50}, Datatype: "FP64", Data: row}},
		Outputs:    []oipclient.RequestedOutput{{Name: "margin"}, {Name: "tier"}, {Name: "contributions"}, {Name: "probability"}},
	}
	resp, err := c.Infer(ctx, "lead-demo", "", req)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, o := range resp.Outputs {
		names = append(names, o.Name)
	}
	if len(names) != 4 || names[0] != "margin" || names[1] != "tier" || names[2] != "contributions" || names[3] != "probability" {
		t.Fatalf("outputs %v, want the requested order", names)
	}
	margin, _ := resp.Outputs[0].Floats()
	prob, _ := resp.Outputs[3].Floats()
	contrib, _ := resp.Outputs[2].Floats()
	if len(contrib) != 51 || resp.Outputs[2].Shape[1] != 51 {
		t.Fatalf("contributions shape %v, %d values", resp.Outputs[2].Shape, len(contrib))
	}
	sum := 0.0
	for _, v := range contrib {
		sum += v
	}
	if math.Abs(sum-margin[0]) > 1e-4 || math.Abs(1/(1+math.Exp(-margin[0]))-prob[0]) > 1e-6 {
		t.Errorf("contributions sum %v, margin %v, probability %v", sum, margin[0], prob[0])
	}
	var apiErr *oipclient.Error
	_, err = c.Infer(ctx, "lead-demo", "", oipclient.InferRequest{
		Inputs: []oipclient.Tensor{{Name: "input-0", Shape: []int64{1, 1}, Datatype: "BYTES", Data: []string{"lead"}}},
	})
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, "BYTES is not supported") {
		t.Errorf("BYTES: %v", err)
	}
	_, err = c.Infer(ctx, "lead-demo", "", oipclient.InferRequest{
		Parameters: map[string]any{"priority": 1},
		Inputs:     []oipclient.Tensor{{Name: "input-0", Shape: []int64{1, 50}, Datatype: "FP64", Data: row}},
	})
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, "priority") {
		t.Errorf("unknown parameter: %v", err)
	}
}

func TestRoundFloat16(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{
		{0.1, 0.0999755859375}, {1, 1}, {65504, 65504}, {65519, 65504}, {65520, math.Inf(1)},
		{-2.0009765625, -2}, {2.001953125, 2.001953125}, {6e-8, 5.960464477539063e-08}, {1e-9, 0},
	} {
		if got := roundFloat16(tt.in); got != tt.want {
			t.Errorf("roundFloat16(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
