package gce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/gcfg.v1"
)

// Config is gce-ccm's view of gce.conf plus what the metadata server fills in.
type Config struct {
	ProjectID          string
	NetworkProjectID   string // the Shared VPC host project; ProjectID when empty
	NetworkName        string
	SubnetworkName     string
	NodeTags           []string
	NodeInstancePrefix string
	Multizone          bool
	Regional           bool
	APIEndpoint        string // e.g. http://127.0.0.1:PORT for the fake; empty for GCE
	TokenURL           string
	TokenBody          string
	LocalZone          string
	// WriteQPS and WriteBurst shape the client-side token bucket for writes.
	WriteQPS   float64
	WriteBurst int
	// Fence, when set, must allow every write (not from gce.conf: the
	// manager sets a LeaseFence when it runs under leader election).
	Fence WriteFence

	// Filled by Complete.
	Region string
	Zones  []string // the zones this cluster's nodes may be in
}

// Defaults of the write rate limiter: GCE's default per-project write quota
// is 20 per second; staying under it avoids storms of rateLimitExceeded.
const (
	DefaultWriteQPS   = 20
	DefaultWriteBurst = 20
)

// configFile is the gcfg layout of gce.conf: the [global] keys of the
// long-standing Kubernetes GCE provider that apply here, plus ours.
type configFile struct {
	Global struct {
		ProjectID          string   `gcfg:"project-id"`
		NetworkProjectID   string   `gcfg:"network-project-id"`
		NetworkName        string   `gcfg:"network-name"`
		SubnetworkName     string   `gcfg:"subnetwork-name"`
		NodeTags           []string `gcfg:"node-tags"`
		NodeInstancePrefix string   `gcfg:"node-instance-prefix"`
		Multizone          bool     `gcfg:"multizone"`
		Regional           bool     `gcfg:"regional"`
		APIEndpoint        string   `gcfg:"api-endpoint"`
		TokenURL           string   `gcfg:"token-url"`
		TokenBody          string   `gcfg:"token-body"`
		LocalZone          string   `gcfg:"local-zone"`
		APIWriteQPS        float64  `gcfg:"api-write-qps"`
		APIWriteBurst      int      `gcfg:"api-write-burst"`
	}
}

