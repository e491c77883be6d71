package fakecompute

import (
	"fmt"
	"net/http"
)

// routesInit registers every REST method the fake serves. Method names (the
// keys of call counts, latencies and faults) are the API's own:
// "<collection>.<method>", e.g. "routes.insert", "targetPools.addInstance",
// "globalOperations.wait".
func (s *Server) routesInit() {
	const p = "/compute/v1/projects/{project}/"
	const g, r, z = p + "global/", p + "regions/{region}/", p + "zones/{zone}/"
	get, post, del := "GET ", "POST ", "DELETE "

	s.endpoint(get+p+"zones", "zones.list", false, func(c *call) (any, *Error) {
		c.scope = "global"
		return listAll(s, s.zonesT, c, "compute#zoneList")
	})
	s.endpoint(get+p+"zones/{name}", "zones.get", false, func(c *call) (any, *Error) {
		c.scope = "global"
		return getOne(s, s.zonesT, c)
	})
	s.endpoint(get+p+"regions", "regions.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.regionsT, c, "compute#regionList")
	})
	s.endpoint(get+p+"regions/{name}", "regions.get", false, func(c *call) (any, *Error) {
		c.scope = "global"
		return getOne(s, s.regionsT, c)
	})
	s.endpoint(get+g+"networks", "networks.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.networks, c, "compute#networkList")
	})
	s.endpoint(get+g+"networks/{name}", "networks.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.networks, c)
	})
	s.endpoint(get+r+"subnetworks", "subnetworks.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.subnetworks, c, "compute#subnetworkList")
	})
	s.endpoint(get+r+"subnetworks/{name}", "subnetworks.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.subnetworks, c)
	})

	s.endpoint(get+z+"instances", "instances.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.instances, c, "compute#instanceList")
	})
	s.endpoint(get+z+"instances/{name}", "instances.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.instances, c)
	})
	s.endpoint(post+z+"instances", "instances.insert", true, s.insertInstance)
	s.endpoint(del+z+"instances/{name}", "instances.delete", true, s.deleteInstance)
	s.endpoint(post+z+"instances/{name}/setTags", "instances.setTags", true, s.setInstanceTags)
	s.endpoint("PUT "+z+"instances/{name}", "instances.update", true, s.updateInstance)
	s.endpoint(post+z+"instances/{name}/stop", "instances.stop", true, s.stopInstance)
	s.endpoint(post+z+"instances/{name}/start", "instances.start", true, s.startInstance)
	s.endpoint(get+p+"aggregated/instances", "instances.aggregatedList", false, s.aggregatedInstances)

	s.endpoint(get+g+"routes", "routes.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.routes, c, "compute#routeList")
	})
	s.endpoint(get+g+"routes/{name}", "routes.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.routes, c)
	})
	s.endpoint(post+g+"routes", "routes.insert", true, s.insertRoute)
	s.endpoint(del+g+"routes/{name}", "routes.delete", true, func(c *call) (any, *Error) {
		return deleteOne(s, s.routes, c, nil, nil)
	})

	s.endpoint(get+r+"addresses", "addresses.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.addresses, c, "compute#addressList")
	})
	s.endpoint(get+r+"addresses/{name}", "addresses.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.addresses, c)
	})
	s.endpoint(post+r+"addresses", "addresses.insert", true, s.insertAddress)
	s.endpoint(del+r+"addresses/{name}", "addresses.delete", true, s.deleteAddress)

	s.endpoint(get+r+"forwardingRules", "forwardingRules.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.fwdRules, c, "compute#forwardingRuleList")
	})
	s.endpoint(get+r+"forwardingRules/{name}", "forwardingRules.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.fwdRules, c)
	})
	s.endpoint(post+r+"forwardingRules", "forwardingRules.insert", true, s.insertForwardingRule)
	s.endpoint(del+r+"forwardingRules/{name}", "forwardingRules.delete", true, s.deleteForwardingRule)
	s.endpoint(post+r+"forwardingRules/{name}/setTarget", "forwardingRules.setTarget", true, s.setForwardingRuleTarget)
	s.endpoint("PATCH "+r+"forwardingRules/{name}", "forwardingRules.patch", true, s.patchForwardingRule)

	s.endpoint(get+r+"targetPools", "targetPools.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.targetPools, c, "compute#targetPoolList")
	})
	s.endpoint(get+r+"targetPools/{name}", "targetPools.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.targetPools, c)
	})
	s.endpoint(post+r+"targetPools", "targetPools.insert", true, s.insertTargetPool)
	s.endpoint(del+r+"targetPools/{name}", "targetPools.delete", true, s.deleteTargetPool)
	s.endpoint(post+r+"targetPools/{name}/addInstance", "targetPools.addInstance", true, s.addTargetPoolInstances)
	s.endpoint(post+r+"targetPools/{name}/removeInstance", "targetPools.removeInstance", true, s.removeTargetPoolInstances)
	s.endpoint(post+r+"targetPools/{name}/addHealthCheck", "targetPools.addHealthCheck", true, s.addTargetPoolHealthCheck)
	s.endpoint(post+r+"targetPools/{name}/removeHealthCheck", "targetPools.removeHealthCheck", true, s.removeTargetPoolHealthCheck)

	s.endpoint(get+g+"firewalls", "firewalls.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.firewalls, c, "compute#firewallList")
	})
	s.endpoint(get+g+"firewalls/{name}", "firewalls.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.firewalls, c)
	})
	s.endpoint(post+g+"firewalls", "firewalls.insert", true, s.insertFirewall)
	s.endpoint("PATCH "+g+"firewalls/{name}", "firewalls.patch", true, s.modifyFirewall(true))
	s.endpoint("PUT "+g+"firewalls/{name}", "firewalls.update", true, s.modifyFirewall(false))
	s.endpoint(del+g+"firewalls/{name}", "firewalls.delete", true, s.deleteFirewall)

	s.endpoint(get+g+"httpHealthChecks", "httpHealthChecks.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.healthChecks, c, "compute#httpHealthCheckList")
	})
	s.endpoint(get+g+"httpHealthChecks/{name}", "httpHealthChecks.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.healthChecks, c)
	})
	s.endpoint(post+g+"httpHealthChecks", "httpHealthChecks.insert", true, s.insertHealthCheck)
	s.endpoint("PATCH "+g+"httpHealthChecks/{name}", "httpHealthChecks.patch", true, s.modifyHealthCheck(true))
	s.endpoint("PUT "+g+"httpHealthChecks/{name}", "httpHealthChecks.update", true, s.modifyHealthCheck(false))
	s.endpoint(del+g+"httpHealthChecks/{name}", "httpHealthChecks.delete", true, s.deleteHealthCheck)

	s.instanceGroupsInit(get, post, del, p, z)
	s.healthChecksInit(get, post, del, g, r)
	s.backendServicesInit(get, post, del, r)

	for _, sc := range []struct{ prefix, method string }{{g, "globalOperations"}, {r, "regionOperations"}, {z, "zoneOperations"}} {
		s.endpoint(get+sc.prefix+"operations/{name}", sc.method+".get", false, s.handleOperation(false))
		s.endpoint(post+sc.prefix+"operations/{name}/wait", sc.method+".wait", false, s.handleOperation(true))
	}

	// Anything else under the API's prefix is a method the fake does not
	// model: say so in Google's shape rather than with a 404 that a client
	// could take for "already deleted".
	s.mux.HandleFunc("/compute/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.count("unimplemented", "notImplemented")
		writeError(w, &Error{Code: http.StatusNotImplemented, Reason: "notImplemented",
			Message: fmt.Sprintf("The fake does not serve %s %s", r.Method, r.URL.Path)})
	})

	s.metadataInit()
	s.controlInit()
	s.loadInit()
}
