// Command image builds gce-ccm's container images without a Docker engine:
// each is one layer holding one static binary on an empty base, written as
// an OCI image layout and as a tarball that docker load, podman load and
// kind load image-archive accept. `make image` runs it from the repository
// root.
//
// Builds are reproducible: the binaries are built with -trimpath and no
// VCS stamp, the layer's entries have fixed owners, modes and times, and
// every timestamp in the image is the commit time (or SOURCE_DATE_EPOCH),
// so the same commit gives the same image digest on any machine with the
// same Go toolchain.
//
// It lives in its own module so that go-containerregistry never enters the
// manager's dependency graph.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the numeric user and group the images run as (distroless's
// "nonroot"); the Deployment's securityContext asks for the same.
const User = "65532:65532"

// DefaultSource is the org.opencontainers.image.source label's default.
const DefaultSource = "https://github.com/gce-ccm/gce-ccm"

// Spec is one image: a package built into one file at Path, its entrypoint.
type Spec struct {
	// Name is the image's repository name (without registry) and the
	// base name of its outputs.
	Name string
	// Package is the main package, relative to the repository root.
	Package string
	// Path is where the binary lives in the image.
	Path string
	// Title and Description become OCI labels.
	Title, Description string
	// VersionLDFlags stamps the version into the binary (component-base's
	// version package, which --version prints).
	VersionLDFlags bool
}

// Specs are the images `make image` builds.
var Specs = []Spec{
	{
		Name: "gce-cloud-controller-manager", Package: "./cmd/gce-cloud-controller-manager", Path: "/gce-cloud-controller-manager",
		Title: "gce-cloud-controller-manager", Description: "Kubernetes cloud-controller-manager for Google Compute Engine (gce-ccm)",
		VersionLDFlags: true,
	},
	{
		Name: "fake-compute", Package: "./cmd/fake-compute", Path: "/fake-compute",
		Title: "fake-compute", Description: "gce-ccm's fake of the Compute Engine v1 REST API and the GCE metadata server, for tests",
	},
}

// Options configure a build.
type Options struct {
	// Root is the gce-ccm repository to build from.
	Root string
	// Out is the directory the outputs go to (bin/image).
	Out string
	// Registry prefixes the image names, e.g. "ghcr.io/me"; empty for
	// plain names such as gce-cloud-controller-manager:TAG.
	Registry string
	// Tag is the image tag; default `git describe --tags --always --dirty`.
	Tag string
	// Commit is the full revision; default `git rev-parse HEAD`.
	Commit string
	// Dirty says the work tree differs from Commit; default from git.
	Dirty bool
	// Epoch is every timestamp in the images; default SOURCE_DATE_EPOCH,
	// else the commit time.
	Epoch time.Time
	// Source is the org.opencontainers.image.source label.
	Source string
	// Arch is the GOARCH to build for; default the host's.
	Arch string
	// Specs are the images to build; default Specs.
	Specs []Spec
	// Log receives progress lines; nil for none.
	Log io.Writer
}

// Result is one built image.
type Result struct {
	Spec Spec
	// Repo is the image name without tag, as given (Registry/Spec.Name).
	Repo    string
	Ref     name.Tag
	Digest  v1.Hash
	Layout  string // OCI image layout directory
	Tarball string // docker load / podman load / kind load image-archive
	Image   v1.Image
	// OverlayDir is the kustomize overlay's directory, relative to the
	// repository root when inside it.
	OverlayDir string
}

