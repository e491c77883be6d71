package loadbalancer

// WaitForReleases waits for the address releases b runs in the background,
// so that a test can look at what they left.
func WaitForReleases(b *Balancer) { b.releases.waitAll() }
