package fakecompute

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"golang.org/x/time/rate"
	compute "google.golang.org/api/compute/v1"
	"sigs.k8s.io/yaml"
)

// ControlPrefix is where the HTTP control API lives.
const ControlPrefix = "/_fake/"

// InstanceSeed describes a VM to create directly, without an operation.
type InstanceSeed struct {
	Name         string   `json:"name"`
	Zone         string   `json:"zone"`
	Project      string   `json:"project,omitempty"`      // default: the main project
	MachineType  string   `json:"machineType,omitempty"`  // default e2-standard-4
	CanIPForward bool     `json:"canIpForward,omitempty"` // as on GCE, false unless set
	Tags         []string `json:"tags,omitempty"`
	Status       string   `json:"status,omitempty"`     // RUNNING (default), STOPPING or TERMINATED
	InternalIP   string   `json:"internalIP,omitempty"` // default: next free IP of the subnetwork
	ExternalIP   string   `json:"externalIP,omitempty"` // with NoExternalIP unset, default: next free external IP
	NoExternalIP bool     `json:"noExternalIP,omitempty"`
	// InternalIPv6 makes the interface dual-stack (IPV4_IPV6) with this
	// internal IPv6 address (ipv6Address, access type INTERNAL).
	InternalIPv6 string `json:"internalIPv6,omitempty"`
	// ExternalIPv6 makes the interface dual-stack with this external IPv6
	// address (ipv6AccessConfigs[0].externalIpv6, DIRECT_IPV6, access type
	// EXTERNAL). A subnetwork's IPv6 access type is INTERNAL or EXTERNAL, so
	// an instance has one of InternalIPv6 and ExternalIPv6, not both.
	ExternalIPv6 string `json:"externalIPv6,omitempty"`
}

// Seed is the content of a seed file (YAML or JSON).
type Seed struct {
	Instances []InstanceSeed `json:"instances"`
	// MetadataInstance is "zone/name" of the instance the metadata server
	// describes; default the first seeded instance.
	MetadataInstance string `json:"metadataInstance,omitempty"`
}

// ParseSeed parses a seed file's content, refusing unknown fields.
func ParseSeed(data []byte) (*Seed, error) {
	var sd Seed
	if err := yaml.UnmarshalStrict(data, &sd); err != nil {
		return nil, fmt.Errorf("parse seed: %w", err)
	}
	return &sd, nil
}

// ApplySeed creates the seed's instances. It stops at the first bad one and
// returns an error that names it; the instances before it stay.
func (s *Server) ApplySeed(sd *Seed) error {
	for i, in := range sd.Instances {
		if err := s.AddInstance(in); err != nil {
			return fmt.Errorf("instances[%d] (%q): %w", i, in.Name, err)
		}
	}
	if sd.MetadataInstance != "" {
		return s.SetMetadataInstance(sd.MetadataInstance)
	}
	return nil
}

// AddInstance creates a VM at once, as if its insert operation had ended.
func (s *Server) AddInstance(in InstanceSeed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	project := in.Project
	if project == "" {
		project = s.cfg.Project
	}
	if _, ok := s.projects[project]; !ok {
		return fmt.Errorf("unknown project %q", project)
	}
	if !s.scopeExists(project, "zones/"+in.Zone) || in.Zone == "" {
		return fmt.Errorf("unknown zone %q (zones: %v)", in.Zone, s.zones)
	}
	rf := ref{project: project, scope: "zones/" + in.Zone, kind: "instances", name: in.Name}
	if e := checkNew(s.instances, rf); e != nil {
		return e
	}
	nic := &compute.NetworkInterface{NetworkIP: in.InternalIP}
	if !in.NoExternalIP {
		nic.AccessConfigs = []*compute.AccessConfig{{NatIP: in.ExternalIP}}
	}
	if in.InternalIPv6 != "" || in.ExternalIPv6 != "" {
		nic.StackType = stackDual
		nic.Ipv6Address = in.InternalIPv6
		if in.ExternalIPv6 != "" {
			nic.Ipv6AccessConfigs = []*compute.AccessConfig{{Type: accessDirectIPv6, ExternalIpv6: in.ExternalIPv6}}
		}
	}
	inst, e := s.buildInstance(project, in.Zone, &compute.Instance{
		Name: in.Name, MachineType: in.MachineType, CanIpForward: in.CanIPForward,
		Tags: &compute.Tags{Items: in.Tags}, Status: in.Status,
		NetworkInterfaces: []*compute.NetworkInterface{nic},
	})
	if e != nil {
		return e
	}
	s.instances.put(rf.key(), inst)
	if s.metadataVM == "" {
		s.metadataVM = rf.key()
	}
	return nil
}

