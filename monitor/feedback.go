package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadscore/leadscore"
)

// Limits of a feedback request. Its ids follow leadscore.IDLimits (by
// default a lead_id of at most 256 bytes of UTF-8 without control
// characters, an inference_id of at most 128 characters of
// [A-Za-z0-9._:-]).
const (
	// MaxFeedbackItems is the most outcomes one request may carry.
	MaxFeedbackItems = 10000
	// DefaultMaxOutcomeAge and DefaultMaxOutcomeSkew are the defaults of
	// OutcomeWindow: an outcome's "time" at most about 5 years before, or
	// 1 hour after, the time it is received.
	DefaultMaxOutcomeAge  = 5 * 366 * 24 * time.Hour
	DefaultMaxOutcomeSkew = time.Hour
)

// OutcomeWindow bounds an outcome's "time" around the time the outcome is
// received: [received - MaxAge, received + MaxSkew]. A time outside is a
// 422 invalid_value naming the field. The lake partitions outcomes by the
// time they are received, never by this one, so the window bounds what
// the time column may hold, not how many files a request makes. Zero
// fields take the defaults.
type OutcomeWindow struct {
	// MaxAge is how long before its receipt an outcome may have happened
	// (default DefaultMaxOutcomeAge).
	MaxAge time.Duration
	// MaxSkew is how far after its receipt an outcome's time may lie, for
	// senders whose clocks run ahead (default DefaultMaxOutcomeSkew).
	MaxSkew time.Duration
}

// WithDefaults returns w with zero fields set to the defaults.
func (w OutcomeWindow) WithDefaults() OutcomeWindow {
	if w.MaxAge <= 0 {
		w.MaxAge = DefaultMaxOutcomeAge
	}
	if w.MaxSkew <= 0 {
		w.MaxSkew = DefaultMaxOutcomeSkew
	}
	return w
}

// String describes the window for error messages, e.g.
// "[received - 1830 days, received + 1h0m0s]".
func (w OutcomeWindow) String() string {
	w = w.WithDefaults()
	return "[received - " + humanDuration(w.MaxAge) + ", received + " + humanDuration(w.MaxSkew) + "]"
}

// humanDuration writes whole days as days, anything else as Go does.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// Feedback is the ground truth of one scored lead: whether it converted.
// It names the prediction by inference id (preferred) or lead id.
type Feedback struct {
	InferenceID string
	LeadID      string
	Converted   bool
	// Time is when the outcome happened (UTC); the time it was received
	// when the sender gave none.
	Time time.Time
	// ReceivedAt is when leadscore received it (UTC).
	ReceivedAt time.Time
	// Matched reports whether a prediction in the live window carried the
	// id; set by Monitor.Feedback.
	Matched bool
}

// FeedbackSink receives outcomes for the data lake (the groundtruth/
// partitions), from the request path: like leadscore.Sink, an
// implementation queues or drops (and counts) but never blocks, and may
// keep the slice. capture.Writer implements it.
type FeedbackSink interface {
	CaptureFeedback(outcomes []leadscore.Outcome)
}

// FeedbackError is a feedback body that cannot be accepted. Code is one of
// the error codes of the API (bad_json, unknown_field, invalid_value,
// empty_batch, batch_too_large); Field locates the value, like
// "[2].converted", or is empty.
type FeedbackError struct {
	Code    string
	Field   string
	Message string
}

func (e *FeedbackError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// feedbackJSON is the wire form of one outcome.
type feedbackJSON struct {
	InferenceID *string          `json:"inference_id"`
	LeadID      *string          `json:"lead_id"`
	Converted   *json.RawMessage `json:"converted"`
	Time        *string          `json:"time"`
}

// ParseFeedback reads a POST /v1/feedback body: one outcome object or an
// array of them,
//
//	{"inference_id": "...", "lead_id": "...", "converted": 1, "time": "2025-06-01T12:00:00Z"}
//
// with at least one of the ids (within ids' limits: anything else is an
// invalid_id error naming the field), converted 0, 1, false or true, and
// an optional RFC 3339 time (now when absent) within win. Unknown fields
// are refused so that a typo does not silently drop an outcome.
func ParseFeedback(body []byte, now time.Time, ids leadscore.IDLimits, win OutcomeWindow) ([]Feedback, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &FeedbackError{Code: "empty_batch", Message: "the body is empty; send an outcome object or an array of them"}
	}
	var items []json.RawMessage
	prefix := func(i int) string { return fmt.Sprintf("[%d]", i) }
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, &FeedbackError{Code: "bad_json", Message: "the body is not a JSON array of objects: " + err.Error()}
		}
		if len(items) == 0 {
			return nil, &FeedbackError{Code: "empty_batch", Message: "the array holds no outcomes"}
		}
		if len(items) > MaxFeedbackItems {
			return nil, &FeedbackError{Code: "batch_too_large", Message: fmt.Sprintf("%d outcomes, at most %d per request", len(items), MaxFeedbackItems)}
		}
	case '{':
		items = []json.RawMessage{body}
		prefix = func(int) string { return "" }
	default:
		return nil, &FeedbackError{Code: "bad_json", Message: "the body must be a JSON object or array"}
	}
	out := make([]Feedback, 0, len(items))
	win = win.WithDefaults()
	for i, raw := range items {
		fb, err := parseOne(raw, prefix(i), now, ids, win)
		if err != nil {
			return nil, err
		}
		out = append(out, fb)
	}
	return out, nil
}

