package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentPushesOfOneVersion is issue 10, finding 6: two `model
// push` of one name@version with different content, run at once, could
// leave one push's model beside the other's manifest (each uploaded its
// files, then only one manifest won). Now exactly one push wins, the other
// fails with ErrVersionExists before writing anything, and the stored
// version is the winner's, file for file. Repeated on both backends.
func TestConcurrentPushesOfOneVersion(t *testing.T) {
	other := filepath.Join("..", "testdata", "xgboost", "obj_binary_logistic", "model.json")
	for backend, b := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := testContext(t)
			reg, err := Open(ctx, b.root, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			const rounds = 15
			for i := range rounds {
				version := fmt.Sprintf("1.%d", i)
				srcA := makeBundle(t, "lead", version, `{"n":"a"}`)
				srcB := makeBundle(t, "lead", version, `{"n":"b"}`)
				copyModel(t, other, filepath.Join(srcB, "model.json")) // another model too
				var wg sync.WaitGroup
				start := make(chan struct{})
				created := make([]bool, 2)
				errs := make([]error, 2)
				for j, src := range []string{srcA, srcB} {
					wg.Go(func() {
						<-start
						_, created[j], errs[j] = reg.Push(ctx, src, PushOptions{})
					})
				}
				close(start)
				wg.Wait()
				var winner string
				switch {
				case created[0] && errs[0] == nil && errors.Is(errs[1], ErrVersionExists):
					winner = srcA
				case created[1] && errs[1] == nil && errors.Is(errs[0], ErrVersionExists):
					winner = srcB
				default:
					t.Fatalf("round %d: pushes returned created %v, errors %v; want one created and one ErrVersionExists", i, created, errs)
				}
				s, err := readSource(winner, "", "")
				if err != nil {
					t.Fatal(err)
				}
				stored, err := reg.versionHashes(ctx, "lead", version)
				if err != nil {
					t.Fatal(err)
				}
				if digest(stored) != s.digest() {
					want := map[string]string{}
					for _, f := range s.files {
						want[f.rel] = f.hash
					}
					t.Fatalf("round %d: the stored version mixes the two pushes:\nstored %v\nwinner %v", i, stored, want)
				}
				// The loser can re-push nothing else under that version,
				// and the winner's content again is a no-op.
				if _, again, err := reg.Push(ctx, winner, PushOptions{}); err != nil || again {
					t.Fatalf("round %d: re-push of the winner: created %v, %v", i, again, err)
				}
			}
		})
	}
}

func copyModel(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
