package httpapi

import "strings"

// sageMakerRuntimeRoute recognizes SageMaker runtime's own invocation path,
// POST /endpoints/{name}/invocations, so that a leadscore server can stand
// in for a SageMaker endpoint and be called by the real SDK client
// (sagemakerruntime InvokeEndpoint with BaseEndpoint pointing at it). The
// path is served exactly as /invocations; any endpoint name is accepted.
// Every other path is routeOther.
func sageMakerRuntimeRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/endpoints/")
	if !ok {
		return routeOther
	}
	name, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || name == "" || strings.IndexByte(name, '/') >= 0 {
		return routeOther
	}
	return routeInvocations
}

// RouteName returns the route a request path is served by, as metrics and
// access logs name it ("/score", "/invocations", "/v2/models/{name}/infer",
// ...; "other" for unknown paths). Its values are few and fixed, so it
// suits a metric dimension where the raw path would not.
func RouteName(path string) string { return routeNames[routeOf(path)] }
