package gce

import (
	"context"
	"math"
	"regexp"
	"strings"
	"testing"
)

// FuzzParseConfig: gce.conf is outside input. Whatever the bytes, parsing
// does not panic, and a config it accepts holds only values the rest of the
// manager can use: valid tags, names and projects, a usable write rate.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"[global]\nproject-id = my-project\nnetwork-name = default\nlocal-zone = us-central1-b\n",
		"[global]\nnode-tags = a-tag, b-tag\nnode-tags = c\nnode-instance-prefix = gke-\nmultizone = true\n",
		"[global]\napi-endpoint = http://127.0.0.1:8080\napi-write-qps = 5.5\napi-write-burst = 7\n",
		"[global]\ntoken-url = https://example.test/token\ntoken-body = \"{\\\"a\\\": 1}\"\n",
		"[global]\nnetwork-name = projects/host/global/networks/shared\nnetwork-project-id = host\n",
		"[global]\nproject-id = example.com:proj\n",
		"[global]\napi-write-qps = 1e400\n",
		"; comment\n[global]\n# another\nregional = yes\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		if math.IsNaN(c.WriteQPS) || math.IsInf(c.WriteQPS, 0) || c.WriteQPS < 0 || c.WriteBurst < 0 {
			t.Fatalf("accepted write rate qps=%v burst=%d", c.WriteQPS, c.WriteBurst)
		}
		for _, tag := range c.NodeTags {
			if !ValidName(tag) {
				t.Fatalf("accepted node tag %q", tag)
			}
		}
		if c.NodeInstancePrefix != "" && !namePrefixRE.MatchString(c.NodeInstancePrefix) {
			t.Fatalf("accepted node-instance-prefix %q", c.NodeInstancePrefix)
		}
		// Completion from a metadata source that knows the rest must give a
		// region and names that build valid URLs.
		if err := c.Complete(context.Background(), fuzzMetadata{}); err != nil {
			return
		}
		if c.Region == "" || !ValidName(c.NetworkName) || !validProject(c.ProjectID) || !validProject(c.NetworkProjectID) {
			t.Fatalf("completed config has region %q network %q project %q network project %q",
				c.Region, c.NetworkName, c.ProjectID, c.NetworkProjectID)
		}
		if got := lastPathSegment(c.NetworkURL()); got != c.NetworkName {
			t.Fatalf("network URL %q does not end in the network %q", c.NetworkURL(), c.NetworkName)
		}
	})
}

type fuzzMetadata struct{}

func (fuzzMetadata) ProjectIDWithContext(context.Context) (string, error) { return "md-project", nil }
func (fuzzMetadata) ZoneWithContext(context.Context) (string, error)      { return "us-central1-a", nil }
func (fuzzMetadata) GetWithContext(context.Context, string) (string, error) {
	return "projects/1/networks/default", nil
}

// gceNameRE is GCE's documented name rule.
var gceNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// FuzzValidName: ValidName agrees with GCE's documented rule.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"", "a", "a-", "-a", "a1", "A", "k8s-fw-a0123", strings.Repeat("a", 63), strings.Repeat("a", 64), "a_b", "é", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidName(s), gceNameRE.MatchString(s); got != want {
			t.Fatalf("ValidName(%q) = %v, the documented rule says %v", s, got, want)
		}
	})
}

// FuzzLinks: the helpers that take a resource URL apart never panic, and
// give back the parts of a URL built from them.
func FuzzLinks(f *testing.F) {
	for _, s := range [][3]string{
		{"my-project", "us-central1-a", "vm-1"},
		{"example.com:proj", "europe-west1-b", "n"},
		{"", "", ""},
		{"p/q", "z/y", "n/m"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, project, zone, name string) {
		link := SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instances/" + name
		gotZone, gotProject, gotName := ZoneOfLink(link), projectOfLink(link), lastPathSegment(link)
		_ = regionOfZone(zone)
		_ = ZoneOfLink(name)
		_ = projectOfLink(name)
		if !validProject(project) || !ValidName(zone) || !ValidName(name) {
			return
		}
		if gotZone != zone || gotProject != project || gotName != name {
			t.Fatalf("%q: zone %q project %q name %q", link, gotZone, gotProject, gotName)
		}
	})
}
