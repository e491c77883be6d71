// Package fakecompute is an HTTP fake of the Compute Engine v1 REST API (and
// of the GCE metadata server) for tests and benchmarks. It serves the real
// paths under /compute/v1/projects/{project}/..., with the v1 JSON field
// names, Google's error bodies and reasons, asynchronous operations,
// pagination, filters, referential integrity, quotas, a write rate limit,
// latency and fault injection, so that both Go clients
// (cloud.google.com/go/compute/apiv1 and google.golang.org/api/compute/v1)
// work against it unchanged. A control API (Go methods on Server, and HTTP
// under /_fake/) seeds it, shapes it and reads what it saw.
package fakecompute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	compute "google.golang.org/api/compute/v1"
)

// Config describes the world the fake starts with. Zero values take the
// defaults documented on each field.
type Config struct {
	// Project is the main project. Default "fake-project".
	Project string
	// ExtraProjects are further projects that exist, e.g. a Shared VPC host.
	ExtraProjects []string
	// Zones that exist; their regions exist too. Default us-central1-{a,b,c}.
	Zones []string
	// Network is the name of the network created in every project. Default "default".
	Network string
	// ExtraNetworks are further networks, without subnetworks, in every project.
	ExtraNetworks []string
	// SubnetCIDR is the range of the network's subnetwork in every region,
	// from which instances get their internal IPs. Default 10.128.0.0/16.
	SubnetCIDR string
	// ExternalCIDR is the pool of external IPs for addresses, forwarding
	// rules and instances' access configs. Default 198.18.0.0/15.
	ExternalCIDR string
	// Latency is how long every operation stays RUNNING. Default 0 (DONE at once).
	Latency time.Duration
	// MaxWait bounds one call of an operations' wait method. Default 2 minutes, as on GCE.
	MaxWait time.Duration
	// MaxInstancesPerCall bounds the instances in one targetPools insert,
	// addInstance or removeInstance call. Default 1000.
	MaxInstancesPerCall int
	// RandSeed seeds the fraction-based faults. Default 1.
	RandSeed uint64
}

func (c *Config) setDefaults() {
	if c.Project == "" {
		c.Project = "fake-project"
	}
	if len(c.Zones) == 0 {
		c.Zones = []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	}
	if c.Network == "" {
		c.Network = "default"
	}
	if c.SubnetCIDR == "" {
		c.SubnetCIDR = "10.128.0.0/16"
	}
	if c.ExternalCIDR == "" {
		c.ExternalCIDR = "198.18.0.0/15"
	}
	if c.MaxWait == 0 {
		c.MaxWait = 2 * time.Minute
	}
	if c.MaxInstancesPerCall == 0 {
		c.MaxInstancesPerCall = 1000
	}
	if c.RandSeed == 0 {
		c.RandSeed = 1
	}
}

func (c *Config) validate() error {
	for _, p := range append([]string{c.Project}, c.ExtraProjects...) {
		if !validProjectID(p) {
			return fmt.Errorf("invalid project id %q", p)
		}
	}
	for _, z := range c.Zones {
		if regionOf(z) == "" || !validName(z) {
			return fmt.Errorf("invalid zone %q: want a name like us-central1-a", z)
		}
	}
	for _, n := range append([]string{c.Network}, c.ExtraNetworks...) {
		if !validName(n) {
			return fmt.Errorf("invalid network name %q", n)
		}
	}
	for _, r := range []string{c.SubnetCIDR, c.ExternalCIDR} {
		p, err := netip.ParsePrefix(r)
		if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
			return fmt.Errorf("invalid IPv4 range %q", r)
		}
	}
	if c.Latency < 0 || c.MaxWait < 0 || c.MaxInstancesPerCall < 0 {
		return errors.New("latency, max wait and max instances per call must not be negative")
	}
	return nil
}

func validProjectID(p string) bool {
	return len(p) >= 4 && len(p) <= 30 && nameRE.MatchString(p)
}

// regionOf returns the region of a zone: us-central1-a is in us-central1.
func regionOf(zone string) string {
	i := strings.LastIndexByte(zone, '-')
	if i <= 0 || i == len(zone)-1 {
		return ""
	}
	return zone[:i]
}

