package fakecompute

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

// formatFilter writes a parsed filter back in the fake's syntax: every value
// quoted, the regex form as eq/ne, the comparison form as = and !=.
func formatFilter(f filter) string {
	var parts []string
	for _, c := range f {
		op := "="
		v := c.value
		switch {
		case c.re != nil && c.negate:
			op = "ne"
		case c.re != nil:
			op = "eq"
		case c.negate:
			op = "!="
		}
		v = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v)
		parts = append(parts, "("+strings.Join(c.field, ".")+" "+op+" \""+v+"\")")
	}
	return strings.Join(parts, " ")
}

// FuzzParseFilter: list filters are client input. Parsing never panics;
// what it accepts formats back to a filter that parses the same; matching
// and field checks never panic.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`name eq "kubernetes-.*"`,
		`(name eq k8s-.*) (network eq https://www.googleapis.com/compute/v1/projects/p/global/networks/default) (description eq k8s-node-route)`,
		`name = "a" AND description != "b"`,
		`address eq 10.0.0.1`,
		`name ne "x\"y"`,
		`labels.env = prod`,
		`name eq "(" `,
		`name eq OR`,
		`(name = a`,
		`name < 3`,
		`networkInterfaces.network eq ".*/default"`,
		``,
	} {
		f.Add(s)
	}
	fields := map[string]any{
		"name": "kubernetes-1", "description": "k8s-node-route", "address": "10.0.0.1",
		"labels":            map[string]any{"env": "prod"},
		"networkInterfaces": []any{map[string]any{"network": SelfLinkPrefix + "projects/p/global/networks/default"}},
		"tags":              map[string]any{"items": []any{"a", "b"}},
		"canIpForward":      true, "id": float64(12),
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseFilter(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid list filter expression") {
				t.Fatalf("error does not say the expression is invalid: %v", err)
			}
			return
		}
		matched := flt.match(fields)
		_ = flt.checkFields(reflect.TypeFor[compute.Instance]())
		again, err := parseFilter(formatFilter(flt))
		if err != nil {
			t.Fatalf("%q parsed, but its formatted form %q does not: %v", s, formatFilter(flt), err)
		}
		if len(again) != len(flt) {
			t.Fatalf("%q: %d clauses, formatted %q has %d", s, len(flt), formatFilter(flt), len(again))
		}
		for i := range flt {
			a, b := flt[i], again[i]
			if strings.Join(a.field, ".") != strings.Join(b.field, ".") || a.negate != b.negate || a.value != b.value ||
				(a.re == nil) != (b.re == nil) || a.re != nil && a.re.String() != b.re.String() {
				t.Fatalf("%q clause %d = %+v; formatted %q parses as %+v", s, i, a, formatFilter(flt), b)
			}
		}
		// byPath is not kept by the formatted form (the value is already
		// the path), so the match can differ only for URL values.
		if !strings.Contains(s, "/projects/") && again.match(fields) != matched {
			t.Fatalf("%q and its formatted form %q match differently", s, formatFilter(flt))
		}
	})
}

// FuzzRequest: request bodies and paths are client input. Whatever a client
// sends, the fake does not panic, answers JSON (Google's error shape with
// the HTTP status as its code for an error), and can still list the
// collection it wrote to.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct {
		method int
		path   string
		body   string
	}{
		{1, "global/firewalls", `{"name":"fw","network":"global/networks/default","allowed":[{"IPProtocol":"tcp","ports":["80"]}],"sourceRanges":["0.0.0.0/0"]}`},
		{3, "global/firewalls/fw", `{"allowed":[{"IPProtocol":"udp","ports":["1-2"]}]}`},
		{1, "regions/us-central1/addresses", `{"name":"a","address":"35.1.2.3","networkTier":"STANDARD"}`},
		{1, "regions/us-central1/targetPools", `{"name":"tp","instances":["zones/us-central1-a/instances/vm-1"],"sessionAffinity":"CLIENT_IP"}`},
		{1, "regions/us-central1/forwardingRules", `{"name":"fr","IPProtocol":"TCP","portRange":"80-80","target":"regions/us-central1/targetPools/tp"}`},
		{1, "regions/us-central1/targetPools/tp/addInstance", `{"instances":[{"instance":"zones/us-central1-a/instances/vm-1"}]}`},
		{1, "global/httpHealthChecks", `{"name":"hc","port":10256,"requestPath":"/healthz"}`},
		{2, "global/httpHealthChecks/hc", `{"name":"hc","port":-1}`},
		{1, "global/routes", `{"name":"r","network":"global/networks/default","destRange":"10.0.0.0/24","nextHopInstance":"zones/us-central1-a/instances/vm-1"}`},
		{1, "zones/us-central1-a/instances/vm-1/setTags", `{"items":["a"],"fingerprint":"x"}`},
		{2, "zones/us-central1-a/instances/vm-1", `{"name":"vm-1","canIpForward":true}`},
		{1, "zones/us-central1-a/instanceGroups", `{"name":"k8s-ig--x","network":"global/networks/default"}`},
		{4, "regions/us-central1/addresses/a", ``},
		{0, "regions/us-central1/forwardingRules?filter=name%20eq%20%22a.*%22&maxResults=1", ``},
		{1, "global/firewalls", `{"name":"fw","allowed":[{"IPProtocol":"tcp","ports":["99999"]}]}`},
		{1, "global/firewalls", `[]`},
		{1, "global/firewalls", `{"name":1}`},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	f.Fuzz(func(t *testing.T, method int, path string, body []byte) {
		if method < 0 {
			method = -method
		}
		m := methods[method%len(methods)]
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.AddInstance(InstanceSeed{Name: "vm-1", Zone: "us-central1-a"}); err != nil {
			t.Fatal(err)
		}
		base := "/compute/v1/projects/fake-project/"
		req, err := http.NewRequest(m, "http://fake"+base+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		check := func(what string, rec *httptest.ResponseRecorder) {
			t.Helper()
			out := rec.Body.Bytes()
			if rec.Code == http.StatusNotFound && !bytes.HasPrefix(out, []byte("{")) {
				return // no such endpoint: the mux's own answer
			}
			if rec.Code == http.StatusMethodNotAllowed || rec.Code/100 == 3 {
				return // the mux's own answers: wrong method, or a redirect to the cleaned path
			}
			var v struct {
				Error *struct {
					Code   int `json:"code"`
					Errors []struct {
						Reason string `json:"reason"`
					} `json:"errors"`
				} `json:"error"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("%s: %d answer is not JSON: %v: %.300q", what, rec.Code, err, out)
			}
			if rec.Code >= 400 && (v.Error == nil || v.Error.Code != rec.Code || len(v.Error.Errors) == 0 || v.Error.Errors[0].Reason == "") {
				t.Fatalf("%s: %d answer is not Google's error shape: %.300q", what, rec.Code, out)
			}
			if rec.Code < 400 && v.Error != nil {
				t.Fatalf("%s: %d answer carries an error: %.300q", what, rec.Code, out)
			}
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		check(m+" "+path, rec)

		// The collection written to still lists.
		segs := strings.Split(strings.SplitN(path, "?", 2)[0], "/")
		var coll string
		switch {
		case len(segs) >= 2 && segs[0] == "global":
			coll = "global/" + segs[1]
		case len(segs) >= 3 && (segs[0] == "regions" || segs[0] == "zones"):
			coll = strings.Join(segs[:3], "/")
		default:
			return
		}
		list, err := http.NewRequest(http.MethodGet, "http://fake"+base+coll, nil)
		if err != nil {
			return
		}
		rec = httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, list)
		check("list "+coll, rec)
	})
}