// SetInstanceStatus changes a VM's status, e.g. to TERMINATED to model a
// stopped VM.
func (s *Server) SetInstanceStatus(project, zone, name, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if project == "" {
		project = s.cfg.Project
	}
	switch status {
	case StatusRunning, StatusStopping, StatusTerminated:
	default:
		return fmt.Errorf("unknown status %q (want RUNNING, STOPPING or TERMINATED)", status)
	}
	rf := ref{project: project, scope: "zones/" + zone, kind: "instances", name: name}
	r := s.instances.get(rf.key())
	if r == nil {
		return fmt.Errorf("instance %s not found", rf.path())
	}
	r.obj.Status = status
	r.render()
	return nil
}

// SetMetadataInstance chooses the instance ("zone/name") that the metadata
// server describes.
func (s *Server) SetMetadataInstance(zoneName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.cfg.Project + "/zones/" + zoneName
	if s.instances.get(key) == nil {
		return fmt.Errorf("metadata instance %q: no such instance in project %s", zoneName, s.cfg.Project)
	}
	s.metadataVM = key
	return nil
}

// SetLatency sets how long operations of method stay RUNNING; method "" sets
// the default for all methods without their own.
func (s *Server) SetLatency(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		s.defaultLatency = d
		return
	}
	s.latency[method] = d
}

// SetWriteRateLimit limits mutations to qps per second with the given burst;
// calls past it fail with 403 rateLimitExceeded. qps <= 0 removes the limit.
func (s *Server) SetWriteRateLimit(qps float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if qps <= 0 {
		s.limiter = nil
		return
	}
	if burst < 1 {
		burst = 1
	}
	s.limiter = rate.NewLimiter(rate.Limit(qps), burst)
}

// SetQuota sets the limit of a quota metric (QuotaRoutes and the others); a
// negative limit removes it.
func (s *Server) SetQuota(metric string, limit int) error {
	switch metric {
	case QuotaRoutes, QuotaAddresses, QuotaForwardingRules, QuotaFirewalls:
	default:
		return fmt.Errorf("unknown quota %q (known: %s, %s, %s, %s)", metric, QuotaRoutes, QuotaAddresses, QuotaForwardingRules, QuotaFirewalls)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit < 0 {
		delete(s.quotas, metric)
		return nil
	}
	s.quotas[metric] = limit
	return nil
}

// InjectFault adds a fault; faults are tried in the order they were added.
func (s *Server) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Count})
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns how often each method was called, by result: "ok", an error
// reason such as "notFound", or "dropped".
func (s *Server) Calls() map[string]map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]int, len(s.calls))
	for m, r := range s.calls {
		out[m] = maps.Clone(r)
	}
	return out
}

// RunningOperations returns how many operations have not ended yet: with a
// latency set, a test sees how many of its mutations are in flight at once.
func (s *Server) RunningOperations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.ops {
		if !o.isDone() {
			n++
		}
	}
	return n
}

// ResetCalls zeroes the call counts.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]map[string]int{}
}

// Dump holds every resource, by kind, as the API would return it.
type Dump struct {
	Instances        []*compute.Instance        `json:"instances"`
	Routes           []*compute.Route           `json:"routes"`
	Addresses        []*compute.Address         `json:"addresses"`
	ForwardingRules  []*compute.ForwardingRule  `json:"forwardingRules"`
	TargetPools      []*compute.TargetPool      `json:"targetPools"`
	Firewalls        []*compute.Firewall        `json:"firewalls"`
	HTTPHealthChecks []*compute.HttpHealthCheck `json:"httpHealthChecks"`
	// HealthChecks are those of the healthChecks API, global and regional.
	// They, backend services and instance groups are left out (nil) when
	// there are none, so that dumps from before they were modelled
	// round-trip unchanged.
	HealthChecks    []*compute.HealthCheck    `json:"healthChecks,omitempty"`
	BackendServices []*compute.BackendService `json:"backendServices,omitempty"` // regional
	InstanceGroups  []*compute.InstanceGroup  `json:"instanceGroups,omitempty"`
	// InstanceGroupMembers are the instances (selfLinks) of each instance
	// group (by its selfLink) that has any.
	InstanceGroupMembers map[string][]string `json:"instanceGroupMembers,omitempty"`
}

