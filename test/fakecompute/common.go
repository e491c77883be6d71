package fakecompute

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
)

// The per-list maximum GCE allows and uses as default.
const maxResults = 500

func (c *call) ref(kind string) ref {
	return ref{project: c.project, scope: c.scope, kind: kind, name: c.name}
}

type listParams struct {
	max    int
	token  string
	filter filter
}

// parseListParams reads maxResults, pageToken, orderBy and filter; the
// filter's fields must exist in the resource type.
func parseListParams(q url.Values, resource reflect.Type) (listParams, *Error) {
	p := listParams{max: maxResults}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxResults {
			return p, errInvalidField("maxResults", v, "Must be between 0 and 500.")
		}
		if n > 0 {
			p.max = n
		}
	}
	if v := q.Get("pageToken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return p, errInvalidField("pageToken", v, "Invalid page token.")
		}
		p.token = string(b)
	}
	if v := q.Get("orderBy"); v != "" && v != "name" {
		return p, errInvalidField("orderBy", v, "The fake sorts by name only.")
	}
	f, err := parseFilter(q.Get("filter"))
	if err == nil {
		err = f.checkFields(resource)
	}
	if err != nil {
		return p, errInvalid("%v", err)
	}
	p.filter = f
	return p, nil
}

func encodeToken(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

type listResponse struct {
	Kind          string            `json:"kind"`
	ID            string            `json:"id"`
	Items         []json.RawMessage `json:"items,omitempty"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
	SelfLink      string            `json:"selfLink"`
}

// getOne serves the get method of any resource kind.
func getOne[T any](s *Server, t *table[T], c *call) (any, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := c.ref(t.kind)
	r := t.get(rf.key())
	if r == nil {
		return nil, errNotFound(rf.path())
	}
	return r.raw, nil
}

// listAll serves the list method of any resource kind in the request's scope.
func listAll[T any](s *Server, t *table[T], c *call, listKind string) (any, *Error) {
	p, err := parseListParams(c.r.URL.Query(), reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	items, _, next := t.page(c.project+"/"+c.scope+"/", p.filter, p.token, p.max)
	s.mu.Unlock()
	collection := c.scope + "/" + t.kind
	if t.kind == "zones" || t.kind == "regions" {
		collection = t.kind // project-level collections
	}
	return listResponse{Kind: listKind, ID: "projects/" + c.project + "/" + collection,
		Items: items, NextPageToken: encodeToken(next), SelfLink: scopeLink(c.project, collection)}, nil
}

// deleteOne serves the delete method. users names the resource's users
// (empty when unused); removed runs when the delete operation ends.
func deleteOne[T any](s *Server, t *table[T], c *call, users func(r *record[T]) (string, bool), removed func(obj *T)) (any, *Error) {
	return s.mutate(c, "delete", func(o *operation) (ref, uint64, *Error) {
		rf := c.ref(t.kind)
		r, err := idle(t, rf)
		if err != nil {
			return rf, 0, err
		}
		if users != nil {
			if user, pending := users(r); user != "" {
				if pending {
					return rf, 0, errNotReady(rf.path())
				}
				return rf, 0, errInUse(rf.path(), user)
			}
		}
		r.deleting = true
		r.lock(o)
		o.locks = append(o.locks, r)
		o.finish = append(o.finish, func() {
			t.remove(rf.key())
			if removed != nil {
				removed(r.obj)
			}
		})
		return rf, r.id(), nil
	})
}

// checkNew validates the name of a resource about to be inserted.
func checkNew[T any](t *table[T], rf ref) *Error {
	if rf.name == "" {
		return errRequired("resource.name")
	}
	if !validName(rf.name) {
		return errInvalidField("resource.name", rf.name,
			"Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
	}
	if t.get(rf.key()) != nil {
		return errAlreadyExists(rf.path())
	}
	return nil
}

// insertRecord stores a new resource locked by its insert operation.
// idle returns the record a mutation changes: 404 when it does not exist,
// resourceNotReady while another operation holds it.
func idle[T any](t *table[T], rf ref) (*record[T], *Error) {
	r := t.get(rf.key())
	if r == nil {
		return nil, errNotFound(rf.path())
	}
	if r.isBusy() {
		return nil, errNotReady(rf.path())
	}
	return r, nil
}

func insertRecord[T any](t *table[T], rf ref, obj *T, o *operation) *record[T] {
	r := t.put(rf.key(), obj)
	r.creating = true
	r.lock(o)
	o.locks = append(o.locks, r)
	return r
}

// resolve finds the resource a reference field points to. A missing one is
// notFound; one still being created or deleted is resourceNotReady.
func resolve[T any](t *table[T], field, value, project string) (*record[T], ref, *Error) {
	rf, ok := parseRef(value, project, t.kind)
	if !ok {
		return nil, rf, errInvalidField(field, value, "Must be a URL to a valid Compute resource of the correct type.")
	}
	r := t.get(rf.key())
	if r == nil {
		return nil, rf, errNotFound(rf.path())
	}
	if r.pending() {
		return nil, rf, errNotReady(rf.path())
	}
	return r, rf, nil
}

// update re-renders a record after its object changed and locks it with o.
func update[T any](r *record[T], o *operation) {
	r.render()
	if o != nil {
		r.lock(o)
		o.locks = append(o.locks, r)
	}
}

// ipPool hands out addresses of a prefix in order, skipping those in use.
type ipPool struct {
	prefix netip.Prefix
	next   netip.Addr
	used   map[netip.Addr]bool
}

func newIPPool(p netip.Prefix, skip int) *ipPool {
	a := p.Masked().Addr()
	for range skip {
		a = a.Next()
	}
	return &ipPool{prefix: p, next: a, used: map[netip.Addr]bool{}}
}

// take returns a free address, or false when the pool is exhausted.
func (p *ipPool) take() (netip.Addr, bool) {
	start := p.next
	for {
		a := p.next
		p.next = p.next.Next()
		if !p.prefix.Contains(p.next) {
			p.next = p.prefix.Masked().Addr().Next()
		}
		if !p.used[a] && p.prefix.Contains(a) {
			p.used[a] = true
			return a, true
		}
		if p.next == start {
			return netip.Addr{}, false
		}
	}
}

func (p *ipPool) mark(a netip.Addr) { p.used[a] = true }

func (p *ipPool) release(a netip.Addr) { delete(p.used, a) }

func (p *ipPool) inUse(a netip.Addr) bool { return p.used[a] }

var errPoolExhausted = &Error{Code: http.StatusForbidden, Reason: "ipSpaceExhausted", Message: "IP space of the fake's pool is exhausted"}
