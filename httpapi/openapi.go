package httpapi

import _ "embed" // the OpenAPI document

// openAPIDocument is the OpenAPI 3.1 description of every route, served
// at GET /openapi.json (and rendered by the console's /docs page).
// TestOpenAPIDocument validates it and checks it against routeTable both
// ways, so a route cannot be added or removed without it.
//
//go:embed openapi.json
var openAPIDocument []byte

// routeSpec is one route the router serves: a path pattern in OpenAPI's
// {param} syntax, its method, and the route it maps to.
type routeSpec struct {
	method, pattern string
	route           route
}

// routeTable lists every path shape routeOf accepts with the method its
// handler takes (GET also answers HEAD). Tests check it against routeOf,
// the handlers and the OpenAPI document.
var routeTable = []routeSpec{
	{"POST", "/score", routeScore},
	{"POST", "/invocations", routeInvocations},
	{"POST", "/endpoints/{endpoint}/invocations", routeInvocations},
	{"GET", "/execution-parameters", routeExecParams},
	{"GET", "/ping", routePing},
	{"GET", "/healthz", routeHealthz},
	{"GET", "/readyz", routeReadyz},
	{"GET", "/metrics", routeProm},
	{"GET", "/openapi.json", routeOpenAPI},
	{"POST", "/admin/reload", routeReload},
	{"GET", "/v1/monitoring", routeMonitoring},
	{"POST", "/v1/feedback", routeFeedback},
	{"GET", "/v1/stats", routeStats},
	{"GET", "/v1/variants", routeVariants},
	{"POST", "/admin/variants", routeAdminVariants},
	{"GET", "/", routeConsole},
	{"GET", "/docs", routeConsole},
	{"GET", "/ui/{asset}", routeConsole},
	{"GET", "/v2", routeV2Server},
	{"GET", "/v2/health/live", routeV2Health},
	{"GET", "/v2/health/ready", routeV2Health},
	{"GET", "/v2/models/{name}", routeV2Model},
	{"GET", "/v2/models/{name}/ready", routeV2Model},
	{"GET", "/v2/models/{name}/config", routeV2Model},
	{"POST", "/v2/models/{name}/infer", routeV2Infer},
	{"GET", "/v2/models/{name}/versions/{version}", routeV2Model},
	{"GET", "/v2/models/{name}/versions/{version}/ready", routeV2Model},
	{"GET", "/v2/models/{name}/versions/{version}/config", routeV2Model},
	{"POST", "/v2/models/{name}/versions/{version}/infer", routeV2Infer},
}