// Server is the fake. Create it with New, serve it with Start (or use
// Handler with a server of your own), and stop it with Close.
type Server struct {
	cfg Config

	mu       sync.Mutex
	projects map[string]uint64 // project id -> project number
	regions  []string
	zones    []string

	zonesT       *table[compute.Zone]
	regionsT     *table[compute.Region]
	networks     *table[compute.Network]
	subnetworks  *table[compute.Subnetwork]
	instances    *table[compute.Instance]
	routes       *table[compute.Route]
	addresses    *table[compute.Address]
	fwdRules     *table[compute.ForwardingRule]
	targetPools  *table[compute.TargetPool]
	firewalls    *table[compute.Firewall]
	healthChecks *table[compute.HttpHealthCheck]
	// The healthChecks API (global and regional in one table: the key has
	// the scope), not the legacy httpHealthChecks above.
	hcs             *table[compute.HealthCheck]
	backendServices *table[compute.BackendService] // regional
	instanceGroups  *table[compute.InstanceGroup]
	igMembers       map[string][]string // group key -> sorted instance links

	ops      map[string]*operation // project/scope/name
	requests map[string]*operation // project/requestId
	nextOp   uint64
	nextID   uint64

	internalIPs *ipPool
	externalIPs *ipPool

	latency        map[string]time.Duration
	defaultLatency time.Duration
	limiter        *rate.Limiter
	quotas         map[string]int
	faults         []*faultState
	rnd            *rand.Rand
	calls          map[string]map[string]int
	metadataVM     string // key of the instance the metadata server describes

	mux      *http.ServeMux
	listener net.Listener
	http     *http.Server
	url      string
	closing  chan struct{}               // closed by Close: waits return at once
	conns    map[net.Conn]http.ConnState // guarded by mu
}

// New returns a fake with the networks, subnetworks, regions and zones of cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), closing: make(chan struct{}), conns: map[net.Conn]http.ConnState{}}
	s.resetLocked()
	s.routesInit()
	return s, nil
}

