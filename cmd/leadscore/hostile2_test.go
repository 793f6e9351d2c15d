package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestHostileRound2 holds the tests of issue 10 ("hostile input, round
// 2"), each through the real binary on 127.0.0.1 with default flags unless
// a test says otherwise. The binary is built once; LEADSCORE_TEST_BIN runs
// them against another build instead (how each was shown to fail on the
// code before its fix).
func TestHostileRound2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := os.Getenv("LEADSCORE_TEST_BIN")
	if bin == "" {
		bin = testBinary(t)
	}
	for _, tc := range []struct {
		name string
		test func(*testing.T, string)
	}{
		{"IDLimits", testHostileIDLimits},
		{"WrongKeysRateLimited", testHostileWrongKeysRateLimited},
		{"OutcomeWindow", testHostileOutcomeWindow},
		{"MemoryBound", testHostileMemoryBound},
		{"CaptureCrashMatrix", testHostileCaptureCrashMatrix},
		{"LakeOff", testHostileLakeOff},
		{"IdleTimeout", testHostileIdleTimeout},
		{"ReloadRace", testHostileReloadRace},
		{"SmallItems", testHostileSmallItems},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, bin) })
	}
}

// apiErrorBody is the JSON error of every non-V2 route.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Row     *int   `json:"row"`
		Field   string `json:"field"`
	} `json:"error"`
}

// wantIDError checks a 400 invalid_id naming field (under /v2, a 400 whose
// {"error": "..."} names it).
func wantIDError(t *testing.T, what string, r response, field string) {
	t.Helper()
	var v2 struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.body, &v2) == nil && v2.Error != "" {
		if r.status != http.StatusBadRequest || !strings.Contains(v2.Error, field) {
			t.Errorf("%s: %d %s, want 400 naming %q", what, r.status, firstLine(r.body), field)
		}
		return
	}
	var e apiErrorBody
	if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &e) != nil || e.Error.Code != "invalid_id" || e.Error.Field != field {
		t.Errorf("%s: %d %s, want 400 invalid_id naming %q", what, r.status, firstLine(r.body), field)
	}
}