func main() {
	var o Options
	var epoch string
	flag.StringVar(&o.Root, "root", ".", "the gce-ccm repository")
	flag.StringVar(&o.Out, "out", "bin/image", "output directory")
	flag.StringVar(&o.Registry, "registry", "", "registry and path to prefix image names with, e.g. ghcr.io/me (default: none)")
	flag.StringVar(&o.Tag, "tag", "", "image tag (default: git describe --tags --always --dirty)")
	flag.StringVar(&epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every timestamp in the image (default: $SOURCE_DATE_EPOCH, else the commit time)")
	flag.StringVar(&o.Source, "source", DefaultSource, "org.opencontainers.image.source label")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH to build for")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "image: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil || sec < 0 {
			fmt.Fprintf(os.Stderr, "image: source date epoch %q is not a Unix time in seconds\n", epoch)
			os.Exit(2)
		}
		o.Epoch = time.Unix(sec, 0).UTC()
	}
	o.Log = os.Stderr
	results, err := Build(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
	for _, r := range results {
		fmt.Printf("%s@%s\n  layout:  %s\n  tarball: %s\n", r.Ref, r.Digest, r.Layout, r.Tarball)
	}
	fmt.Printf("deploy it: kubectl apply -k %s\n", results[0].OverlayDir)
}

// Build builds every image of o.Specs and writes their outputs and a
// kustomize overlay (Out/kustomization.yaml) that deploys manifests/ with
// the manager image just built.
func Build(ctx context.Context, o Options) ([]Result, error) {
	if err := o.complete(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "gce-ccm-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var results []Result
	for _, s := range o.Specs {
		r, err := buildOne(ctx, o, s, work)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		results = append(results, r)
	}
	if err := writeOverlay(o, results); err != nil {
		return nil, err
	}
	dir := o.Out
	if rel, err := filepath.Rel(o.Root, o.Out); err == nil && !strings.HasPrefix(rel, "..") {
		dir = rel
	}
	for i := range results {
		results[i].OverlayDir = dir
	}
	return results, nil
}

// complete fills the defaults from git.
func (o *Options) complete(ctx context.Context) error {
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	if o.Out == "" {
		o.Out = filepath.Join(root, "bin", "image")
	}
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return err
	}
	if o.Specs == nil {
		o.Specs = Specs
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Commit == "" {
		if o.Commit, err = git(ctx, root, "rev-parse", "HEAD"); err != nil {
			return err
		}
		// Untracked files do not go into a build from a clone; changes
		// to tracked ones do.
		st, err := git(ctx, root, "status", "--porcelain", "--untracked-files=no")
		if err != nil {
			return err
		}
		o.Dirty = st != ""
	}
	if o.Tag == "" {
		if o.Tag, err = git(ctx, root, "describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	if !validTag.MatchString(o.Tag) {
		return fmt.Errorf("tag %q is not a valid image tag (letters, digits, '_', '.', '-', at most 128, not beginning with '.' or '-')", o.Tag)
	}
	if o.Epoch.IsZero() {
		ct, err := git(ctx, root, "log", "-1", "--format=%ct", o.Commit)
		if err != nil {
			return err
		}
		sec, err := strconv.ParseInt(ct, 10, 64)
		if err != nil {
			return fmt.Errorf("commit time %q: %w", ct, err)
		}
		o.Epoch = time.Unix(sec, 0).UTC()
	}
	return nil
}

var validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Version is the version the manager reports for a tag. component-base
// parses it as a semantic version at start-up, so a tag that is not one
// (no release tag yet: a bare commit hash) becomes v0.0.0-dev+TAG.
func Version(tag string) string {
	if semver.MatchString(tag) {
		return tag
	}
	return "v0.0.0-dev+" + strings.NewReplacer("_", "-").Replace(tag)
}

// semver is what component-base's version parser accepts that git describe
// can produce: vMAJOR.MINOR.PATCH, optionally followed by -ANYTHING.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

func buildOne(ctx context.Context, o Options, s Spec, work string) (Result, error) {
	res := Result{Spec: s}
	ref := s.Name + ":" + o.Tag
	if o.Registry != "" {
		ref = strings.TrimSuffix(o.Registry, "/") + "/" + ref
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return res, fmt.Errorf("image name %q: %w", ref, err)
	}
	res.Ref = tag
	res.Repo = strings.TrimSuffix(ref, ":"+o.Tag)
	bin := filepath.Join(work, s.Name)
	logf(o.Log, "building %s (%s, linux/%s)", s.Package, Version(o.Tag), o.Arch)
	if err := goBuild(ctx, o, s, bin); err != nil {
		return res, err
	}
	layer, err := binaryLayer(bin, s.Path, o.Epoch)
	if err != nil {
		return res, err
	}
	img, err := assemble(o, s, layer)
	if err != nil {
		return res, err
	}
	res.Image = img
	if res.Digest, err = img.Digest(); err != nil {
		return res, err
	}
	res.Layout = filepath.Join(o.Out, s.Name)
	if err := writeLayout(res.Layout, img, o.Tag); err != nil {
		return res, fmt.Errorf("write OCI layout: %w", err)
	}
	res.Tarball = filepath.Join(o.Out, s.Name+".tar")
	if err := tarball.WriteToFile(res.Tarball, tag, img); err != nil {
		return res, fmt.Errorf("write tarball: %w", err)
	}
	return res, nil
}

// goBuild builds a static binary that carries no path or VCS state of the
// machine that built it.
func goBuild(ctx context.Context, o Options, s Spec, out string) error {
	ldflags := []string{"-s", "-w", "-buildid="}
	if s.VersionLDFlags {
		state := "clean"
		if o.Dirty {
			state = "dirty"
		}
		const pkg = "k8s.io/component-base/version"
		ldflags = append(ldflags,
			"-X", pkg+".gitVersion="+Version(o.Tag),
			"-X", pkg+".gitCommit="+o.Commit,
			"-X", pkg+".gitTreeState="+state,
			"-X", pkg+".buildDate="+o.Epoch.Format(time.RFC3339))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", strings.Join(ldflags, " "), "-o", out, s.Package)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch, "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", s.Package, err, stderr.String())
	}
	return nil
}

// binaryLayer is a layer with exactly one entry: the file at inImage, owned
// by root, mode 0755, modified at mtime.
func binaryLayer(file, inImage string, mtime time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(inImage, "/"),
		Mode:     0o755,
		Size:     int64(len(data)),
		ModTime:  mtime,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerTar := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// assemble puts the layer on an empty OCI image and sets its config.
func assemble(o Options, s Spec, layer v1.Layer) (v1.Image, error) {
	created := v1.Time{Time: o.Epoch}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: " + s.Package + " at " + s.Path,
			Comment:   "static binary, CGO_ENABLED=0 -trimpath",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = o.Arch
	cf.OS = "linux"
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint: []string{s.Path},
		User:       User,
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.source":      o.Source,
			"org.opencontainers.image.version":     o.Tag,
			"org.opencontainers.image.revision":    o.Commit,
			"org.opencontainers.image.created":     o.Epoch.Format(time.RFC3339),
			"org.opencontainers.image.title":       s.Title,
			"org.opencontainers.image.description": s.Description,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// writeLayout replaces dir with an OCI image layout holding img, its
// reference name annotated as the OCI spec says.
func writeLayout(dir string, img v1.Image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	}))
}

// Overlay is the kustomization `make image` writes next to the images: the
// base in manifests/ with the manager image just built.
func Overlay(o Options, manager Result) string {
	rel, err := filepath.Rel(o.Out, filepath.Join(o.Root, "manifests"))
	if err != nil {
		rel = filepath.Join(o.Root, "manifests")
	}
	return fmt.Sprintf(`# Written by make image (hack/image): manifests/ with the image it built.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
images:
  - name: gce-cloud-controller-manager
    newName: %s
    newTag: %s
`, filepath.ToSlash(rel), manager.Repo, manager.Ref.TagStr())
}

func writeOverlay(o Options, results []Result) error {
	for _, r := range results {
		if r.Spec.Name == "gce-cloud-controller-manager" {
			return os.WriteFile(filepath.Join(o.Out, "kustomization.yaml"), []byte(Overlay(o, r)), 0o644)
		}
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "image: "+format+"\n", args...)
	}
}
