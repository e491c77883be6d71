package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestClusterCIDRs(t *testing.T) {
	for in, want := range map[string]string{
		"10.244.0.0/16":                     "[10.244.0.0/16]",
		" 10.244.0.0/16 , fd00:10:244::/56": "[10.244.0.0/16 fd00:10:244::/56]",
		"10.244.1.7/16":                     "[10.244.0.0/16]",
		"":                                  "error: not a CIDR",
		"10.244.0.0/16,10.245.0.0/16":       "error: different IP families",
		"10.0.0.0/8,fd00::/56,fd01::/56":    "error: at most 2",
		"nonsense":                          "error: not a CIDR",
	} {
		got, err := clusterCIDRs(in)
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("clusterCIDRs(%q) = %v, %v; want an error with %q", in, got, err, want)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("clusterCIDRs(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

func TestRouteControllerFlag(t *testing.T) {
	var c routeControllerChoice = routeControllerGCE
	if err := c.Set("upstream"); err != nil || c != routeControllerUpstream {
		t.Errorf("Set(upstream) = %v, value %q", err, c)
	}
	if err := c.Set("mine"); err == nil || c != routeControllerUpstream {
		t.Errorf("Set(mine) = %v, value %q; want an error and the value kept", err, c)
	}
}