// parseOne reads one outcome object; at prefixes its field names.
func parseOne(raw json.RawMessage, at string, now time.Time, ids leadscore.IDLimits, win OutcomeWindow) (Feedback, error) {
	field := func(name string) string {
		if at == "" {
			return name
		}
		return at + "." + name
	}
	var w feedbackJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return Feedback{}, &FeedbackError{Code: "unknown_field", Field: field(strings.Trim(name, `"`)),
				Message: "unknown field; the fields are inference_id, lead_id, converted and time"}
		}
		what := "the body"
		if at != "" {
			what = "outcome " + at
		}
		return Feedback{}, &FeedbackError{Code: "bad_json", Field: at, Message: what + " is not a valid outcome object: " + msg}
	}
	fb := Feedback{ReceivedAt: now.UTC(), Time: now.UTC()}
	if w.InferenceID != nil && *w.InferenceID != "" {
		if err := ids.CheckTokenID(*w.InferenceID); err != nil {
			return Feedback{}, &FeedbackError{Code: "invalid_id", Field: field("inference_id"), Message: "inference_id " + err.Error()}
		}
		fb.InferenceID = *w.InferenceID
	}
	if w.LeadID != nil {
		if err := ids.CheckLeadID(*w.LeadID); err != nil {
			return Feedback{}, &FeedbackError{Code: "invalid_id", Field: field("lead_id"), Message: "lead_id " + err.Error()}
		}
		fb.LeadID = *w.LeadID
	}
	if fb.InferenceID == "" && fb.LeadID == "" {
		return Feedback{}, &FeedbackError{Code: "invalid_value", Field: field("inference_id"),
			Message: "an outcome needs a non-empty inference_id or lead_id"}
	}
	if w.Converted == nil {
		return Feedback{}, &FeedbackError{Code: "invalid_value", Field: field("converted"), Message: "missing; want 0, 1, false or true"}
	}
	switch string(*w.Converted) {
	case "1", "true", "1.0":
		fb.Converted = true
	case "0", "false", "0.0":
	default:
		return Feedback{}, &FeedbackError{Code: "invalid_value", Field: field("converted"),
			Message: fmt.Sprintf("%s is not 0, 1, false or true", truncate(string(*w.Converted), 40))}
	}
	if w.Time != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.Time)
		if err != nil {
			return Feedback{}, &FeedbackError{Code: "invalid_value", Field: field("time"),
				Message: fmt.Sprintf("%q is not an RFC 3339 time like 2025-06-01T12:00:00Z", truncate(*w.Time, 40))}
		}
		if t.Before(now.Add(-win.MaxAge)) || t.After(now.Add(win.MaxSkew)) {
			return Feedback{}, &FeedbackError{Code: "invalid_value", Field: field("time"),
				Message: fmt.Sprintf("%s is outside %s", t.UTC().Format(time.RFC3339), win)}
		}
		fb.Time = t.UTC()
	}
	return fb, nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// FeedbackResult is the answer to a feedback request.
type FeedbackResult struct {
	// Accepted outcomes were all valid; Matched of them joined a
	// prediction in the live window, Unmatched did not (their prediction
	// is older than the window, or unknown) and only reach the lake.
	Accepted  int `json:"accepted"`
	Matched   int `json:"matched"`
	Unmatched int `json:"unmatched"`
	// Stored is whether the outcomes were handed to the lake; false while
	// no FeedbackSink is configured.
	Stored bool `json:"stored"`
}

// Outcome returns the lake's record of f.
func (f *Feedback) Outcome() leadscore.Outcome {
	return leadscore.Outcome{InferenceID: f.InferenceID, LeadID: f.LeadID, Converted: f.Converted, Time: f.Time, Received: f.ReceivedAt}
}
