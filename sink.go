package leadscore

// MultiSink returns a Sink that hands every batch to each of sinks in
// turn, in the manner of io.MultiWriter; nil sinks are left out. With no
// sink left it returns nil, so a caller can tell "no capture" apart. The
// records are shared: a sink must not change them. Each sink keeps its own
// contract, so a sink that waits a bounded time for room (capture's
// backpressure) makes the whole fan-out wait as long.
func MultiSink(sinks ...Sink) Sink {
	var all multiSink
	for _, s := range sinks {
		switch s := s.(type) {
		case nil:
		case multiSink:
			all = append(all, s...)
		default:
			all = append(all, s)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return all
}

type multiSink []Sink

// Capture hands recs to each sink in turn.
func (m multiSink) Capture(recs []Record) {
	for _, s := range m {
		s.Capture(recs)
	}
}

// CaptureBatch hands b to each sink in turn: by reference to those that
// are BatchSinks, as Capture(b.Records) to the others.
func (m multiSink) CaptureBatch(b *Batch) {
	for _, s := range m {
		CaptureBatch(s, b)
	}
}

// CopiesRecords reports whether every sink copies the records it keeps
// (see SliceCopier).
func (m multiSink) CopiesRecords() bool {
	for _, s := range m {
		if !CopiesRecords(s) {
			return false
		}
	}
	return true
}

// CopiesFeatures reports whether every sink copies the features of the
// records it keeps (see FeatureCopier).
func (m multiSink) CopiesFeatures() bool {
	for _, s := range m {
		if !CopiesFeatures(s) {
			return false
		}
	}
	return true
}
