package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestKeyCheckComparesEveryHash backs SECURITY.md's promise of a
// constant-time comparison with every stored hash. Timing cannot be
// measured reliably on a shared CI machine, so the test reads the code the
// promise is about: (*Server).authenticate must range over every stored
// key (s.keys), compare each with crypto/subtle.ConstantTimeCompare, and
// have no way out of that loop (no return, break, goto or labelled
// continue inside it), and auth.go must never compare hashes with == or
// bytes.Equal. Adding an early exit, or a plain comparison, fails it.
func TestKeyCheckComparesEveryHash(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "auth.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	subtleName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"crypto/subtle"` {
			subtleName = "subtle"
			if imp.Name != nil {
				subtleName = imp.Name.Name
			}
		}
		if imp.Path.Value == `"bytes"` || imp.Path.Value == `"reflect"` {
			t.Errorf("auth.go imports %s: hashes must be compared with crypto/subtle only", imp.Path.Value)
		}
	}
	if subtleName == "" {
		t.Fatal("auth.go does not import crypto/subtle")
	}

	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "authenticate" && d.Recv != nil {
			fn = d
		}
	}
	if fn == nil {
		t.Fatal("no (*Server).authenticate in auth.go")
	}
	isCTC := func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "ConstantTimeCompare" {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && id.Name == subtleName
	}

	// Every ConstantTimeCompare must sit in a loop over all of s.keys.
	loops, compares := 0, 0
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if isCTC(n) {
			compares++
		}
		rs, ok := n.(*ast.RangeStmt)
		if !ok {
			return true
		}
		sel, ok := rs.X.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "keys" {
			t.Errorf("%s: a loop over %T, want one over s.keys", fset.Position(rs.Pos()), rs.X)
			return true
		}
		loops++
		inLoop := 0
		ast.Inspect(rs.Body, func(m ast.Node) bool {
			switch m := m.(type) {
			case *ast.ReturnStmt:
				t.Errorf("%s: return inside the key loop: every stored hash must be compared", fset.Position(m.Pos()))
			case *ast.BranchStmt:
				if m.Tok != token.CONTINUE || m.Label != nil {
					t.Errorf("%s: %s inside the key loop: every stored hash must be compared", fset.Position(m.Pos()), m.Tok)
				}
			case *ast.CallExpr:
				if id, ok := m.Fun.(*ast.Ident); ok && id.Name == "panic" {
					t.Errorf("%s: panic inside the key loop", fset.Position(m.Pos()))
				}
				if isCTC(m) {
					inLoop++
				}
			case *ast.FuncLit:
				return false // a closure's own returns do not leave the loop
			}
			return true
		})
		if inLoop != 1 {
			t.Errorf("%s: %d ConstantTimeCompare calls in the key loop, want 1", fset.Position(rs.Pos()), inLoop)
		}
		if rs.Value != nil {
			t.Errorf("%s: the key loop copies each key; index s.keys[i] instead", fset.Position(rs.Pos()))
		}
		return true
	})
	if loops != 1 || compares != 1 {
		t.Errorf("authenticate: %d loops over s.keys and %d ConstantTimeCompare calls, want 1 and 1 (inside the loop)", loops, compares)
	}

	// No hash compared with == or != anywhere in auth.go.
	ast.Inspect(f, func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryExpr)
		if !ok || (b.Op != token.EQL && b.Op != token.NEQ) {
			return true
		}
		for _, side := range []ast.Expr{b.X, b.Y} {
			if sel, ok := side.(*ast.SelectorExpr); ok && sel.Sel.Name == "Hash" {
				t.Errorf("%s: a hash compared with %s", fset.Position(b.Pos()), b.Op)
			}
		}
		return true
	})
}

// TestKeyCheckMatchesAnyPosition: the loop above finds a key wherever it
// is stored, first, middle or last, and a key absent from the list
// matches none, so the no-early-exit form is also the correct one.
func TestKeyCheckMatchesAnyPosition(t *testing.T) {
	names := []string{"first", "middle", "last"}
	var keys []APIKey
	for _, n := range names {
		k, err := NewAPIKey(n, HashKey("secret-"+n), false)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s := &Server{keys: keys}
	for _, n := range names {
		r := newAuthRequest("secret-" + n)
		k, presented := s.authenticate(r)
		if !presented || k == nil || k.Name != n {
			t.Errorf("key %s: got %v, presented %v", n, k, presented)
		}
	}
	if k, presented := s.authenticate(newAuthRequest("secret-none")); k != nil || !presented {
		t.Errorf("unknown key: got %v, presented %v", k, presented)
	}
}

func newAuthRequest(key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/score", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}
