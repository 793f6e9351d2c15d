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
