package instances

import (
	"strings"
	"testing"
)

// FuzzParseProviderID: a node's provider ID is outside input. Parsing never
// panics; what it accepts formats back to the same ID, and an ID formatted
// from parts parses back to them.
func FuzzParseProviderID(f *testing.F) {
	for _, s := range []string{
		"gce://my-project/us-central1-a/vm-1",
		"gce://example.com:proj/europe-west1-b/node",
		"gce://p/z/",
		"gce:///z/n",
		"gce://p/z/n/extra",
		"aws:///us-east-1a/i-0123",
		"",
		"gce://",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		project, zone, name, err := ParseProviderID(id)
		if err == nil {
			if project == "" || zone == "" || name == "" {
				t.Fatalf("ParseProviderID(%q) accepted an empty part: %q %q %q", id, project, zone, name)
			}
			if got := ProviderID(project, zone, name); got != id {
				t.Fatalf("ParseProviderID(%q) = %q %q %q, which formats as %q", id, project, zone, name, got)
			}
			_ = regionOf(zone)
		} else if !strings.Contains(err.Error(), "gce://<project>/<zone>/<name>") {
			t.Fatalf("error does not say the expected form: %v", err)
		}
		// The other direction, with the ID's pieces as parts.
		parts := strings.SplitN(id, "/", 3)
		for len(parts) < 3 {
			parts = append(parts, "x")
		}
		p, z, n := parts[0], parts[1], parts[2]
		if p == "" || z == "" || n == "" || strings.Contains(p+z+n, "/") {
			return
		}
		gp, gz, gn, err := ParseProviderID(ProviderID(p, z, n))
		if err != nil || gp != p || gz != z || gn != n {
			t.Fatalf("ProviderID(%q, %q, %q) parses as %q %q %q, %v", p, z, n, gp, gz, gn, err)
		}
	})
}
