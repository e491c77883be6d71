package gce

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryWriteIsFenced guards the write fence: every call of a Compute
// client method that is not a read (Get, List, AggregatedList, Wait...) is
// made inside a function passed to write, writeV1 or send, the one path
// that asks the fence. A write method added later that calls its client
// directly fails here.
func TestEveryWriteIsFenced(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			method, client, ok := clientCall(call)
			if !ok || isRead(method) {
				return true
			}
			calls++
			if !insideSend(stack) {
				t.Errorf("%s: c.%s.%s is called outside write/writeV1/send, so the write fence does not see it", fset.Position(call.Pos()), client, method)
			}
			return true
		})
	}
	t.Logf("%d client writes, all inside write/writeV1/send", calls)
	if calls < 10 {
		t.Fatalf("found only %d client writes; the check no longer recognises them", calls)
	}
}

// clientCall matches c.<client>.<Method>(...).
func clientCall(call *ast.CallExpr) (method, client string, ok bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", "", false
	}
	inner, ok := sel.X.(*ast.SelectorExpr)
	if !ok {
		return "", "", false
	}
	if id, ok := inner.X.(*ast.Ident); !ok || id.Name != "c" {
		return "", "", false
	}
	return sel.Sel.Name, inner.Sel.Name, true
}

func isRead(method string) bool {
	for _, p := range []string{"Get", "List", "Aggregated", "Wait", "Close"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// insideSend reports whether the innermost function literal on the stack is
// an argument of c.write, c.writeV1 or c.send.
func insideSend(stack []ast.Node) bool {
	for i := len(stack) - 1; i > 0; i-- {
		lit, ok := stack[i].(*ast.FuncLit)
		if !ok {
			continue
		}
		call, ok := stack[i-1].(*ast.CallExpr)
		if !ok {
			return false
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			switch sel.Sel.Name {
			case "write", "writeV1", "send":
				for _, a := range call.Args {
					if a == lit {
						return true
					}
				}
			}
		}
		return false
	}
	return false
}
