package audit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// Results of a deletion.
const (
	ResultDeleted = "deleted"
	ResultGone    = "already gone"
	// Results that leave the resource in place begin with these.
	resultKept   = "kept: "
	resultFailed = "failed: "
	// resultResolved: read again, it was no leak any more.
	resultResolved = resultKept + "no longer leaked when read again"
)

// Kept reports whether a result left the resource in place without an
// error (it is in use, no longer leaked, or the deletion was declined).
func Kept(result string) bool { return strings.HasPrefix(result, resultKept) }

// Failed reports whether a deletion failed.
func Failed(result string) bool { return strings.HasPrefix(result, resultFailed) }

// Decline marks every leak as kept because the deletion was not confirmed.
func Decline(fs []Finding) []Finding {
	out := append([]Finding(nil), fs...)
	for i := range out {
		if out[i].Status == Leaked {
			out[i].Result = resultKept + "deletion not confirmed"
		}
	}
	return out
}

// Delete deletes the leaks of fs that are leaked in again too, a
// classification of the resources read again after the confirmation (so
// that nothing that changed meanwhile, such as a Service created again, is
// deleted), and returns fs with each leak's result. The order is the
// controllers': forwarding rules (and, independent of everything, routes
// and firewalls), then addresses, target pools and backend services, then
// health checks and instance groups, then the firewall of a shared health
// check once that is gone. A resource
// already gone is success; one still in use is kept.
func Delete(ctx context.Context, api Compute, fs, again []Finding) []Finding {
	out := append([]Finding(nil), fs...)
	still := map[string]bool{}
	for _, f := range again {
		if f.Status == Leaked {
			still[string(f.Kind)+"/"+f.Zone+"/"+f.Name] = true
		}
	}
	var stages [4][]int
	for i, f := range out {
		if f.Status != Leaked {
			continue
		}
		if !still[string(f.Kind)+"/"+f.Zone+"/"+f.Name] {
			out[i].Result = resultResolved
			continue
		}
		switch {
		case f.Kind == KindFirewall && (nodesHCFWRE.MatchString(f.Name) || ilbHCFWRE.MatchString(f.Name)):
			stages[3] = append(stages[3], i)
		case f.Kind == KindHTTPHealthCheck || f.Kind == KindHealthCheck || f.Kind == KindInstanceGroup:
			stages[2] = append(stages[2], i)
		case f.Kind == KindAddress || f.Kind == KindTargetPool || f.Kind == KindBackendService:
			stages[1] = append(stages[1], i)
		default:
			stages[0] = append(stages[0], i)
		}
	}
	for stage, idx := range stages {
		if stage == 3 {
			// A shared health check's firewall goes only with the check.
			for _, j := range stages[2] {
				if !nodesHCRE.MatchString(out[j].Name) || out[j].Result == ResultDeleted || out[j].Result == ResultGone {
					continue
				}
				fw := out[j].Name + "-http-hc"
				if out[j].Kind == KindHealthCheck {
					fw = out[j].Name + "-hc"
				}
				for _, i := range idx {
					if out[i].Name == fw {
						out[i].Result = resultKept + "its health check " + out[j].Name + " was not deleted"
					}
				}
			}
		}
		var fns []func() error
		for _, i := range idx {
			if out[i].Result != "" {
				continue
			}
			fns = append(fns, func() error {
				out[i].Result = deleteOne(ctx, api, out[i])
				return nil
			})
		}
		_ = parallel(fns...)
	}
	return out
}

// deleteOne deletes one resource and says what happened.
func deleteOne(ctx context.Context, api Compute, f Finding) string {
	del := map[Kind]func(context.Context, string) error{
		KindRoute:           api.DeleteRoute,
		KindAddress:         api.DeleteAddress,
		KindForwardingRule:  api.DeleteForwardingRule,
		KindTargetPool:      api.DeleteTargetPool,
		KindFirewall:        api.DeleteFirewall,
		KindHTTPHealthCheck: api.DeleteHTTPHealthCheck,
		KindBackendService:  api.DeleteRegionBackendService,
		KindHealthCheck:     api.DeleteHealthCheck,
		KindInstanceGroup:   func(ctx context.Context, name string) error { return api.DeleteInstanceGroup(ctx, f.Zone, name) },
	}[f.Kind]
	if del == nil {
		return resultKept + "the audit does not delete a " + string(f.Kind)
	}
	// GCE answers resourceNotReady for a while after a user of the resource
	// (a pool's forwarding rule, a health check's pool) is deleted.
	var err error
	for delay := 500 * time.Millisecond; ; delay *= 2 {
		err = del(ctx, f.Name)
		if !gce.IsNotReady(err) || delay > 4*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return resultFailed + ctx.Err().Error()
		case <-time.After(delay):
		}
	}
	switch {
	case err == nil:
		return ResultDeleted
	case gce.IsNotFound(err):
		return ResultGone
	case gce.IsInUse(err):
		return resultKept + "still in use: " + err.Error()
	}
	return resultFailed + err.Error()
}

// parallel runs fns concurrently, at most 8 at a time, and joins their
// errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
