// Package oipclient is a small client of the Open Inference Protocol
// (KServe V2) REST API, written from the protocol document
// (https://github.com/kserve/open-inference-protocol, "REST/HTTP" section:
// health, metadata and inference, and its JSON shapes) and Triton's model
// configuration extension (GET /v2/models/{name}/config), not from
// leadscore's server. leadscore's tests use it as an independent client;
// it depends on nothing but the standard library.
package oipclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one inference server.
type Client struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:8080.
	BaseURL string
	// HTTP is the client used (http.DefaultClient when nil).
	HTTP *http.Client
}

// Error is a non-2xx answer: the protocol's {"error": "..."} body.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Message) }

// Tensor is a request or response tensor (the protocol's $request_input
// and $response_output).
type Tensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data"`
}

// RequestedOutput is the protocol's $request_output.
type RequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// InferRequest is the protocol's $inference_request.
type InferRequest struct {
	ID         string            `json:"id,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []Tensor          `json:"inputs"`
	Outputs    []RequestedOutput `json:"outputs,omitempty"`
}

// InferResponse is the protocol's $inference_response; each output's Data
// is decoded as []any (numbers as float64).
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id"`
	Parameters   map[string]any `json:"parameters"`
	Outputs      []Tensor       `json:"outputs"`
}

// Output returns the response output named name.
func (r *InferResponse) Output(name string) (Tensor, bool) {
	for _, o := range r.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Tensor{}, false
}

// Floats returns a tensor's data as float64s (flattened row-major).
func (t Tensor) Floats() ([]float64, error) {
	var out []float64
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("tensor %s: %T is not a number", t.Name, v)
		}
		return nil
	}
	return out, walk(t.Data)
}

// MetadataTensor is the protocol's $metadata_tensor.
type MetadataTensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the protocol's $metadata_model_response.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []MetadataTensor `json:"inputs"`
	Outputs  []MetadataTensor `json:"outputs"`
}

// ServerMetadata is the protocol's $metadata_server_response.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// ModelConfig is the part of Triton's model configuration that clients
// such as perf_analyzer read.
type ModelConfig struct {
	Name         string `json:"name"`
	Platform     string `json:"platform"`
	Backend      string `json:"backend"`
	MaxBatchSize int    `json:"max_batch_size"`
	Input        []struct {
		Name     string  `json:"name"`
		DataType string  `json:"data_type"`
		Dims     []int64 `json:"dims"`
	} `json:"input"`
	Output []struct {
		Name     string  `json:"name"`
		DataType string  `json:"data_type"`
		Dims     []int64 `json:"dims"`
	} `json:"output"`
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			return &Error{Status: resp.StatusCode, Message: "no {\"error\"} body: " + string(raw)}
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// ServerLive is GET /v2/health/live.
func (c *Client) ServerLive(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v2/health/live", nil, nil)
}

// ServerReady is GET /v2/health/ready.
func (c *Client) ServerReady(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v2/health/ready", nil, nil)
}

// ServerMetadata is GET /v2.
func (c *Client) ServerMetadata(ctx context.Context) (ServerMetadata, error) {
	var m ServerMetadata
	return m, c.do(ctx, http.MethodGet, "/v2", nil, &m)
}

func modelPath(model, version string) string {
	p := "/v2/models/" + url.PathEscape(model)
	if version != "" {
		p += "/versions/" + url.PathEscape(version)
	}
	return p
}

// ModelReady is GET /v2/models/{model}[/versions/{version}]/ready.
func (c *Client) ModelReady(ctx context.Context, model, version string) error {
	return c.do(ctx, http.MethodGet, modelPath(model, version)+"/ready", nil, nil)
}

// ModelMetadata is GET /v2/models/{model}[/versions/{version}].
func (c *Client) ModelMetadata(ctx context.Context, model, version string) (ModelMetadata, error) {
	var m ModelMetadata
	return m, c.do(ctx, http.MethodGet, modelPath(model, version), nil, &m)
}

// ModelConfig is Triton's GET /v2/models/{model}/config.
func (c *Client) ModelConfig(ctx context.Context, model string) (ModelConfig, error) {
	var m ModelConfig
	return m, c.do(ctx, http.MethodGet, modelPath(model, "")+"/config", nil, &m)
}

// Infer is POST /v2/models/{model}[/versions/{version}]/infer.
func (c *Client) Infer(ctx context.Context, model, version string, req InferRequest) (InferResponse, error) {
	var r InferResponse
	return r, c.do(ctx, http.MethodPost, modelPath(model, version)+"/infer", req, &r)
}
