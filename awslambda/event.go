package awslambda

// event holds the fields of both API Gateway proxy payloads that the
// conversion uses, so that an event is decoded once whatever its version:
// payload 1.0 is events.APIGatewayProxyRequest, payload 2.0
// events.APIGatewayV2HTTPRequest, and the JSON names below are theirs.
// Fields neither version sends stay empty; the rest (authorizer,
// identity details, stage variables, ...) are skipped.
type event struct {
	Version         string            `json:"version"`
	Headers         map[string]string `json:"headers"`
	PathParameters  map[string]string `json:"pathParameters"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`

	// Payload 1.0.
	HTTPMethod                      string              `json:"httpMethod"`
	Path                            string              `json:"path"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`

	// Payload 2.0.
	RawPath        string   `json:"rawPath"`
	RawQueryString string   `json:"rawQueryString"`
	Cookies        []string `json:"cookies"`

	RequestContext struct {
		RequestID string `json:"requestId"`
		Stage     string `json:"stage"`
		Identity  struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"` // payload 1.0
		HTTP struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"` // payload 2.0
	} `json:"requestContext"`
}