// Dump returns copies of all resources, sorted by project, scope and name.
func (s *Server) Dump() *Dump {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &Dump{
		Instances:        copies(s.instances),
		Routes:           copies(s.routes),
		Addresses:        copies(s.addresses),
		ForwardingRules:  copies(s.fwdRules),
		TargetPools:      copies(s.targetPools),
		Firewalls:        copies(s.firewalls),
		HTTPHealthChecks: copies(s.healthChecks),
		HealthChecks:     nilIfEmpty(copies(s.hcs)),
		BackendServices:  nilIfEmpty(copies(s.backendServices)),
		InstanceGroups:   nilIfEmpty(copies(s.instanceGroups)),

		InstanceGroupMembers: s.membersByLink(),
	}
}

func nilIfEmpty[T any](items []*T) []*T {
	if len(items) == 0 {
		return nil
	}
	return items
}

// membersByLink returns the groups' members by group selfLink, nil when no
// group has any.
func (s *Server) membersByLink() map[string][]string {
	var out map[string][]string
	for key, members := range s.igMembers {
		if r := s.instanceGroups.get(key); r != nil && len(members) > 0 {
			if out == nil {
				out = map[string][]string{}
			}
			out[r.obj.SelfLink] = slices.Clone(members)
		}
	}
	return out
}

func copies[T any](t *table[T]) []*T {
	out := make([]*T, 0, len(t.items))
	for _, k := range t.keys() {
		var v T
		_ = json.Unmarshal(t.items[k].raw, &v)
		out = append(out, &v)
	}
	return out
}

// Reset removes every resource, operation, fault, limit and count, leaving
// the networks, regions and zones the fake started with.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) controlInit() {
	handle := func(pattern string, fn func(r *http.Request, body []byte) (any, error)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out, err := fn(r, body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if out == nil {
				out = map[string]string{"status": "ok"}
			}
			writeJSON(w, out)
		})
	}
	decode := func(body []byte, v any) error {
		if err := yaml.UnmarshalStrict(body, v); err != nil {
			return fmt.Errorf("bad request body: %w", err)
		}
		return nil
	}
	handle("POST "+ControlPrefix+"seed", func(_ *http.Request, body []byte) (any, error) {
		sd, err := ParseSeed(body)
		if err != nil {
			return nil, err
		}
		return nil, s.ApplySeed(sd)
	})
	handle("POST "+ControlPrefix+"instances/{zone}/{name}/status", func(r *http.Request, body []byte) (any, error) {
		var req struct {
			Project string `json:"project"`
			Status  string `json:"status"`
		}
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		return nil, s.SetInstanceStatus(req.Project, r.PathValue("zone"), r.PathValue("name"), req.Status)
	})
	handle("POST "+ControlPrefix+"latency", func(_ *http.Request, body []byte) (any, error) {
		var req struct {
			Method  string `json:"method"`
			Latency string `json:"latency"`
		}
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(req.Latency)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad latency %q: want a duration such as 1s", req.Latency)
		}
		s.SetLatency(req.Method, d)
		return nil, nil
	})
	handle("POST "+ControlPrefix+"ratelimit", func(_ *http.Request, body []byte) (any, error) {
		var req struct {
			QPS   float64 `json:"qps"`
			Burst int     `json:"burst"`
		}
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		s.SetWriteRateLimit(req.QPS, req.Burst)
		return nil, nil
	})
	handle("POST "+ControlPrefix+"quotas", func(_ *http.Request, body []byte) (any, error) {
		var req map[string]int
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		for m, l := range req {
			if err := s.SetQuota(m, l); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	handle("POST "+ControlPrefix+"faults", func(_ *http.Request, body []byte) (any, error) {
		var f Fault
		if err := decode(body, &f); err != nil {
			return nil, err
		}
		return nil, s.InjectFault(f)
	})
	handle("DELETE "+ControlPrefix+"faults", func(*http.Request, []byte) (any, error) {
		s.ClearFaults()
		return nil, nil
	})
	handle("GET "+ControlPrefix+"calls", func(*http.Request, []byte) (any, error) {
		return s.Calls(), nil
	})
	handle("DELETE "+ControlPrefix+"calls", func(*http.Request, []byte) (any, error) {
		s.ResetCalls()
		return nil, nil
	})
	handle("GET "+ControlPrefix+"dump", func(*http.Request, []byte) (any, error) {
		return s.Dump(), nil
	})
	handle("POST "+ControlPrefix+"reset", func(*http.Request, []byte) (any, error) {
		s.Reset()
		return nil, nil
	})
}