// ParseConfig reads gce.conf. An unknown section or key, or a value of the
// wrong type, is an error that names it. A nil reader is an empty config.
func ParseConfig(r io.Reader) (*Config, error) {
	var f configFile
	if r != nil {
		// Unknown keys are gcfg "warnings"; a typo in gce.conf is a mistake,
		// so every warning is an error here.
		if err := gcfg.ReadInto(&f, r); err != nil {
			return nil, fmt.Errorf("gce.conf: %w", err)
		}
	}
	g := f.Global
	c := &Config{
		ProjectID: g.ProjectID, NetworkProjectID: g.NetworkProjectID, NetworkName: g.NetworkName,
		SubnetworkName: g.SubnetworkName, NodeInstancePrefix: g.NodeInstancePrefix,
		Multizone: g.Multizone, Regional: g.Regional, APIEndpoint: g.APIEndpoint,
		TokenURL: g.TokenURL, TokenBody: g.TokenBody, LocalZone: g.LocalZone,
		WriteQPS: g.APIWriteQPS, WriteBurst: g.APIWriteBurst,
	}
	for _, t := range g.NodeTags {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.NodeTags = append(c.NodeTags, s)
			}
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate() error {
	if c.APIEndpoint != "" {
		u, err := url.Parse(c.APIEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("gce.conf: api-endpoint %q is not an http(s) URL", c.APIEndpoint)
		}
	}
	if c.TokenURL != "" {
		u, err := url.Parse(c.TokenURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("gce.conf: token-url %q is not an http(s) URL", c.TokenURL)
		}
	}
	if c.TokenBody != "" && c.TokenURL == "" {
		return errors.New("gce.conf: token-body is set but token-url is not")
	}
	if c.WriteQPS < 0 {
		return fmt.Errorf("gce.conf: api-write-qps must not be negative, got %v", c.WriteQPS)
	}
	if c.WriteBurst < 0 {
		return fmt.Errorf("gce.conf: api-write-burst must not be negative, got %d", c.WriteBurst)
	}
	if p := c.NodeInstancePrefix; p != "" && !namePrefixRE.MatchString(p) {
		// As a list filter it would hide every VM.
		return fmt.Errorf("gce.conf: node-instance-prefix: %q cannot begin a VM name (a lowercase letter, then lowercase letters, digits and dashes)", p)
	}
	for _, t := range c.NodeTags {
		if !ValidName(t) {
			return fmt.Errorf("gce.conf: node-tags: %q is not a valid network tag", t)
		}
	}
	for key, v := range map[string]string{"project-id": c.ProjectID, "network-project-id": c.NetworkProjectID} {
		if v != "" && !validProject(v) {
			return fmt.Errorf("gce.conf: %s: %q is not a valid project id", key, v)
		}
	}
	for key, v := range map[string]string{"network-name": c.NetworkName, "subnetwork-name": c.SubnetworkName, "local-zone": c.LocalZone} {
		if v != "" && !ValidName(lastPathSegment(v)) {
			return fmt.Errorf("gce.conf: %s: %q is not a valid name", key, v)
		}
	}
	return nil
}

// MetadataSource answers what a VM knows about itself; the metadata server
// in production, anything in tests.
type MetadataSource interface {
	ProjectIDWithContext(ctx context.Context) (string, error)
	ZoneWithContext(ctx context.Context) (string, error)
	GetWithContext(ctx context.Context, suffix string) (string, error)
}

// Complete fills what gce.conf left out from the metadata server (project,
// zone, network), applies defaults and derives the region. md is consulted
// only when something is missing. The zones of a multizone cluster are
// listed by New.
func (c *Config) Complete(ctx context.Context, md MetadataSource) error {
	var err error
	if c.ProjectID == "" {
		if md == nil {
			return errors.New("gce.conf sets no project-id and no metadata server is available")
		}
		if c.ProjectID, err = md.ProjectIDWithContext(ctx); err != nil {
			return fmt.Errorf("project-id not in gce.conf and not from the metadata server: %w", err)
		}
	}
	if c.NetworkProjectID == "" {
		c.NetworkProjectID = c.ProjectID
	}
	if c.LocalZone == "" {
		if md == nil {
			return errors.New("gce.conf sets no local-zone and no metadata server is available")
		}
		if c.LocalZone, err = md.ZoneWithContext(ctx); err != nil {
			return fmt.Errorf("zone not in gce.conf (local-zone) and not from the metadata server: %w", err)
		}
	}
	if c.NetworkName == "" {
		if md == nil {
			return errors.New("gce.conf sets no network-name and no metadata server is available")
		}
		n, err := md.GetWithContext(ctx, "instance/network-interfaces/0/network")
		if err != nil {
			return fmt.Errorf("network-name not in gce.conf and not from the metadata server: %w", err)
		}
		c.NetworkName = lastPathSegment(strings.TrimSpace(n))
	}
	c.NetworkName = lastPathSegment(c.NetworkName)
	c.SubnetworkName = lastPathSegment(c.SubnetworkName)
	c.Region = regionOfZone(c.LocalZone)
	if c.Region == "" {
		return fmt.Errorf("zone %q is not a GCE zone name", c.LocalZone)
	}
	c.Zones = []string{c.LocalZone}
	if c.WriteQPS == 0 {
		c.WriteQPS = DefaultWriteQPS
	}
	if c.WriteBurst == 0 {
		c.WriteBurst = DefaultWriteBurst
	}
	return nil
}

// NetworkURL is the URL of the cluster's network, in the network project.
func (c *Config) NetworkURL() string {
	return SelfLinkPrefix + "projects/" + c.NetworkProjectID + "/global/networks/" + c.NetworkName
}

// SelfLinkPrefix starts every Compute resource URL.
const SelfLinkPrefix = "https://www.googleapis.com/compute/v1/"

func regionOfZone(zone string) string {
	i := strings.LastIndexByte(zone, '-')
	if i <= 0 || i == len(zone)-1 {
		return ""
	}
	return zone[:i]
}

func lastPathSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// ValidName reports whether s is a valid GCE resource name or network tag:
// [a-z]([-a-z0-9]*[a-z0-9])?, 1 to 63 characters.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

func validProject(s string) bool {
	// Project ids are 6-30 chars; "domain:project" ids exist too, and the
	// domain is checked as well: it ends up in every resource URL.
	if domain, after, ok := strings.Cut(s, ":"); ok {
		if !domainRE.MatchString(domain) {
			return false
		}
		s = after
	}
	return len(s) >= 4 && len(s) <= 30 && ValidName(s)
}

// domainRE matches the domain of a domain-scoped project id (example.com).
var domainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
