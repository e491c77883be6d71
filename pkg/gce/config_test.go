package gce

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    *Config
		wantErr string // substring
	}{
		{
			name: "every key",
			in: `[global]
project-id = my-project
network-project-id = host-project
network-name = projects/host-project/global/networks/shared
subnetwork-name = nodes
node-tags = a-tag, b-tag
node-tags = c-tag
node-instance-prefix = gke-
multizone = true
regional = false
api-endpoint = http://127.0.0.1:8080
local-zone = us-central1-b
api-write-qps = 5.5
api-write-burst = 7
`,
			want: &Config{ProjectID: "my-project", NetworkProjectID: "host-project",
				NetworkName: "projects/host-project/global/networks/shared", SubnetworkName: "nodes",
				NodeTags: []string{"a-tag", "b-tag", "c-tag"}, NodeInstancePrefix: "gke-", Multizone: true,
				APIEndpoint: "http://127.0.0.1:8080", LocalZone: "us-central1-b", WriteQPS: 5.5, WriteBurst: 7},
		},
		{name: "empty", in: "", want: &Config{}},
		{name: "token url and body", in: "[global]\ntoken-url = https://example.test/token\ntoken-body = \"{}\"\n",
			want: &Config{TokenURL: "https://example.test/token", TokenBody: "{}"}},
		{name: "unknown key is named", in: "[global]\nprojectid = x\n", wantErr: "projectid"},
		{name: "unknown section is named", in: "[globals]\nproject-id = x\n", wantErr: "globals"},
		{name: "bad bool is named", in: "[global]\nmultizone = maybe\n", wantErr: "multizone"},
		{name: "bad qps", in: "[global]\napi-write-qps = fast\n", wantErr: "api-write-qps"},
		{name: "negative qps", in: "[global]\napi-write-qps = -1\n", wantErr: "api-write-qps"},
		{name: "endpoint not a URL", in: "[global]\napi-endpoint = localhost:80\n", wantErr: "api-endpoint"},
		{name: "token body without url", in: "[global]\ntoken-body = x\n", wantErr: "token-url"},
		{name: "bad tag", in: "[global]\nnode-tags = Bad_Tag\n", wantErr: "node-tags"},
		{name: "prefix no VM name can have", in: "[global]\nnode-instance-prefix = Nodes.*\n", wantErr: "node-instance-prefix"},
		{name: "bad project", in: "[global]\nproject-id = P\n", wantErr: "project-id"},
		// A FuzzLinks finding: the domain of a domain-scoped id was not checked.
		{name: "bad project domain", in: "[global]\nproject-id = a/b:my-project\n", wantErr: "project-id"},
		{name: "domain-scoped project", in: "[global]\nproject-id = example.com:my-project\n", want: &Config{ProjectID: "example.com:my-project"}},
		{name: "malformed line", in: "[global]\nproject-id\n= x\n", wantErr: "gce.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConfig(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseConfig() error = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseConfig() (-want +got):\n%s", diff)
			}
		})
	}
}

type fakeMetadata struct {
	project, zone, network string
	err                    error
	calls                  int
}

func (f *fakeMetadata) ProjectIDWithContext(context.Context) (string, error) {
	f.calls++
	return f.project, f.err
}

func (f *fakeMetadata) ZoneWithContext(context.Context) (string, error) {
	f.calls++
	return f.zone, f.err
}

func (f *fakeMetadata) GetWithContext(_ context.Context, suffix string) (string, error) {
	f.calls++
	if suffix != "instance/network-interfaces/0/network" {
		return "", errors.New("unexpected metadata path " + suffix)
	}
	return f.network, f.err
}

func TestCompleteFromMetadata(t *testing.T) {
	t.Parallel()
	md := &fakeMetadata{project: "md-project", zone: "europe-west1-c", network: "projects/123/networks/md-net"}
	c := &Config{}
	if err := c.Complete(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	want := &Config{ProjectID: "md-project", NetworkProjectID: "md-project", NetworkName: "md-net",
		LocalZone: "europe-west1-c", Region: "europe-west1", Zones: []string{"europe-west1-c"},
		WriteQPS: DefaultWriteQPS, WriteBurst: DefaultWriteBurst}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Complete() (-want +got):\n%s", diff)
	}
	if got := c.NetworkURL(); got != SelfLinkPrefix+"projects/md-project/global/networks/md-net" {
		t.Errorf("NetworkURL() = %q", got)
	}
}

func TestCompleteDoesNotAskMetadataWhenConfigured(t *testing.T) {
	t.Parallel()
	md := &fakeMetadata{err: errors.New("no metadata server")}
	c := &Config{ProjectID: "p-123", NetworkProjectID: "host-1", LocalZone: "us-east1-b", NetworkName: "n"}
	if err := c.Complete(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	if md.calls != 0 {
		t.Errorf("metadata consulted %d times, want 0", md.calls)
	}
	if c.NetworkURL() != SelfLinkPrefix+"projects/host-1/global/networks/n" {
		t.Errorf("NetworkURL() = %q, want the network project's", c.NetworkURL())
	}
}

func TestCompleteMetadataFailureNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	md := &fakeMetadata{err: errors.New("connection refused")}
	c := &Config{ProjectID: "p-123", NetworkName: "n"}
	err := c.Complete(context.Background(), md)
	if err == nil || !strings.Contains(err.Error(), "local-zone") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Complete() error = %v, want one naming local-zone and the cause", err)
	}
}
