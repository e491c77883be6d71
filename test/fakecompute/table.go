package fakecompute

import (
	"encoding/json"
	"sort"
	"strings"
)

// record is one stored resource. Its JSON is rendered once per write so that
// reads and lists only copy bytes, and its fields are decoded once for filters.
type record[T any] struct {
	obj      *T
	raw      json.RawMessage
	fields   map[string]any
	busy     *operation // the operation still changing this resource, if any
	creating bool       // the insert operation is still in flight
	deleting bool       // a delete operation is in flight; removed when it ends
}

// pending reports whether the resource is still being created or deleted:
// GCE refuses to let other resources start or stop using it until then.
func (r *record[T]) pending() bool { return r.busy != nil && (r.creating || r.deleting) }

// id returns the resource's numeric id.
func (r *record[T]) id() uint64 {
	s, _ := r.fieldMap()["id"].(string)
	var n uint64
	for _, ch := range s {
		n = n*10 + uint64(ch-'0')
	}
	return n
}

func (r *record[T]) render() {
	raw, err := json.Marshal(r.obj)
	if err != nil {
		// The compute types always marshal; a failure is a bug in the fake.
		panic("fakecompute: marshal: " + err.Error())
	}
	r.raw = raw
	r.fields = nil
}

func (r *record[T]) fieldMap() map[string]any {
	if r.fields == nil {
		m := map[string]any{}
		_ = json.Unmarshal(r.raw, &m)
		r.fields = m
	}
	return r.fields
}

// lock marks the record as being changed by op until op ends.
func (r *record[T]) lock(op *operation) { r.busy = op }

// release clears the mark if op still holds it.
func (r *record[T]) release(op *operation) {
	if r.busy == op {
		r.busy = nil
		r.creating = false
	}
}

func (r *record[T]) isBusy() bool { return r.busy != nil }

// table holds one kind of resource, keyed by project/scope/name.
type table[T any] struct {
	kind   string // the collection name in URLs, e.g. "routes"
	items  map[string]*record[T]
	sorted []string
	dirty  bool
}

func newTable[T any](kind string) *table[T] {
	return &table[T]{kind: kind, items: map[string]*record[T]{}}
}

func (t *table[T]) get(key string) *record[T] { return t.items[key] }

func (t *table[T]) put(key string, obj *T) *record[T] {
	r := &record[T]{obj: obj}
	r.render()
	if _, ok := t.items[key]; !ok {
		t.dirty = true
	}
	t.items[key] = r
	return r
}

func (t *table[T]) remove(key string) {
	if _, ok := t.items[key]; ok {
		delete(t.items, key)
		t.dirty = true
	}
}

// keys returns all keys in order; lists page through this order.
func (t *table[T]) keys() []string {
	if t.dirty || t.sorted == nil {
		t.sorted = t.sorted[:0]
		for k := range t.items {
			t.sorted = append(t.sorted, k)
		}
		sort.Strings(t.sorted)
		t.dirty = false
	}
	return t.sorted
}

// count returns how many resources with the given key prefix exist.
func (t *table[T]) count(match func(*T) bool) int {
	n := 0
	for _, r := range t.items {
		if match == nil || match(r.obj) {
			n++
		}
	}
	return n
}

// page selects the records under prefix that pass the filter, starting after
// the key in token, at most max of them. It returns the raw items and the
// token of the next page ("" when this is the last).
func (t *table[T]) page(prefix string, f filter, token string, max int) ([]json.RawMessage, []string, string) {
	keys := t.keys()
	start := sort.SearchStrings(keys, prefix)
	if token != "" && token >= prefix {
		start = sort.SearchStrings(keys, token)
		if start < len(keys) && keys[start] == token {
			start++
		}
	}
	var out []json.RawMessage
	var outKeys []string
	for i := start; i < len(keys); i++ {
		k := keys[i]
		if !strings.HasPrefix(k, prefix) {
			break
		}
		r := t.items[k]
		if !f.match(r.fieldMap()) {
			continue
		}
		if len(out) == max {
			return out, outKeys, outKeys[len(outKeys)-1]
		}
		out = append(out, r.raw)
		outKeys = append(outKeys, k)
	}
	return out, outKeys, ""
}
