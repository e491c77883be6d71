package fakecompute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// toV1 converts a compute/v1 struct into the apiv1 message with the same
// JSON, so that one table drives both clients.
func toV1[M proto.Message](t testing.TB, in any, out M) M {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(raw, out); err != nil {
		t.Fatalf("protojson.Unmarshal(%s): %v", raw, err)
	}
	return out
}

// clientNames are the subtests every both-clients test runs.
var clientNames = []string{"compute/v1", "apiv1"}

// insertRoute inserts a route with the named client and waits for it.
func (e *env) insertRoute(t testing.TB, client string, r *gce.Route) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project,
			RouteResource: toV1(t, r, &computepb.Route{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Routes.Insert(project, r).Context(e.ctx).Do())
}

// errOf classifies an error as the named client surfaces it.
func errOf(t testing.TB, client string, err error) apiErr {
	t.Helper()
	if client == "apiv1" {
		return v1Err(t, err)
	}
	return oldErr(t, err)
}

func nodeRoute(name, dest, vm string) *gce.Route {
	return &gce.Route{Name: name, Network: networkLink, DestRange: dest, Description: "k8s-node-route",
		NextHopInstance: instanceLink(zoneA, vm)}
}

func TestRoutesLifecycle(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "node-1")
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "r-" + strings.ReplaceAll(client, "/", "-")
			if err := e.insertRoute(t, client, nodeRoute(name, "10.1.0.0/24", "node-1")); err != nil {
				t.Fatalf("insert: %v", err)
			}
			var got *gce.Route
			if client == "apiv1" {
				r, err := e.v1.routes.Get(e.ctx, &computepb.GetRouteRequest{Project: project, Route: name})
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				raw, _ := protojson.Marshal(r)
				got = &gce.Route{}
				if err := json.Unmarshal(raw, got); err != nil {
					t.Fatal(err)
				}
			} else {
				var err error
				if got, err = e.old.Routes.Get(project, name).Context(e.ctx).Do(); err != nil {
					t.Fatalf("get: %v", err)
				}
			}
			want := &gce.Route{Kind: "compute#route", Name: name, Network: networkLink, DestRange: "10.1.0.0/24",
				Description: "k8s-node-route", NextHopInstance: instanceLink(zoneA, "node-1"), Priority: 1000,
				SelfLink: globalLink("routes", name), RouteType: "STATIC", RouteStatus: "ACTIVE"}
			if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
			if got.Id == 0 || got.CreationTimestamp == "" {
				t.Errorf("id %d, creationTimestamp %q: want both set", got.Id, got.CreationTimestamp)
			}

			var err error
			if client == "apiv1" {
				op, derr := e.v1.routes.Delete(e.ctx, &computepb.DeleteRouteRequest{Project: project, Route: name})
				err = e.doV1(op, derr)
			} else {
				err = e.doOld(e.old.Routes.Delete(project, name).Context(e.ctx).Do())
			}
			if err != nil {
				t.Fatalf("delete: %v", err)
			}
			if client == "apiv1" {
				_, err = e.v1.routes.Get(e.ctx, &computepb.GetRouteRequest{Project: project, Route: name})
			} else {
				_, err = e.old.Routes.Get(project, name).Context(e.ctx).Do()
			}
			if got, want := errOf(t, client, err), (apiErr{404, "notFound"}); got != want {
				t.Errorf("get after delete = %v, want %v", got, want)
			}
		})
	}
}

// cmpRoute ignores the fields a test cannot predict.
var cmpRoute = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Id", ".CreationTimestamp", ".ServerResponse", ".ForceSendFields", ".NullFields":
		return true
	}
	return false
}, cmp.Ignore())

