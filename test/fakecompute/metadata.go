package fakecompute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// metadataInit serves the parts of the GCE metadata server that Kubernetes
// components and Google's client libraries read, for the instance chosen
// with SetMetadataInstance (default: the first seeded one). Point
// GCE_METADATA_HOST at MetadataHost() to use it.
func (s *Server) metadataInit() {
	s.mux.HandleFunc("GET /computeMetadata/v1/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		s.count("metadata."+r.PathValue("path"), "ok")
		w.Header().Set("Metadata-Flavor", "Google")
		body, status := s.metadata(r.PathValue("path"))
		if status != http.StatusOK {
			http.Error(w, body, status)
			return
		}
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/text")
		}
		_, _ = w.Write([]byte(body))
	})
}

func (s *Server) metadata(path string) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	project := s.cfg.Project
	number := strconv.FormatUint(s.projects[project], 10)
	switch path {
	case "project/project-id":
		return project, http.StatusOK
	case "project/numeric-project-id":
		return number, http.StatusOK
	case "instance/service-accounts/default/token":
		tok, _ := json.Marshal(map[string]any{"access_token": "fake-token", "expires_in": 3599, "token_type": "Bearer"})
		return string(tok), http.StatusOK
	case "instance/service-accounts/default/email":
		return "fake-compute@" + project + ".iam.gserviceaccount.com", http.StatusOK
	case "instance/service-accounts/default/scopes":
		return "https://www.googleapis.com/auth/cloud-platform\n", http.StatusOK
	}
	if !strings.HasPrefix(path, "instance/") {
		return "not found", http.StatusNotFound
	}
	r := s.instances.get(s.metadataVM)
	if r == nil {
		return "no instance is set for the metadata server", http.StatusNotFound
	}
	inst := r.obj
	zone := lastSegment(inst.Zone)
	switch path {
	case "instance/name":
		return inst.Name, http.StatusOK
	case "instance/id":
		return strconv.FormatUint(inst.Id, 10), http.StatusOK
	case "instance/hostname":
		return inst.Name + "." + zone + ".c." + project + ".internal", http.StatusOK
	case "instance/zone":
		return "projects/" + number + "/zones/" + zone, http.StatusOK
	case "instance/machine-type":
		return "projects/" + number + "/machineTypes/" + lastSegment(inst.MachineType), http.StatusOK
	case "instance/tags":
		tags, _ := json.Marshal(inst.Tags.Items)
		if inst.Tags.Items == nil {
			tags = []byte("[]")
		}
		return string(tags), http.StatusOK
	case "instance/network-interfaces/":
		var b strings.Builder
		for i := range inst.NetworkInterfaces {
			fmt.Fprintf(&b, "%d/\n", i)
		}
		return b.String(), http.StatusOK
	}
	var idx int
	var rest string
	if n, err := fmt.Sscanf(path, "instance/network-interfaces/%d/", &idx); n != 1 || err != nil || idx < 0 || idx >= len(inst.NetworkInterfaces) {
		return "not found", http.StatusNotFound
	}
	rest = path[len(fmt.Sprintf("instance/network-interfaces/%d/", idx)):]
	nic := inst.NetworkInterfaces[idx]
	switch rest {
	case "ip":
		return nic.NetworkIP, http.StatusOK
	case "network":
		return "projects/" + number + "/networks/" + lastSegment(nic.Network), http.StatusOK
	case "subnetwork":
		return "projects/" + number + "/regions/" + regionOf(zone) + "/subnetworks/" + lastSegment(nic.Subnetwork), http.StatusOK
	case "access-configs/":
		var b strings.Builder
		for i := range nic.AccessConfigs {
			fmt.Fprintf(&b, "%d/\n", i)
		}
		return b.String(), http.StatusOK
	case "access-configs/0/external-ip":
		if len(nic.AccessConfigs) == 0 {
			return "not found", http.StatusNotFound
		}
		return nic.AccessConfigs[0].NatIP, http.StatusOK
	}
	return "not found", http.StatusNotFound
}
