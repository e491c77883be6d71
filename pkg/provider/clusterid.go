package provider

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// The cluster id of the long-standing GCE provider (and of GKE's ingress
// controller), which names the resources that a cluster's load balancers
// share. It is kept in a ConfigMap so that every controller of the cluster,
// and every replica, agrees on it; the cluster name would not do, since
// many clusters keep the default name "kubernetes" and would then share,
// and overwrite, one another's health check firewall.
const (
	clusterIDNamespace = "kube-system"
	clusterIDConfigMap = "ingress-uid"
	// clusterIDKeyProvider wins over clusterIDKeyUID when both are set.
	clusterIDKeyProvider = "provider-uid"
	clusterIDKeyUID      = "uid"
)

// errClusterIDUnknown is returned until the ConfigMap has been read.
var errClusterIDUnknown = errors.New("the cluster id is not known yet: ConfigMap " + clusterIDNamespace + "/" + clusterIDConfigMap + " has not been read")

// clusterID follows the ConfigMap. It is a loadbalancer.ClusterIDSource.
type clusterID struct {
	mu  sync.RWMutex
	id  string
	err error
}

// ClusterID returns the id, or why it is not known.
func (c *clusterID) ClusterID() (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.id == "" {
		return "", cmp.Or(c.err, errClusterIDUnknown)
	}
	return c.id, nil
}

func (c *clusterID) set(id string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Keep a known id: a ConfigMap that someone broke must not rename
		// the cluster's resources.
		c.err = err
		return
	}
	c.id, c.err = id, nil
}

// idOf reads the id from the ConfigMap's data as the long-standing provider
// does.
func idOf(cm *v1.ConfigMap) (string, error) {
	if id := cm.Data[clusterIDKeyProvider]; id != "" {
		return id, nil
	}
	if id := cm.Data[clusterIDKeyUID]; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("ConfigMap %s/%s has neither %q nor %q; set one of them to the cluster id", clusterIDNamespace, clusterIDConfigMap,
		clusterIDKeyProvider, clusterIDKeyUID)
}

// newClusterIDValue makes a new id: 8 random bytes in hex, as the
// long-standing provider makes it.
func newClusterIDValue() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// run watches the ConfigMap until ctx ends, creating it when it does not
// exist.
func (c *clusterID) run(ctx context.Context, client kubernetes.Interface) {
	logger := klog.FromContext(ctx).WithValues("configMap", klog.KRef(clusterIDNamespace, clusterIDConfigMap))
	// One ConfigMap, by name: RBAC grants list and watch of that name only.
	selector := fields.OneTermEqualSelector("metadata.name", clusterIDConfigMap).String()
	cms := client.CoreV1().ConfigMaps(clusterIDNamespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return cms.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return cms.Watch(ctx, o)
		},
	}
	observe := func(obj any) {
		cm, ok := obj.(*v1.ConfigMap)
		if !ok {
			return
		}
		id, err := idOf(cm)
		if err != nil {
			logger.Error(err, "Cannot read the cluster id")
		} else {
			logger.V(2).Info("Cluster id", "clusterID", id)
		}
		c.set(id, err)
	}
	informer := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), &v1.ConfigMap{}, 0, cache.Indexers{})
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		c.set("", err)
		return
	}
	go informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return
	}
	if len(informer.GetStore().List()) > 0 {
		return
	}
	// Missing: create it, retrying until it exists. The informer then
	// reports it (ours, or one that another controller made first).
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		err := c.create(ctx, client)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return
		}
		logger.Error(err, "Cannot create the cluster id ConfigMap; retrying", "delay", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func (c *clusterID) create(ctx context.Context, client kubernetes.Interface) error {
	id, err := newClusterIDValue()
	if err != nil {
		return err
	}
	cm := &v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: clusterIDNamespace, Name: clusterIDConfigMap},
		Data:       map[string]string{clusterIDKeyUID: id, clusterIDKeyProvider: id},
	}
	_, err = client.CoreV1().ConfigMaps(clusterIDNamespace).Create(ctx, cm, metav1.CreateOptions{})
	if err == nil {
		klog.FromContext(ctx).Info("Created the cluster id", "configMap", klog.KObj(cm), "clusterID", id)
	}
	return err
}