// resetLocked puts the fake back to its starting state; the caller holds mu
// (or owns s exclusively).
func (s *Server) resetLocked() {
	// Operations still running end without effect: a wait on one returns
	// at once instead of hanging until MaxWait, and the next get is notFound.
	for _, o := range s.ops {
		if o.timer != nil {
			o.timer.Stop()
		}
		if !o.isDone() {
			close(o.done)
		}
	}
	cfg := s.cfg
	s.projects = map[string]uint64{}
	for i, p := range append([]string{cfg.Project}, cfg.ExtraProjects...) {
		s.projects[p] = 100000000000 + uint64(i)*1111
	}
	s.zonesT = newTable[compute.Zone]("zones")
	s.regionsT = newTable[compute.Region]("regions")
	s.networks = newTable[compute.Network]("networks")
	s.subnetworks = newTable[compute.Subnetwork]("subnetworks")
	s.instances = newTable[compute.Instance]("instances")
	s.routes = newTable[compute.Route]("routes")
	s.addresses = newTable[compute.Address]("addresses")
	s.fwdRules = newTable[compute.ForwardingRule]("forwardingRules")
	s.targetPools = newTable[compute.TargetPool]("targetPools")
	s.firewalls = newTable[compute.Firewall]("firewalls")
	s.healthChecks = newTable[compute.HttpHealthCheck]("httpHealthChecks")
	s.hcs = newTable[compute.HealthCheck]("healthChecks")
	s.backendServices = newTable[compute.BackendService]("backendServices")
	s.instanceGroups = newTable[compute.InstanceGroup]("instanceGroups")
	s.igMembers = map[string][]string{}
	s.ops = map[string]*operation{}
	s.requests = map[string]*operation{}
	s.nextID = 4000000000000000000
	s.internalIPs = newIPPool(netip.MustParsePrefix(cfg.SubnetCIDR), 2)
	s.externalIPs = newIPPool(netip.MustParsePrefix(cfg.ExternalCIDR), 1)
	s.latency = map[string]time.Duration{}
	s.defaultLatency = cfg.Latency
	s.limiter = nil
	s.quotas = map[string]int{}
	s.faults = nil
	s.rnd = rand.New(rand.NewPCG(cfg.RandSeed, cfg.RandSeed))
	s.calls = map[string]map[string]int{}
	s.metadataVM = ""

	s.zones = append([]string(nil), cfg.Zones...)
	s.regions = nil
	byRegion := map[string][]string{}
	for _, z := range s.zones {
		r := regionOf(z)
		if _, ok := byRegion[r]; !ok {
			s.regions = append(s.regions, r)
		}
		byRegion[r] = append(byRegion[r], z)
	}
	for p := range s.projects {
		for _, r := range s.regions {
			reg := &compute.Region{Kind: "compute#region", Id: s.newID(), Name: r, Status: "UP",
				CreationTimestamp: s.timestamp(), SelfLink: scopeLink(p, "regions/"+r)}
			for _, z := range byRegion[r] {
				reg.Zones = append(reg.Zones, scopeLink(p, "zones/"+z))
				s.zonesT.put(p+"/global/"+z, &compute.Zone{Kind: "compute#zone", Id: s.newID(), Name: z,
					Status: "UP", Region: reg.SelfLink, CreationTimestamp: s.timestamp(),
					SelfLink: scopeLink(p, "zones/"+z)})
			}
			s.regionsT.put(p+"/global/"+r, reg)
		}
		for _, extra := range cfg.ExtraNetworks {
			// Extra networks have no subnetworks: enough for routes and
			// firewalls, which is what they exist to test.
			ref := ref{project: p, scope: "global", kind: "networks", name: extra}
			s.networks.put(ref.key(), &compute.Network{Kind: "compute#network", Id: s.newID(), Name: extra,
				CreationTimestamp: s.timestamp(), SelfLink: ref.link(), Mtu: 1460,
				RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"}})
		}
		netRef := ref{project: p, scope: "global", kind: "networks", name: cfg.Network}
		network := &compute.Network{Kind: "compute#network", Id: s.newID(), Name: cfg.Network,
			CreationTimestamp: s.timestamp(), SelfLink: netRef.link(), Mtu: 1460,
			RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"}}
		for _, r := range s.regions {
			subRef := ref{project: p, scope: "regions/" + r, kind: "subnetworks", name: cfg.Network}
			network.Subnetworks = append(network.Subnetworks, subRef.link())
			prefix := netip.MustParsePrefix(cfg.SubnetCIDR)
			s.subnetworks.put(subRef.key(), &compute.Subnetwork{Kind: "compute#subnetwork", Id: s.newID(),
				Name: cfg.Network, Network: netRef.link(), Region: scopeLink(p, "regions/"+r),
				IpCidrRange: prefix.String(), GatewayAddress: prefix.Addr().Next().String(),
				CreationTimestamp: s.timestamp(), SelfLink: subRef.link(), StackType: "IPV4_ONLY"})
		}
		s.networks.put(netRef.key(), network)
	}
}

// Start serves the fake on addr (for example "127.0.0.1:0") in the
// background and returns once it is listening.
func (s *Server) Start(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.http = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ConnState: s.trackConn}
	go func() { _ = s.http.Serve(l) }()
	return nil
}

// URL is the base URL after Start, e.g. http://127.0.0.1:34567. Give it to
// cloud.google.com/go/compute/apiv1 as option.WithEndpoint(URL()), and to
// google.golang.org/api/compute/v1 as option.WithEndpoint(URL()+"/compute/v1/").
func (s *Server) URL() string { return s.url }

// MetadataHost is the value for GCE_METADATA_HOST after Start.
func (s *Server) MetadataHost() string { return strings.TrimPrefix(s.url, "http://") }

// Handler serves the Compute API, the metadata server and the control API.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops serving: it refuses new connections, ends pending operation
// waits (they answer the operation as it is), lets requests in flight finish
// (for at most 5 seconds) and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return nil
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	if s.http == nil {
		return nil
	}
	// Close the listener before Shutdown, then the connections a client
	// opened but never sent a request on: Shutdown counts those as active
	// for 5 seconds, which would make every Close that slow.
	lerr := s.listener.Close()
	s.mu.Lock()
	for c, st := range s.conns {
		if st == http.StateNew || st == http.StateIdle {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return errors.Join(err, s.http.Close())
	}
	if lerr != nil && !errors.Is(lerr, net.ErrClosed) {
		return lerr
	}
	return nil
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	default:
		s.conns[c] = st
	}
}

func (s *Server) now() time.Time { return time.Now() }

func (s *Server) timestamp() string { return s.now().Format("2006-01-02T15:04:05.000-07:00") }

func (s *Server) newID() uint64 {
	s.nextID += 1 + uint64(s.nextID%7)
	return s.nextID
}

// call is one request being served.
type call struct {
	ctx       context.Context
	r         *http.Request
	method    string // e.g. "routes.insert"
	project   string
	scope     string // "global", "regions/R" or "zones/Z"
	name      string // the {name} path value: resource or operation name
	body      []byte
	requestID string
}

func (c *call) decode(v any) *Error {
	if len(c.body) == 0 {
		return errInvalid("Required request body is missing")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return &Error{Code: http.StatusBadRequest, Reason: ReasonBadRequest, Message: "Invalid JSON payload received. " + err.Error()}
	}
	return nil
}

// has reports whether the request body sets the top-level field.
func (c *call) has(field string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(c.body, &m) != nil {
		return false
	}
	_, ok := m[field]
	return ok
}

type handler func(c *call) (any, *Error)

// endpoint registers one REST method. write marks mutations: they pass the
// write rate limit and return operations.
func (s *Server) endpoint(pattern, method string, write bool, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := &call{ctx: r.Context(), r: r, method: method, project: r.PathValue("project"),
			name: r.PathValue("name"), requestID: r.URL.Query().Get("requestId")}
		switch {
		case r.PathValue("zone") != "":
			c.scope = "zones/" + r.PathValue("zone")
		case r.PathValue("region") != "":
			c.scope = "regions/" + r.PathValue("region")
		default:
			c.scope = "global"
		}
		if r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
			if err != nil {
				return
			}
			c.body = body
		}
		resp, apiErr, dropped := s.serve(c, write, h, w)
		if dropped {
			return
		}
		if apiErr != nil {
			s.count(method, apiErr.Reason)
			writeError(w, apiErr)
			return
		}
		s.count(method, "ok")
		writeJSON(w, resp)
	})
}

