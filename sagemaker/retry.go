package sagemaker

import (
	"context"
	"errors"
	"net"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// retryableCodes are SageMaker runtime error codes worth another attempt.
var retryableCodes = map[string]bool{
	"ThrottlingException":           true,
	"ServiceUnavailable":            true,
	"InternalFailure":               true,
	"InternalDependencyException":   true,
	"ModelNotReadyException":        true,
	"RequestTimeout":                true,
	"RequestTimeoutException":       true,
	"TooManyRequestsException":      true,
	"ProvisionedThroughputExceeded": true,
}

// retryable reports whether an InvokeEndpoint error may go away on another
// attempt: the attempt timed out or never reached the endpoint, the
// service throttled or failed (429, 5xx), or the model container itself
// answered 429 or 5xx (ModelError). Refusals of the request (other 4xx)
// are not retried.
func retryable(err error) bool {
	var me *types.ModelError
	if errors.As(err, &me) {
		c := me.OriginalStatusCode
		return c != nil && (*c == 429 || *c >= 500)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && retryableCodes[ae.ErrorCode()] {
		return true
	}
	// Checked before the status: the SDK wraps a failed send in a
	// ResponseError with status 0.
	var se *smithyhttp.RequestSendError
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &se) || errors.As(err, &ne) {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		c := re.HTTPStatusCode()
		return c == 429 || c >= 500 && c != 501
	}
	return false
}
