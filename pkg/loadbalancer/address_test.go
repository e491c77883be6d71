package loadbalancer

import (
	"errors"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

func TestPlanAddress(t *testing.T) {
	t.Parallel()
	const lb, key = "aweb", "ns/web"
	own := func(ip, tier string) *computepb.Address {
		return &computepb.Address{Name: ptr(lb), Address: ptr(ip), NetworkTier: ptr(tier), Description: ptr(serviceDescription(key))}
	}
	user := func(ip, tier string, users ...string) *computepb.Address {
		return &computepb.Address{Name: ptr("mine"), Address: ptr(ip), NetworkTier: ptr(tier), AddressType: ptr("EXTERNAL"), Users: users}
	}
	ruleLink := "https://www.googleapis.com/compute/v1/projects/p/regions/r/forwardingRules/" + lb
	rule := func(ip, tier string) map[string]*computepb.ForwardingRule {
		return map[string]*computepb.ForwardingRule{lb: {Name: ptr(lb), IPAddress: ptr(ip), NetworkTier: ptr(tier), SelfLink: ptr(ruleLink)}}
	}
	fresh := func(tier string) *computepb.Address {
		return &computepb.Address{Name: ptr(lb), Description: ptr(serviceDescription(key)), NetworkTier: ptr(tier), AddressType: ptr("EXTERNAL")}
	}
	for _, tc := range []struct {
		name         string
		requested    string
		tier         string
		explicit     bool
		own, holder  *computepb.Address
		rules        map[string]*computepb.ForwardingRule
		want         addressPlan
		wantErrField string
	}{
		{name: "new", want: addressPlan{tier: tierPremium, reserve: fresh(tierPremium)}},
		{name: "new standard", tier: tierStandard, explicit: true, want: addressPlan{tier: tierStandard, reserve: fresh(tierStandard)}},
		{name: "own kept", own: own("1.1.1.1", tierPremium), rules: rule("1.1.1.1", tierPremium),
			want: addressPlan{ip: "1.1.1.1", tier: tierPremium}},
		{name: "own kept in its tier without the annotation", own: own("1.1.1.1", tierStandard),
			want: addressPlan{ip: "1.1.1.1", tier: tierStandard}},
		{name: "own in the wrong tier is replaced", tier: tierStandard, explicit: true, own: own("1.1.1.1", tierPremium),
			want: addressPlan{tier: tierStandard, reserve: fresh(tierStandard), replaceOwn: true}},
		{name: "ephemeral IP of an adopted rule kept", rules: rule("2.2.2.2", tierPremium), want: addressPlan{ip: "2.2.2.2", tier: tierPremium}},
		{name: "ephemeral IP in the wrong tier", tier: tierStandard, explicit: true, rules: rule("2.2.2.2", tierPremium),
			want: addressPlan{tier: tierStandard, reserve: fresh(tierStandard)}},
		{name: "user address", requested: "3.3.3.3", holder: user("3.3.3.3", tierPremium),
			want: addressPlan{ip: "3.3.3.3", tier: tierPremium, userOwned: true}},
		{name: "user address used by our rule; own released", requested: "3.3.3.3", holder: user("3.3.3.3", tierPremium, ruleLink),
			own: own("1.1.1.1", tierPremium), rules: rule("3.3.3.3", tierPremium),
			want: addressPlan{ip: "3.3.3.3", tier: tierPremium, userOwned: true, releaseOwn: true}},
		{name: "user address tier followed", requested: "3.3.3.3", holder: user("3.3.3.3", tierStandard),
			want: addressPlan{ip: "3.3.3.3", tier: tierStandard, userOwned: true}},
		{name: "requested IP is our own address", requested: "1.1.1.1", own: own("1.1.1.1", tierPremium),
			want: addressPlan{ip: "1.1.1.1", tier: tierPremium}},
		{name: "requested IP is the rule's ephemeral IP", requested: "2.2.2.2", rules: rule("2.2.2.2", tierPremium),
			want: addressPlan{ip: "2.2.2.2", tier: tierPremium}},
		{name: "user address in the wrong tier", requested: "3.3.3.3", tier: tierStandard, explicit: true,
			holder: user("3.3.3.3", tierPremium), wantErrField: "metadata.annotations[" + NetworkTierAnnotation + "]"},
		{name: "user address used by another rule", requested: "3.3.3.3",
			holder:       user("3.3.3.3", tierPremium, "https://www.googleapis.com/compute/v1/projects/p/regions/r/forwardingRules/other"),
			wantErrField: "spec.loadBalancerIP"},
		{name: "another service's address", requested: "3.3.3.3",
			holder:       &computepb.Address{Name: ptr("aother"), Address: ptr("3.3.3.3"), Description: ptr(serviceDescription("ns/other"))},
			wantErrField: "spec.loadBalancerIP"},
		{name: "internal address", requested: "3.3.3.3",
			holder:       &computepb.Address{Name: ptr("mine"), Address: ptr("3.3.3.3"), AddressType: ptr("INTERNAL")},
			wantErrField: "spec.loadBalancerIP"},
		{name: "IP not reserved", requested: "4.4.4.4", wantErrField: "spec.loadBalancerIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tier := tc.tier
			if tier == "" {
				tier = tierPremium
			}
			sp := &spec{key: key, lbName: lb, requestedIP: tc.requested, tier: tier, tierExplicit: tc.explicit}
			got, err := planAddress(sp, tc.own, tc.holder, tc.rules)
			if tc.wantErrField != "" {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field != tc.wantErrField {
					t.Fatalf("err = %v, want an InputError for %s", err, tc.wantErrField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(addressPlan{}), protocmp.Transform()); diff != "" {
				t.Errorf("planAddress (-want +got):\n%s", diff)
			}
		})
	}
}
