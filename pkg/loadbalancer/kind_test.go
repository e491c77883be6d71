package loadbalancer

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestServiceKindInternalWins: when the two type annotation keys disagree,
// the Service gets the internal load balancer one of them asks for (a
// FuzzParseService finding: the current key's External hid the deprecated
// key's Internal, as in the long-standing provider).
func TestServiceKindInternalWins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        kind
		wantErr     bool
	}{
		{name: "none", want: kindExternal},
		{name: "current internal", annotations: map[string]string{TypeAnnotation: "Internal"}, want: kindInternal},
		{name: "deprecated internal", annotations: map[string]string{DeprecatedTypeAnnotation: "internal"}, want: kindInternal},
		{name: "current external, deprecated internal", annotations: map[string]string{TypeAnnotation: "External", DeprecatedTypeAnnotation: "Internal"}, want: kindInternal},
		{name: "current internal, deprecated external", annotations: map[string]string{TypeAnnotation: "Internal", DeprecatedTypeAnnotation: "External"}, want: kindInternal},
		{name: "current bogus, deprecated internal", annotations: map[string]string{TypeAnnotation: "bogus", DeprecatedTypeAnnotation: "Internal"}, want: kindInternal, wantErr: true},
		{name: "bogus", annotations: map[string]string{DeprecatedTypeAnnotation: "bogus"}, want: kindExternal, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := serviceKind(testService(func(s *v1.Service) { s.Annotations = tc.annotations }))
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("serviceKind = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