func TestRoutesInsertErrors(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "node-1")
	if err := e.insertRoute(t, "compute/v1", nodeRoute("taken", "10.9.0.0/24", "node-1")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		route *gce.Route
		want  apiErr
	}{
		{"next hop instance missing", nodeRoute("r-missing-vm", "10.1.0.0/24", "no-such-vm"), apiErr{404, "notFound"}},
		{"uppercase name", nodeRoute("Route-1", "10.1.0.0/24", "node-1"), apiErr{400, "invalid"}},
		{"underscore name", nodeRoute("route_1", "10.1.0.0/24", "node-1"), apiErr{400, "invalid"}},
		{"name ends with dash", nodeRoute("route-", "10.1.0.0/24", "node-1"), apiErr{400, "invalid"}},
		{"name of 64 chars", nodeRoute("r"+strings.Repeat("x", 63), "10.1.0.0/24", "node-1"), apiErr{400, "invalid"}},
		{"duplicate", nodeRoute("taken", "10.2.0.0/24", "node-1"), apiErr{409, "alreadyExists"}},
		{"host bits in destRange", nodeRoute("r-bad-dest", "10.1.0.1/24", "node-1"), apiErr{400, "invalid"}},
		{"no network", &gce.Route{Name: "r-no-net", DestRange: "10.1.0.0/24", NextHopIp: "10.128.0.9"}, apiErr{400, "required"}},
		{"unknown network", &gce.Route{Name: "r-other-net", Network: "global/networks/other", DestRange: "10.1.0.0/24", NextHopIp: "10.128.0.9"}, apiErr{404, "notFound"}},
		{"no next hop", &gce.Route{Name: "r-no-hop", Network: networkLink, DestRange: "10.1.0.0/24"}, apiErr{400, "invalid"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				err := e.insertRoute(t, client, tc.route)
				if got := errOf(t, client, err); got != tc.want {
					t.Errorf("insert = %v (%v), want %v", got, err, tc.want)
				}
			})
		}
	}
	d := e.srv.Dump()
	if len(d.Routes) != 1 {
		t.Errorf("after the refused inserts the fake holds %d routes, want 1", len(d.Routes))
	}
}

func TestRoutesPriority(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "node-1")
	for _, tc := range []struct {
		name   string
		insert func() error
		want   int64
	}{
		{"compute/v1 default", func() error {
			return e.insertRoute(t, "compute/v1", nodeRoute("p-default", "10.1.0.0/24", "node-1"))
		}, 1000},
		{"compute/v1 explicit zero", func() error {
			r := nodeRoute("p-zero-old", "10.2.0.0/24", "node-1")
			r.ForceSendFields = []string{"Priority"}
			return e.insertRoute(t, "compute/v1", r)
		}, 0},
		{"apiv1 explicit zero", func() error {
			op, err := e.v1.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
				Name: str("p-zero-v1"), Network: str(networkLink), DestRange: str("10.3.0.0/24"),
				NextHopInstance: str(instanceLink(zoneA, "node-1")), Priority: u32(0)}})
			return e.doV1(op, err)
		}, 0},
		{"apiv1 unset", func() error {
			op, err := e.v1.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
				Name: str("p-unset-v1"), Network: str(networkLink), DestRange: str("10.4.0.0/24"),
				NextHopInstance: str(instanceLink(zoneA, "node-1"))}})
			return e.doV1(op, err)
		}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.insert(); err != nil {
				t.Fatalf("insert: %v", err)
			}
		})
	}
	got := map[string]int64{}
	for _, r := range e.srv.Dump().Routes {
		got[r.Name] = r.Priority
	}
	want := map[string]int64{"p-default": 1000, "p-zero-old": 0, "p-zero-v1": 0, "p-unset-v1": 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("priorities (-want +got):\n%s", diff)
	}
}

// insertRoutes creates n routes named prefix-NNNN quickly and directly.
func insertRoutes(t testing.TB, e *env, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		name := fmt.Sprintf("%s-%04d", prefix, i)
		_, err := e.old.Routes.Insert(project, &gce.Route{Name: name, Network: networkLink,
			DestRange: fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256), NextHopIp: "10.128.0.9"}).Context(e.ctx).Do()
		if err != nil {
			t.Fatalf("insert %s: %v", name, err)
		}
		out = append(out, name)
	}
	return out
}

