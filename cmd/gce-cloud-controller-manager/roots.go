package main

// The image (make image, Dockerfile) has no operating system and so no CA
// bundle; these roots, Mozilla's as curated by the Go team, are used only
// when the system has none, so that TLS to the Google APIs works there too.
// Compiled in rather than copied from the build machine, they keep the image
// reproducible and the Dockerfile's scratch stage as bare as hack/image's.
import _ "golang.org/x/crypto/x509roots/fallback"