func (s *Server) serve(c *call, write bool, h handler, w http.ResponseWriter) (any, *Error, bool) {
	s.mu.Lock()
	_, known := s.projects[c.project]
	scopeOK := s.scopeExists(c.project, c.scope)
	var lim *rate.Limiter
	if write {
		lim = s.limiter
	}
	s.mu.Unlock()
	if !known {
		return nil, errNotFound("projects/" + c.project), false
	}
	if !scopeOK {
		return nil, errNotFound("projects/" + c.project + "/" + c.scope), false
	}
	if lim != nil && !lim.Allow() {
		return nil, errRateLimited(), false
	}
	// Take the fault only for a call that reaches the method, so that "the
	// next N calls fail" means N calls fail with the fault.
	s.mu.Lock()
	f := s.takeFault(c.method)
	s.mu.Unlock()
	if f != nil {
		switch f.Mode {
		case FaultDrop:
			s.count(c.method, "dropped")
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return nil, nil, true
				}
			}
			panic(http.ErrAbortHandler)
		case FaultError:
			return nil, f.err(), false
		case FaultOperation:
			if write {
				return s.failedOperation(c, f.err()), nil, false
			}
			return nil, f.err(), false
		}
	}
	resp, err := h(c)
	return resp, err, false
}

// failedOperation answers a mutation with an operation that will fail
// without changing anything, as when GCE accepts a request and fails it later.
func (s *Server) failedOperation(c *call, e *Error) any {
	kind, verb, _ := strings.Cut(c.method, ".")
	name := c.name
	if name == "" {
		var b struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(c.body, &b)
		name = b.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.byRequestID(c); o != nil {
		return s.opJSON(o)
	}
	o := s.newOperation(c, verb)
	o.op.TargetLink = ref{project: c.project, scope: c.scope, kind: kind, name: name}.link()
	o.failure = e
	s.start(o, c.method)
	return s.opJSON(o)
}

func (s *Server) scopeExists(project, scope string) bool {
	switch {
	case scope == "global":
		return true
	case strings.HasPrefix(scope, "zones/"):
		return s.zonesT.get(project+"/global/"+strings.TrimPrefix(scope, "zones/")) != nil
	case strings.HasPrefix(scope, "regions/"):
		return s.regionsT.get(project+"/global/"+strings.TrimPrefix(scope, "regions/")) != nil
	}
	return false
}

func (s *Server) count(method, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.calls[method]
	if m == nil {
		m = map[string]int{}
		s.calls[method] = m
	}
	m[result]++
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if raw, ok := v.(json.RawMessage); ok {
		_, _ = w.Write(raw)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) latencyFor(method string) time.Duration {
	if d, ok := s.latency[method]; ok {
		return d
	}
	return s.defaultLatency
}
