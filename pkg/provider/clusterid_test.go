package provider

import (
	"context"
	"regexp"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// waitID polls the source until it reports an id that satisfies ok.
func waitID(t *testing.T, c *clusterID, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, err := c.ClusterID()
		if err == nil && ok(id) {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster id = %q, %v; not the wanted one after 30s", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClusterIDFromConfigMap(t *testing.T) {
	t.Parallel()
	cm := func(data map[string]string) *v1.ConfigMap {
		return &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ingress-uid"}, Data: data}
	}
	t.Run("provider-uid wins, changes are followed, a broken map keeps the id", func(t *testing.T) {
		t.Parallel()
		client := fake.NewClientset(cm(map[string]string{"uid": "aaaa", "provider-uid": "bbbb"}))
		c := &clusterID{}
		if _, err := c.ClusterID(); err == nil {
			t.Fatal("ClusterID before the ConfigMap was read: want an error")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go c.run(ctx, client)
		waitID(t, c, func(id string) bool { return id == "bbbb" })
		if _, err := client.CoreV1().ConfigMaps("kube-system").Update(ctx, cm(map[string]string{"uid": "cccc"}), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitID(t, c, func(id string) bool { return id == "cccc" })
		if _, err := client.CoreV1().ConfigMaps("kube-system").Update(ctx, cm(nil), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			c.mu.RLock()
			broken := c.err != nil
			c.mu.RUnlock()
			if broken {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("an emptied ConfigMap was not noticed")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if id, err := c.ClusterID(); id != "cccc" || err != nil {
			t.Errorf("ClusterID after the map lost its keys = %q, %v; want the known id kept", id, err)
		}
	})
	t.Run("created when missing", func(t *testing.T) {
		t.Parallel()
		client := fake.NewClientset()
		c := &clusterID{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go c.run(ctx, client)
		id := waitID(t, c, func(string) bool { return true })
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
			t.Errorf("created id %q, want 16 hex characters (8 random bytes) as the long-standing provider makes", id)
		}
		got, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "ingress-uid", metav1.GetOptions{})
		if err != nil || got.Data["uid"] != id || got.Data["provider-uid"] != id {
			t.Errorf("ConfigMap = %+v, %v; want uid and provider-uid %s", got, err, id)
		}
	})
}
