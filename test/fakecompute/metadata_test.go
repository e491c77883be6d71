package fakecompute_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"cloud.google.com/go/compute/metadata"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/google"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestMetadataServer(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	t.Setenv("GCE_METADATA_HOST", e.srv.MetadataHost())
	md := metadata.NewClient(&http.Client{})
	ctx := e.ctx

	t.Run("without an instance", func(t *testing.T) {
		if _, err := md.InstanceNameWithContext(ctx); err == nil {
			t.Errorf("instance name with no instance seeded = nil error, want one")
		}
	})

	for _, s := range []fakecompute.InstanceSeed{
		{Name: "first", Zone: zoneA, InternalIP: "10.128.0.10", ExternalIP: "198.18.0.10", Tags: []string{"node"}},
		{Name: "second", Zone: zoneB, InternalIP: "10.128.0.11", NoExternalIP: true},
	} {
		if err := e.srv.AddInstance(s); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("first seeded instance", func(t *testing.T) {
		got := map[string]string{}
		for _, q := range []struct {
			key string
			fn  func() (string, error)
		}{
			{"project", func() (string, error) { return md.ProjectIDWithContext(ctx) }},
			{"zone", func() (string, error) { return md.ZoneWithContext(ctx) }},
			{"name", func() (string, error) { return md.InstanceNameWithContext(ctx) }},
			{"internalIP", func() (string, error) { return md.InternalIPWithContext(ctx) }},
			{"externalIP", func() (string, error) { return md.ExternalIPWithContext(ctx) }},
			{"hostname", func() (string, error) { return md.HostnameWithContext(ctx) }},
			{"email", func() (string, error) { return md.EmailWithContext(ctx, "default") }},
		} {
			v, err := q.fn()
			if err != nil {
				t.Errorf("%s: %v", q.key, err)
			}
			got[q.key] = v
		}
		want := map[string]string{"project": project, "zone": zoneA, "name": "first", "internalIP": "10.128.0.10",
			"externalIP": "198.18.0.10", "hostname": "first." + zoneA + ".c." + project + ".internal",
			"email": "fake-compute@" + project + ".iam.gserviceaccount.com"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
		tags, err := md.InstanceTagsWithContext(ctx)
		if err != nil || !cmp.Equal(tags, []string{"node"}) {
			t.Errorf("tags = %v, %v", tags, err)
		}
		id, err := md.InstanceIDWithContext(ctx)
		vm, gerr := e.old.Instances.Get(project, zoneA, "first").Context(ctx).Do()
		if err != nil || gerr != nil || id == "" || id != jsonUint(vm.Id) {
			t.Errorf("instance id = %q, %v; API says %d (%v)", id, err, vm.Id, gerr)
		}
	})

	t.Run("token", func(t *testing.T) {
		raw, err := md.GetWithContext(ctx, "instance/service-accounts/default/token")
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn <= 0 || tok.TokenType != "Bearer" {
			t.Errorf("token = %s (%v)", raw, err)
		}
		// Google's client libraries take their token this way on a VM.
		ts := google.ComputeTokenSource("")
		got, err := ts.Token()
		if err != nil || got.AccessToken != tok.AccessToken || !got.Valid() {
			t.Errorf("ComputeTokenSource token = %+v, %v", got, err)
		}
	})

	t.Run("chosen instance without external IP", func(t *testing.T) {
		if err := e.srv.SetMetadataInstance(zoneB + "/second"); err != nil {
			t.Fatal(err)
		}
		if name, err := md.InstanceNameWithContext(ctx); err != nil || name != "second" {
			t.Errorf("name = %q, %v", name, err)
		}
		if z, err := md.ZoneWithContext(ctx); err != nil || z != zoneB {
			t.Errorf("zone = %q, %v", z, err)
		}
		if ip, err := md.ExternalIPWithContext(ctx); err == nil {
			t.Errorf("external IP of a VM without one = %q, want an error", ip)
		}
		if err := e.srv.SetMetadataInstance(zoneC + "/ghost"); err == nil {
			t.Errorf("SetMetadataInstance(ghost) = nil, want an error")
		}
	})

	t.Run("flavor header required", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			header string
			want   int
		}{
			{"missing", "", http.StatusForbidden},
			{"wrong", "Amazon", http.StatusForbidden},
			{"Google", "Google", http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.srv.MetadataHost()+"/computeMetadata/v1/project/project-id", nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.header != "" {
					req.Header.Set("Metadata-Flavor", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == http.StatusOK && resp.Header.Get("Metadata-Flavor") != "Google" {
					t.Errorf("response lacks Metadata-Flavor: Google")
				}
			})
		}
	})
}

func jsonUint(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
