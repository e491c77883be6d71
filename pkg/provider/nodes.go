package provider

import (
	"errors"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	cloudprovider "k8s.io/cloud-provider"
)

// nodeLister gives pkg/routes the manager's node informer, which exists
// only once the manager has called SetInformers (before any controller
// starts).
type nodeLister struct {
	lister atomic.Pointer[corelisters.NodeLister]
}

// List lists nodes from the informer's cache.
func (n *nodeLister) List(sel labels.Selector) ([]*v1.Node, error) {
	l := n.lister.Load()
	if l == nil {
		return nil, errors.New("the node informer is not set up yet")
	}
	return (*l).List(sel)
}

var _ cloudprovider.InformerUser = (*Provider)(nil)

// SetInformers is called by the manager before the controllers start: the
// routes map a route's VM back to its Node through the node informer.
func (p *Provider) SetInformers(f informers.SharedInformerFactory) {
	l := f.Core().V1().Nodes().Lister()
	p.nodes.lister.Store(&l)
}
