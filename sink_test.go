package leadscore

import "testing"

type countSink struct{ batches, records int }

func (c *countSink) Capture(recs []Record) { c.batches++; c.records += len(recs) }

func TestMultiSink(t *testing.T) {
	if MultiSink() != nil || MultiSink(nil, nil) != nil {
		t.Error("no sinks: want nil")
	}
	a, b, c := &countSink{}, &countSink{}, &countSink{}
	if s := MultiSink(nil, a); s != Sink(a) {
		t.Errorf("one sink: want it back, got %T", s)
	}
	m := MultiSink(a, nil, MultiSink(b, c))
	m.Capture(make([]Record, 3))
	m.Capture(make([]Record, 2))
	for i, s := range []*countSink{a, b, c} {
		if s.batches != 2 || s.records != 5 {
			t.Errorf("sink %d: %d batches, %d records; want 2 and 5", i, s.batches, s.records)
		}
	}
	if n := len(m.(multiSink)); n != 3 {
		t.Errorf("nested fan-out not flattened: %d sinks", n)
	}
}

type copySink struct {
	countSink
	copies bool
}

func (c *copySink) CopiesRecords() bool { return c.copies }

// TestMultiSinkCopiesRecords: a fan-out copies only when every sink does.
func TestMultiSinkCopiesRecords(t *testing.T) {
	yes, yes2, no := &copySink{copies: true}, &copySink{copies: true}, &copySink{}
	for _, tc := range []struct {
		name string
		s    Sink
		want bool
	}{
		{"none", MultiSink(), false},
		{"plain sink", &countSink{}, false},
		{"copier", yes, true},
		{"copier saying no", no, false},
		{"copiers", MultiSink(yes, yes2), true},
		{"nested copiers", MultiSink(yes, MultiSink(yes2, yes)), true},
		{"one plain", MultiSink(yes, &countSink{}), false},
		{"one saying no", MultiSink(yes, no), false},
	} {
		if got := CopiesRecords(tc.s); got != tc.want {
			t.Errorf("%s: CopiesRecords %v, want %v", tc.name, got, tc.want)
		}
	}
}
