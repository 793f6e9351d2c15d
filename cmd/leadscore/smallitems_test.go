package main

import "testing"

// testHostileSmallItems holds finding 6's smaller items (issue 10) that
// need the binary, each a subtest.
func testHostileSmallItems(t *testing.T, bin string) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, string)
	}{} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, bin) })
	}
}
