package loadbalancer

import (
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// TestHugeUserValues is the regression test of issue 11's "unbounded echo
// of user input": a 100 KB annotation value became a 100 KB condition
// message and event. The error (which the upstream service controller puts
// in its SyncLoadBalancerFailed event and log line) and the condition now
// quote at most quote.MaxValue bytes of it and say how much was cut.
func TestHugeUserValues(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 100<<10)
	cut := fmt.Sprintf("(%d more bytes not shown)", len(huge)-quote.MaxValue)
	for _, tc := range []struct {
		name   string
		mutate func(*v1.Service)
	}{
		{name: "network tier annotation", mutate: func(s *v1.Service) { s.Annotations = map[string]string{NetworkTierAnnotation: huge} }},
		{name: "source ranges annotation", mutate: func(s *v1.Service) { s.Annotations = map[string]string{SourceRangesAnnotation: "10.0.0.0/8," + huge} }},
		{name: "source ranges field", mutate: func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{huge} }},
		{name: "loadBalancerIP", mutate: func(s *v1.Service) { s.Spec.LoadBalancerIP = huge }},
		{name: "protocol", mutate: func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.Protocol(huge) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := testService(tc.mutate)
			_, err := parseService(svc)
			if err == nil {
				t.Fatal("parseService accepted the Service")
			}
			if msg := err.Error(); len(msg) > 1024 || !strings.Contains(msg, cut) {
				t.Errorf("error is %d bytes, want at most 1024 saying %q: %.300s", len(msg), cut, msg)
			}
			cond, ok := syncedCondition(svc, "", err)
			if !ok || cond.Reason != ReasonInvalidConfiguration {
				t.Fatalf("condition = %+v, %v", cond, ok)
			}
			if len(cond.Message) > 1024 || !strings.Contains(cond.Message, cut) {
				t.Errorf("condition message is %d bytes, want at most 1024 saying %q: %.300s", len(cond.Message), cut, cond.Message)
			}
		})
	}
}

// TestEventMessageBounded: an event this package records is at most
// maxEventMessage bytes and says how much was cut (a NodesSkipped event
// lists every skipped node with its reason).
func TestEventMessageBounded(t *testing.T) {
	t.Parallel()
	rec := &messageRecorder{}
	b := &Balancer{opts: Options{Events: rec}}
	var skipped []string
	for i := range 2000 {
		skipped = append(skipped, fmt.Sprintf("node-%d: provider ID %s is not of the form gce://<project>/<zone>/<name>", i, quote.Value(strings.Repeat("y", 1000))))
	}
	b.event(testService(nil), v1.EventTypeWarning, "NodesSkipped", "Left %d node(s) out of the load balancer: %s", len(skipped), strings.Join(skipped, "; "))
	if len(rec.messages) != 1 {
		t.Fatalf("events = %d, want 1", len(rec.messages))
	}
	if m := rec.messages[0]; len(m) > maxEventMessage || !strings.HasSuffix(m, " bytes cut)") || !strings.HasPrefix(m, "Left 2000 node(s)") {
		t.Errorf("event message is %d bytes (limit %d), ends %q", len(m), maxEventMessage, m[max(0, len(m)-40):])
	}
}

type messageRecorder struct{ messages []string }

func (r *messageRecorder) Eventf(_ runtime.Object, _, _, messageFmt string, args ...any) {
	r.messages = append(r.messages, fmt.Sprintf(messageFmt, args...))
}
