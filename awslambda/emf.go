package awslambda

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"sync"
)

// DefaultNamespace is the CloudWatch namespace EMF metrics go to when
// EMFConfig.Namespace is empty.
const DefaultNamespace = "leadscore"

// EMFConfig configures an EMF Observer.
type EMFConfig struct {
	// Namespace is the CloudWatch metrics namespace (default "leadscore").
	Namespace string
	// Dimensions are fixed dimensions added to every metric, such as
	// FunctionName; entries with an empty value are left out.
	Dimensions map[string]string
}

// EMF is an Observer writing one CloudWatch Embedded Metric Format line
// per invocation: Requests, Errors (status >= 400), ServerErrors (>= 500),
// Latency and ModelLatency (milliseconds) and RowsScored, under the
// dimension sets [fixed..., Route] and [fixed..., Route, Status]. RowsScored
// and ModelLatency need the handler's Scorer wrapped with Metered. Route is
// the service's route name (see httpapi.RouteName), never a raw path, so
// dimensions stay few. Lambda ships stdout to CloudWatch Logs, which turns
// the lines into metrics; no API call is made. It is safe for concurrent
// use.
type EMF struct {
	w         io.Writer
	namespace string
	fixed     [][2]string // sorted by key
	routeName func(path string) string
	mu        sync.Mutex // keeps lines whole on a shared writer
}

// NewEMF returns an EMF writing lines to w (stdout in Lambda). routeName
// maps a request path to its route name for the Route dimension;
// httpapi.RouteName is the service's. Nil uses the path as is.
func NewEMF(w io.Writer, cfg EMFConfig, routeName func(path string) string) *EMF {
	m := &EMF{w: w, namespace: cfg.Namespace, routeName: routeName}
	if m.namespace == "" {
		m.namespace = DefaultNamespace
	}
	for k, v := range cfg.Dimensions {
		if k != "" && v != "" && k != "Route" && k != "Status" {
			m.fixed = append(m.fixed, [2]string{k, v})
		}
	}
	sort.Slice(m.fixed, func(i, j int) bool { return m.fixed[i][0] < m.fixed[j][0] })
	return m
}

// emfMetrics are the metric definitions of every line, in order.
var emfMetrics = []emfMetric{
	{"Requests", "Count"},
	{"Errors", "Count"},
	{"ServerErrors", "Count"},
	{"Latency", "Milliseconds"},
	{"RowsScored", "Count"},
	{"ModelLatency", "Milliseconds"},
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Observe writes the EMF line of one invocation. A failing writer is
// ignored: metrics must not fail a request.
func (m *EMF) Observe(_ context.Context, inv Invocation) {
	route := inv.Path
	if m.routeName != nil {
		route = m.routeName(inv.Path)
	}
	line := m.line(inv, route)
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(line)
}

// line encodes one EMF record. Properties that are not dimensions
// (RequestId, Payload, Method) are searchable in CloudWatch Logs Insights
// but create no metrics.
func (m *EMF) line(inv Invocation, route string) []byte {
	dims := make([]string, 0, len(m.fixed)+2)
	for _, d := range m.fixed {
		dims = append(dims, d[0])
	}
	byRoute := append(append([]string(nil), dims...), "Route")
	byStatus := append(append([]string(nil), dims...), "Route", "Status")

	rec := map[string]any{
		"_aws": map[string]any{
			"Timestamp": inv.Start.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  m.namespace,
				"Dimensions": [][]string{byRoute, byStatus},
				"Metrics":    emfMetrics,
			}},
		},
		"Route":        route,
		"Status":       strconv.Itoa(inv.Status),
		"Requests":     1,
		"Errors":       b2i(inv.Status >= 400),
		"ServerErrors": b2i(inv.Status >= 500),
		"Latency":      float64(inv.Latency.Microseconds()) / 1000,
		"RowsScored":   inv.Rows,
		"ModelLatency": float64(inv.ModelTime.Microseconds()) / 1000,
		"RequestId":    inv.RequestID,
		"Payload":      inv.Payload,
		"Method":       inv.Method,
	}
	for _, d := range m.fixed {
		rec[d[0]] = d[1]
	}
	b, err := json.Marshal(rec)
	if err != nil { // only plain values above: cannot happen
		return nil
	}
	return append(b, '\n')
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
