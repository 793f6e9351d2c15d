package monitor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

func TestParseFeedback(t *testing.T) {
	now := time.Date(2025, 6, 1, 10, 0, 0, 0, time.FixedZone("x", 3600))
	fbs, err := ParseFeedback([]byte(` [{"inference_id":"a","converted":1},
		{"lead_id":"L","converted":true,"time":"2025-05-30T08:00:00+02:00"},
		{"inference_id":"b","lead_id":null,"converted":0.0}] `), now, leadscore.IDLimits{}, OutcomeWindow{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Feedback{
		{InferenceID: "a", Converted: true, Time: now.UTC(), ReceivedAt: now.UTC()},
		{LeadID: "L", Converted: true, Time: time.Date(2025, 5, 30, 6, 0, 0, 0, time.UTC), ReceivedAt: now.UTC()},
		{InferenceID: "b", Time: now.UTC(), ReceivedAt: now.UTC()},
	}
	for i := range want {
		if fbs[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, fbs[i], want[i])
		}
	}
	one, err := ParseFeedback([]byte(`{"lead_id":"x","converted":false}`), now, leadscore.IDLimits{}, OutcomeWindow{})
	if err != nil || len(one) != 1 || one[0].LeadID != "x" || one[0].Converted {
		t.Errorf("one object: %+v %v", one, err)
	}
	for _, tc := range []struct {
		body, code, field string
	}{
		{``, "empty_batch", ""},
		{`[]`, "empty_batch", ""},
		{`"x"`, "bad_json", ""},
		{`[1,`, "bad_json", ""},
		{`[1]`, "bad_json", "[0]"},
		{`{"converted":1}`, "invalid_value", "inference_id"},
		{`{"inference_id":"","lead_id":"","converted":1}`, "invalid_value", "inference_id"},
		{`{"inference_id":"a"}`, "invalid_value", "converted"},
		{`[{"inference_id":"a","converted":"yes"}]`, "invalid_value", "[0].converted"},
		{`{"inference_id":"a","converted":1,"time":"yesterday"}`, "invalid_value", "time"},
		{`{"inference_id":"` + strings.Repeat("x", 300) + `","converted":1}`, "invalid_id", "inference_id"},
		{`{"inference_id":"a b","converted":1}`, "invalid_id", "inference_id"},
		{`{"inference_id":"a","converted":1,"time":"0001-01-01T00:00:00Z"}`, "invalid_value", "time"},
		{`{"inference_id":"a","converted":1,"time":"9999-12-31T23:59:59Z"}`, "invalid_value", "time"},
		{`{"lead_id":"` + strings.Repeat("x", 257) + `","converted":1}`, "invalid_id", "lead_id"},
		{`{"lead_id":"a\u0000b","converted":1}`, "invalid_id", "lead_id"},
		{`{"inference_id":7,"converted":1}`, "bad_json", ""},
		{`{"inference_id":"a","converted":1,"extra":2}`, "unknown_field", "extra"},
		{`[{"inference_id":"a","converted":1,"extra":2}]`, "unknown_field", "[0].extra"},
		{`[` + strings.Repeat(`{"inference_id":"a","converted":1},`, MaxFeedbackItems) + `{"inference_id":"a","converted":1}]`, "batch_too_large", ""},
	} {
		_, err := ParseFeedback([]byte(tc.body), now, leadscore.IDLimits{}, OutcomeWindow{})
		var fe *FeedbackError
		if !errors.As(err, &fe) || fe.Code != tc.code || fe.Field != tc.field || fe.Error() == "" {
			t.Errorf("%.60s: %#v, want %s %q", tc.body, err, tc.code, tc.field)
		}
	}
	if s := truncate("héllo wörld", 2); s != "h..." {
		t.Errorf("truncate: %q", s)
	}
}

// TestParseFeedbackOutcomeWindow: a configured window moves both bounds,
// and the error names the field and the window.
func TestParseFeedbackOutcomeWindow(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	win := OutcomeWindow{MaxAge: 48 * time.Hour, MaxSkew: 5 * time.Minute}
	at := func(d time.Duration) []byte {
		return []byte(`[{"inference_id":"ok","converted":1},{"inference_id":"a","converted":1,"time":"` + now.Add(d).Format(time.RFC3339) + `"}]`)
	}
	for _, d := range []time.Duration{-48 * time.Hour, -time.Hour, 0, 5 * time.Minute} {
		if _, err := ParseFeedback(at(d), now, leadscore.IDLimits{}, win); err != nil {
			t.Errorf("time now%+v, inside the window: %v", d, err)
		}
	}
	for _, d := range []time.Duration{-48*time.Hour - time.Second, 5*time.Minute + time.Second, -3 * 365 * 24 * time.Hour} {
		_, err := ParseFeedback(at(d), now, leadscore.IDLimits{}, win)
		var fe *FeedbackError
		if !errors.As(err, &fe) || fe.Code != "invalid_value" || fe.Field != "[1].time" ||
			!strings.Contains(fe.Message, "[received - 2 days, received + 5m0s]") {
			t.Errorf("time now%+v, outside the window: %v", d, err)
		}
	}
	// The defaults: 5 years (of 366 days) back, 1 hour ahead.
	if _, err := ParseFeedback(at(-4*365*24*time.Hour), now, leadscore.IDLimits{}, OutcomeWindow{}); err != nil {
		t.Errorf("4 years back with the default window: %v", err)
	}
	if got := (OutcomeWindow{}).String(); got != "[received - 1830 days, received + 1h0m0s]" {
		t.Errorf("default window %q", got)
	}
}

// FuzzParseFeedback: the parser never panics, and what it accepts has an
// id, a bounded size, and reads the same once written back.
func FuzzParseFeedback(f *testing.F) {
	for _, s := range []string{
		`{"inference_id":"a","converted":1}`,
		`[{"lead_id":"L","converted":true,"time":"2025-05-30T08:00:00+02:00"},{"inference_id":"b","converted":0}]`,
		`[]`, `{}`, `[{"inference_id":null}]`, `{"converted":1.0,"lead_id":"\u00e9"}`, `[1,2]`, `nul`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		fbs, err := ParseFeedback(body, now, leadscore.IDLimits{}, OutcomeWindow{})
		if err != nil {
			var fe *FeedbackError
			if !errors.As(err, &fe) || fe.Code == "" {
				t.Fatalf("error %v is not a FeedbackError", err)
			}
			return
		}
		if len(fbs) == 0 || len(fbs) > MaxFeedbackItems {
			t.Fatalf("%d outcomes", len(fbs))
		}
		type wire struct {
			InferenceID string `json:"inference_id,omitempty"`
			LeadID      string `json:"lead_id,omitempty"`
			Converted   bool   `json:"converted"`
			Time        string `json:"time"`
		}
		var back []wire
		var lim leadscore.IDLimits
		for _, fb := range fbs {
			if fb.InferenceID == "" && fb.LeadID == "" || fb.InferenceID != "" && lim.CheckTokenID(fb.InferenceID) != nil || lim.CheckLeadID(fb.LeadID) != nil {
				t.Fatalf("accepted %+v", fb)
			}
			back = append(back, wire{fb.InferenceID, fb.LeadID, fb.Converted, fb.Time.Format(time.RFC3339Nano)})
		}
		data, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFeedback(data, now, leadscore.IDLimits{}, OutcomeWindow{})
		if err != nil || len(again) != len(fbs) {
			t.Fatalf("written back %s: %v", data, err)
		}
		for i := range fbs {
			if again[i].InferenceID != fbs[i].InferenceID || again[i].LeadID != fbs[i].LeadID ||
				again[i].Converted != fbs[i].Converted || !again[i].Time.Equal(fbs[i].Time) {
				t.Fatalf("%+v reads back as %+v", fbs[i], again[i])
			}
		}
	})
}
