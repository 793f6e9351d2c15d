package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// s3CredentialCodes are the S3 error codes that mean the credentials (or
// their permissions), not the input, are wrong.
var s3CredentialCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "InvalidToken": true, "TokenRefreshRequired": true, "Forbidden": true,
	"AllAccessDisabled": true, "AccountProblem": true,
}

// lakeReadError classifies an error from reading a lake: an S3 credentials
// or permission failure says so (exit status 1, the input is fine), the
// rest is bad input (exit status 2).
func lakeReadError(err error) error {
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && s3CredentialCodes[ae.ErrorCode()]:
		return fmt.Errorf("S3 refused the credentials (%s): check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "+
			"or LEADSCORE_LAKE_S3_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, and that they may list and read the bucket: %w", ae.ErrorCode(), err)
	case strings.Contains(err.Error(), "failed to retrieve credentials"), strings.Contains(err.Error(), "get credentials"):
		return fmt.Errorf("S3 credentials: none found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "+
			"LEADSCORE_LAKE_S3_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, or run with an IAM role): %w", err)
	}
	return fmt.Errorf("%w: %w", errInput, err)
}