// testHostileIDLimits is finding 1 and 2: a lead id, inference id, V2 id
// or feedback id over its limit or outside its character set (invalid
// UTF-8 among them) is a 400 invalid_id naming the field on every route,
// and nothing of it is echoed; ids at the limit are served.
func testHostileIDLimits(t *testing.T, bin string) {
	s := startServer(t, bin, nil)
	f := loadFixture(t)
	row := f.rowsJSON(f.Rows[:1])
	const j = "application/json"
	lead := func(id string) string { return `{"leads":[{"id":` + id + `,"features":` + row[1:len(row)-1] + `}]}` }
	v2 := func(id string) string {
		return `{"id":` + id + `,"inputs":[{"name":"input-0","shape":[1,` + strconv.Itoa(len(f.Names)) + `],"datatype":"FP32","data":` + row + `}]}`
	}
	infer := "/v2/models/lead-demo/infer"
	long := strings.Repeat("x", 257)
	atLimit := strings.Repeat("é", 128) // 256 bytes
	token := strings.Repeat("a", 128)

	// Within the limits: served, and the inference id echoed.
	r := send(t, nil, "POST", s.url+"/score", j, lead(`"`+atLimit+`"`), "X-Amzn-SageMaker-Inference-Id", token)
	if r.status != 200 || r.header.Get("X-Amzn-SageMaker-Inference-Id") != token {
		t.Fatalf("ids at the limits: %d %s (echoed %q)", r.status, firstLine(r.body), r.header.Get("X-Amzn-SageMaker-Inference-Id"))
	}
	if r := send(t, nil, "POST", s.url+"/score", j, lead("12345")); r.status != 200 {
		t.Errorf("numeric id: %d %s", r.status, r.body)
	}

	// Over the limits, or outside the character sets.
	for _, tc := range []struct {
		name, path, ctype, body, field string
		headers                        []string
	}{
		{"lead_id_257_bytes", "/score", j, lead(`"` + long + `"`), "id", nil},
		{"lead_id_5MiB", "/score", j, lead(`"` + strings.Repeat("y", 5<<20) + `"`), "id", nil},
		{"lead_id_number_300_digits", "/score", j, lead(strings.Repeat("9", 300)), "id", nil},
		{"lead_id_escaped_control", "/score", j, lead(`"a\u0001b"`), "id", nil},
		{"lead_id_escaped_nul", "/score", j, lead(`"a\u0000"`), "id", nil},
		{"lead_id_c1_control", "/score", j, lead(`"a\u0085"`), "id", nil},
		{"lead_id_long_on_invocations", "/invocations", j, lead(`"` + long + `"`), "id", nil},
		{"inference_id_129", "/score", j, row, "X-Amzn-SageMaker-Inference-Id", []string{"X-Amzn-SageMaker-Inference-Id", token + "a"}},
		{"inference_id_60KB_csv_1000_rows", "/invocations", "text/csv", strings.Repeat("1\n", 1000), "X-Amzn-SageMaker-Inference-Id",
			[]string{"X-Amzn-SageMaker-Inference-Id", strings.Repeat("z", 60<<10)}},
		{"inference_id_invalid_utf8", "/invocations", j, row, "X-Amzn-SageMaker-Inference-Id", []string{"X-Amzn-SageMaker-Inference-Id", "lead-\xff\xfe"}},
		{"inference_id_space", "/score", j, row, "X-Amzn-SageMaker-Inference-Id", []string{"X-Amzn-SageMaker-Inference-Id", "a b"}},
		{"inference_id_on_v2", infer, j, v2(`"ok"`), "X-Amzn-SageMaker-Inference-Id", []string{"X-Amzn-SageMaker-Inference-Id", "a/b"}},
		{"feedback_inference_id_129", "/v1/feedback", j, `{"inference_id":"` + token + `a","converted":1}`, "inference_id", nil},
		{"feedback_inference_id_slash", "/v1/feedback", j, `[{"inference_id":"ok","converted":1},{"inference_id":"a/b","converted":0}]`, "[1].inference_id", nil},
		{"feedback_lead_id_257", "/v1/feedback", j, `{"lead_id":"` + long + `","converted":1}`, "lead_id", nil},
		{"feedback_lead_id_control", "/v1/feedback", j, `{"lead_id":"a\n","converted":1}`, "lead_id", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, nil, "POST", s.url+tc.path, tc.ctype, tc.body, tc.headers...)
			wantIDError(t, tc.name, r, tc.field)
			if got := r.header.Get("X-Amzn-SageMaker-Inference-Id"); got != "" {
				t.Errorf("the refused inference id was echoed (%d bytes)", len(got))
			}
		})
	}
	// V2: the error shape is {"error": "..."}.
	for _, id := range []string{`"` + token + `a"`, `"a b"`, `"\u00e9"`} {
		r := send(t, nil, "POST", s.url+infer, j, v2(id))
		var e struct {
			Error string `json:"error"`
		}
		if r.status != 400 || json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Error, "id ") {
			t.Errorf("V2 id %.20s: %d %s, want 400 naming the id", id, r.status, firstLine(r.body))
		}
	}
	if r := send(t, nil, "POST", s.url+infer, j, v2(`"`+token+`"`)); r.status != 200 {
		t.Errorf("V2 id at the limit: %d %s", r.status, firstLine(r.body))
	}

	// A lower limit from the flags.
	s2 := startServer(t, bin, nil, "--max-lead-id-bytes", "8", "--max-inference-id-length", "4")
	wantIDError(t, "--max-lead-id-bytes 8", send(t, nil, "POST", s2.url+"/score", j, lead(`"123456789"`)), "id")
	wantIDError(t, "--max-inference-id-length 4", send(t, nil, "POST", s2.url+"/score", j, row, "X-Amzn-SageMaker-Inference-Id", "abcde"), "X-Amzn-SageMaker-Inference-Id")
	if r := send(t, nil, "POST", s2.url+"/score", j, lead(`"12345678"`), "X-Amzn-SageMaker-Inference-Id", "abcd"); r.status != 200 {
		t.Errorf("ids at the configured limits: %d %s", r.status, r.body)
	}
}

// testHostileWrongKeysRateLimited is finding 6's first item: wrong API keys
// were never rate limited (15 in a row under --rate-limit 1 all got 401).
// A wrong key is now charged to the client address's bucket first.
func testHostileWrongKeysRateLimited(t *testing.T, bin string) {
	s := startServer(t, bin, nil, "--rate-limit", "1", "--api-keys", "crm:"+strings.Repeat("ab", 32))
	f := loadFixture(t)
	row := f.rowsJSON(f.Rows[:1])
	var unauthorized, limited int
	for range 15 {
		r := send(t, nil, "POST", s.url+"/score", "application/json", row, "Authorization", "Bearer guess")
		switch r.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("wrong key: %d %s", r.status, r.body)
		}
	}
	if limited == 0 || unauthorized > 3 {
		t.Errorf("15 wrong keys under --rate-limit 1: %d answered 401, %d 429; want at most a burst of 401s then 429s", unauthorized, limited)
	}
}