func TestRoutesPagination(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	want := insertRoutes(t, e, "pg", 1200)

	t.Run("compute/v1 pages of 500", func(t *testing.T) {
		var sizes []int
		var got []string
		err := e.old.Routes.List(project).Pages(e.ctx, func(l *gce.RouteList) error {
			sizes = append(sizes, len(l.Items))
			for _, r := range l.Items {
				got = append(got, r.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{500, 500, 200}, sizes); diff != "" {
			t.Errorf("page sizes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("routes (-want +got):\n%s", diff)
		}
	})

	t.Run("compute/v1 nextPageToken", func(t *testing.T) {
		l, err := e.old.Routes.List(project).Context(e.ctx).Do()
		if err != nil || len(l.Items) != 500 || l.NextPageToken == "" {
			t.Fatalf("first page: %d items, token %q, %v", len(l.Items), l.NextPageToken, err)
		}
		l2, err := e.old.Routes.List(project).PageToken(l.NextPageToken).Context(e.ctx).Do()
		if err != nil || len(l2.Items) != 500 || l2.Items[0].Name != want[500] {
			t.Fatalf("second page: %d items, %v", len(l2.Items), err)
		}
		l3, err := e.old.Routes.List(project).PageToken(l2.NextPageToken).Context(e.ctx).Do()
		if err != nil || len(l3.Items) != 200 || l3.NextPageToken != "" {
			t.Fatalf("last page: %d items, token %q, %v", len(l3.Items), l3.NextPageToken, err)
		}
	})

	t.Run("apiv1 iterator", func(t *testing.T) {
		e.srv.ResetCalls()
		got := names(collect(t, e.v1.routes.List(e.ctx, &computepb.ListRoutesRequest{Project: project}).Next))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("routes (-want +got):\n%s", diff)
		}
		if n := e.srv.Calls()["routes.list"]["ok"]; n != 3 {
			t.Errorf("apiv1 made %d routes.list calls, want 3", n)
		}
	})

	t.Run("maxResults", func(t *testing.T) {
		for _, tc := range []struct {
			client string
			max    uint32
			pages  int
		}{
			{"compute/v1", 100, 12},
			{"apiv1", 100, 12},
			{"compute/v1", 499, 3},
			{"apiv1", 7, 172},
		} {
			t.Run(fmt.Sprintf("%s/%d", tc.client, tc.max), func(t *testing.T) {
				e.srv.ResetCalls()
				var got []string
				if tc.client == "apiv1" {
					got = names(collect(t, e.v1.routes.List(e.ctx, &computepb.ListRoutesRequest{Project: project, MaxResults: u32(tc.max)}).Next))
				} else {
					err := e.old.Routes.List(project).MaxResults(int64(tc.max)).Pages(e.ctx, func(l *gce.RouteList) error {
						if len(l.Items) > int(tc.max) {
							t.Errorf("page of %d items, max %d", len(l.Items), tc.max)
						}
						for _, r := range l.Items {
							got = append(got, r.Name)
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(got) != len(want) {
					t.Errorf("got %d routes, want %d", len(got), len(want))
				}
				if n := e.srv.Calls()["routes.list"]["ok"]; n != tc.pages {
					t.Errorf("%d pages, want %d", n, tc.pages)
				}
			})
		}
	})

	t.Run("maxResults out of range", func(t *testing.T) {
		_, err := e.old.Routes.List(project).MaxResults(501).Context(e.ctx).Do()
		if got, want := oldErr(t, err), (apiErr{400, "invalid"}); got != want {
			t.Errorf("maxResults 501 = %v, want %v", got, want)
		}
	})
}

func TestRoutesFilters(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "node-1")
	for _, r := range []*gce.Route{
		nodeRoute("c-1", "10.1.0.0/24", "node-1"),
		nodeRoute("c-2", "10.2.0.0/24", "node-1"),
		{Name: "c-3", Network: networkLink, DestRange: "10.3.0.0/24", Description: "user route", NextHopIp: "10.128.0.9", Priority: 900},
		nodeRoute("cc-1", "10.4.0.0/24", "node-1"),
		nodeRoute("d-1", "10.5.0.0/24", "node-1"),
	} {
		if err := e.insertRoute(t, "compute/v1", r); err != nil {
			t.Fatal(err)
		}
	}
	// The long-standing provider builds the network URL from its API
	// endpoint, so the fake must match it against selfLinks on www.googleapis.com.
	endpointNetwork := e.srv.URL() + "/compute/v1/projects/" + project + "/global/networks/" + network

	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"regex prefix quoted", `name eq "c-.*"`, []string{"c-1", "c-2", "c-3"}},
		{"regex prefix unquoted", `name eq c-.*`, []string{"c-1", "c-2", "c-3"}},
		{"regex matches whole value", `name eq "c-"`, nil},
		{"ne", `name ne "c-.*"`, []string{"cc-1", "d-1"}},
		{"parenthesised clauses ANDed", `(name eq "c.*") (description eq "k8s-node-route")`, []string{"c-1", "c-2", "cc-1"}},
		{"long-standing provider", `(name eq c-.*) (network eq ` + networkLink + `) (description eq k8s-node-route)`, []string{"c-1", "c-2"}},
		{"long-standing provider with endpoint URL", `(name eq c-.*) (network eq ` + endpointNetwork + `) (description eq k8s-node-route)`, []string{"c-1", "c-2"}},
		{"other network", `(network eq .*/networks/other)`, nil},
		{"simple equals", `name = "c-1"`, []string{"c-1"}},
		{"simple equals is not a regex", `name = "c-.*"`, nil},
		{"simple not equals", `description != "k8s-node-route"`, []string{"c-3"}},
		{"simple AND", `description = "k8s-node-route" AND destRange = "10.5.0.0/24"`, []string{"d-1"}},
		{"number", `priority = 900`, []string{"c-3"}},
		{"nested field", `nextHopInstance eq ".*/node-1"`, []string{"c-1", "c-2", "cc-1", "d-1"}},
		{"empty", ``, []string{"c-1", "c-2", "c-3", "cc-1", "d-1"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				var got []string
				if client == "apiv1" {
					req := &computepb.ListRoutesRequest{Project: project}
					if tc.filter != "" {
						req.Filter = str(tc.filter)
					}
					got = names(collect(t, e.v1.routes.List(e.ctx, req).Next))
				} else {
					l, err := e.old.Routes.List(project).Filter(tc.filter).Context(e.ctx).Do()
					if err != nil {
						t.Fatalf("list: %v", err)
					}
					for _, r := range l.Items {
						got = append(got, r.Name)
					}
				}
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("filter %s (-want +got):\n%s", tc.filter, diff)
				}
			})
		}
	}

	for _, tc := range []struct{ name, filter string }{
		{"OR", `name eq c-1 OR name eq c-2`},
		{"greater than", `priority > 5`},
		{"bad regex", `name eq "c-[" `},
		{"unclosed paren", `(name eq c-.*`},
		{"unterminated string", `name = "c-1`},
		{"no operator", `name`},
		{"lowercase and of comparisons", `name = "c-1" or name = "c-2"`},
		{"unknown field", `nmae eq "c-.*"`},
		{"unknown nested field", `description.text = "x"`},
	} {
		for _, client := range clientNames {
			t.Run("unsupported "+tc.name+"/"+client, func(t *testing.T) {
				var err error
				if client == "apiv1" {
					_, err = e.v1.routes.List(e.ctx, &computepb.ListRoutesRequest{Project: project, Filter: str(tc.filter)}).Next()
				} else {
					_, err = e.old.Routes.List(project).Filter(tc.filter).Context(e.ctx).Do()
				}
				if got, want := errOf(t, client, err), (apiErr{400, "invalid"}); got != want {
					t.Errorf("filter %s = %v, want %v", tc.filter, got, want)
				}
			})
		}
	}
}

// TestRawHTTP checks what clients cannot show: the exact body of an error
// and the JSON types of ids.
func TestRawHTTP(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "node-1")
	get := func(t *testing.T, path string, query url.Values) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.srv.URL()+path+"?"+query.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q", ct)
		}
		return resp.StatusCode, body
	}

	t.Run("error body", func(t *testing.T) {
		code, body := get(t, "/compute/v1/projects/"+project+"/global/routes/nope", nil)
		msg := "The resource 'projects/" + project + "/global/routes/nope' was not found"
		want := map[string]any{"error": map[string]any{
			"code": float64(404), "message": msg,
			"errors": []any{map[string]any{"domain": "global", "reason": "notFound", "message": msg}},
		}}
		if code != 404 {
			t.Errorf("status %d, want 404", code)
		}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	})

	t.Run("ids are strings", func(t *testing.T) {
		_, vm := get(t, "/compute/v1/projects/"+project+"/zones/"+zoneA+"/instances/node-1", nil)
		if _, ok := vm["id"].(string); !ok {
			t.Errorf("instance id is %T, want a JSON string", vm["id"])
		}
		if !strings.HasPrefix(vm["selfLink"].(string), "https://www.googleapis.com/compute/v1/projects/") {
			t.Errorf("selfLink %v", vm["selfLink"])
		}
		_, list := get(t, "/compute/v1/projects/"+project+"/zones/"+zoneA+"/instances", url.Values{"filter": {"name eq node-.*"}})
		if list["kind"] != "compute#instanceList" || len(list["items"].([]any)) != 1 {
			t.Errorf("list = %v", list)
		}
	})

	t.Run("operation ids are strings", func(t *testing.T) {
		op, err := e.old.Routes.Insert(project, nodeRoute("raw-1", "10.1.0.0/24", "node-1")).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		_, body := get(t, "/compute/v1/projects/"+project+"/global/operations/"+op.Name, nil)
		for _, f := range []string{"id", "targetId"} {
			if _, ok := body[f].(string); !ok {
				t.Errorf("operation %s is %T, want a JSON string", f, body[f])
			}
		}
		if !slices.Contains([]string{"DONE"}, body["status"].(string)) || body["targetLink"] != globalLink("routes", "raw-1") {
			t.Errorf("operation = %v", body)
		}
	})
}
