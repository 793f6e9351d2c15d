package leadscore

import (
	"fmt"
	"unicode/utf8"
)

// Defaults of IDLimits.
const (
	// DefaultMaxLeadIDBytes bounds a lead id (a CRM's record id, an email
	// address hash, ...), in bytes of UTF-8.
	DefaultMaxLeadIDBytes = 256
	// DefaultMaxTokenIDLength bounds an inference id, in characters of
	// TokenIDChars.
	DefaultMaxTokenIDLength = 128
)

// TokenIDChars is the character set of inference and request ids: ASCII
// letters, digits and . _ : - (a UUID, a ULID or a SageMaker id fits).
const TokenIDChars = "[A-Za-z0-9._:-]" //nolint:gosec // G101: a character class, not a credential

// IDLimits bounds the ids a caller supplies, which reach logs, metrics
// labels' neighbours, the data lake and memory: every one is checked before
// it is kept. Zero fields take the defaults.
type IDLimits struct {
	// LeadIDBytes bounds a lead id: at most this many bytes of valid UTF-8
	// without control characters. Default 256.
	LeadIDBytes int
	// TokenIDLength bounds an inference id (X-Amzn-SageMaker-Inference-Id,
	// the V2 request "id", a feedback inference_id): 1 to this many
	// characters of TokenIDChars. Default 128.
	TokenIDLength int
}

// WithDefaults returns l with zero fields set to the defaults.
func (l IDLimits) WithDefaults() IDLimits {
	if l.LeadIDBytes <= 0 {
		l.LeadIDBytes = DefaultMaxLeadIDBytes
	}
	if l.TokenIDLength <= 0 {
		l.TokenIDLength = DefaultMaxTokenIDLength
	}
	return l
}

// CheckLeadID reports why s is not an acceptable lead id, or nil: it must
// be valid UTF-8, hold no control characters (C0, DEL, C1) and be at most
// LeadIDBytes long. The empty id is allowed (no id).
func (l IDLimits) CheckLeadID(s string) error {
	limit := l.WithDefaults().LeadIDBytes
	if len(s) > limit {
		return fmt.Errorf("is %d bytes long, at most %d allowed", len(s), limit)
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validAt(s, i):
			return fmt.Errorf("is not valid UTF-8 (byte %d)", i)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return fmt.Errorf("holds a control character (U+%04X at byte %d)", r, i)
		}
	}
	return nil
}

// validAt reports whether the RuneError at s[i] was spelled out in s
// (U+FFFD itself) rather than decoded from invalid bytes.
func validAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// CheckTokenID reports why s is not an acceptable inference id, or nil:
// 1 to TokenIDLength characters of TokenIDChars.
func (l IDLimits) CheckTokenID(s string) error {
	limit := l.WithDefaults().TokenIDLength
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > limit:
		return fmt.Errorf("is %d characters long, at most %d allowed", len(s), limit)
	}
	for i := 0; i < len(s); i++ {
		if !TokenIDChar(s[i]) {
			return fmt.Errorf("holds a character outside %s at byte %d", TokenIDChars, i)
		}
	}
	return nil
}

// TokenIDChar reports whether c is one of TokenIDChars.
func TokenIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
}
