package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// built is the build every test reads: made once, in TestMain, from a clone
// of the repository's HEAD (the commit, not whatever else is in the work
// tree), as `make image` would on a fresh clone.
var built struct {
	// commit is the HEAD every build of the test checks out (others may
	// commit to the repository meanwhile).
	commit  string
	opts    Options
	results map[string]Result
	err     error
}

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "gce-ccm-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	built.commit, built.err = git(context.Background(), ".", "rev-parse", "HEAD")
	if built.err == nil {
		built.opts, built.results, built.err = buildClone(tmp, "first")
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// buildClone clones the repository into dir/NAME, checks out built.commit
// and builds the images from it into dir/NAME-out.
func buildClone(dir, name string) (Options, map[string]Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	top, err := git(ctx, ".", "rev-parse", "--show-toplevel")
	if err != nil {
		return Options{}, nil, err
	}
	src := filepath.Join(dir, name)
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", "--shared", top, src).CombinedOutput(); err != nil {
		return Options{}, nil, fmt.Errorf("git clone: %w: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", src, "checkout", "--quiet", "--detach", built.commit).CombinedOutput(); err != nil {
		return Options{}, nil, fmt.Errorf("git checkout %s: %w: %s", built.commit, err, out)
	}
	o := Options{Root: src, Out: filepath.Join(dir, name+"-out"), Log: os.Stderr}
	rs, err := Build(ctx, o)
	if err != nil {
		return o, nil, err
	}
	if err := o.complete(ctx); err != nil { // the defaults Build used
		return o, nil, err
	}
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Spec.Name] = r
	}
	return o, m, nil
}

func result(t *testing.T, name string) Result {
	t.Helper()
	if built.err != nil {
		t.Fatalf("build: %v", built.err)
	}
	r, ok := built.results[name]
	if !ok {
		t.Fatalf("no image %s built", name)
	}
	return r
}

// fromLayout reads the image back from the OCI layout on disk.
func fromLayout(t *testing.T, r Result) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(r.Layout)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("layout index has %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", d.MediaType, types.OCIManifestSchema1)
	}
	if got := d.Annotations["org.opencontainers.image.ref.name"]; got != built.opts.Tag {
		t.Errorf("ref.name annotation %q, want %q", got, built.opts.Tag)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fromTarball reads the image back from the docker-loadable tarball.
func fromTarball(t *testing.T, r Result) v1.Image {
	t.Helper()
	tag := r.Ref
	img, err := tarball.ImageFromPath(r.Tarball, &tag)
	if err != nil {
		t.Fatalf("read %s as %s: %v", r.Tarball, tag, err)
	}
	return img
}

func TestImageConfig(t *testing.T) {
	for _, s := range Specs {
		t.Run(s.Name, func(t *testing.T) {
			r := result(t, s.Name)
			img := fromLayout(t, r)
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d != r.Digest {
				t.Errorf("layout digest %s, build said %s", d, r.Digest)
			}
			if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
				t.Errorf("media type %s", mt)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("config media type %s", m.Config.MediaType)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cf.Config.Entrypoint, []string{s.Path}) || len(cf.Config.Cmd) != 0 {
				t.Errorf("entrypoint %q cmd %q, want [%s] and none", cf.Config.Entrypoint, cf.Config.Cmd, s.Path)
			}
			if cf.Config.User != "65532:65532" {
				t.Errorf("user %q, want 65532:65532", cf.Config.User)
			}
			if cf.OS != "linux" || cf.Architecture != built.opts.Arch {
				t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
			}
			if !cf.Created.Time.Equal(built.opts.Epoch) {
				t.Errorf("created %s, want the commit time %s", cf.Created.Time, built.opts.Epoch)
			}
			want := map[string]string{
				"org.opencontainers.image.source":   DefaultSource,
				"org.opencontainers.image.version":  built.opts.Tag,
				"org.opencontainers.image.revision": built.opts.Commit,
			}
			for k, v := range want {
				if cf.Config.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
				}
			}
			if len(built.opts.Commit) != 40 {
				t.Errorf("revision %q is not a full commit id", built.opts.Commit)
			}
			if r.Ref.TagStr() != built.opts.Tag || built.opts.Tag == "" {
				t.Errorf("tag %q, options say %q", r.Ref.TagStr(), built.opts.Tag)
			}
		})
	}
}

// TestImageTag checks the tag is git describe's for the commit built.
func TestImageTag(t *testing.T) {
	r := result(t, "gce-cloud-controller-manager")
	want, err := git(t.Context(), built.opts.Root, "describe", "--tags", "--always", "--dirty")
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref.TagStr() != want {
		t.Errorf("tag %q, git describe says %q", r.Ref.TagStr(), want)
	}
	if strings.HasSuffix(want, "-dirty") {
		t.Errorf("a fresh clone is dirty: %q", want)
	}
}

// layerFiles returns the only layer's entries and the content of the
// regular files.
func layerFiles(t *testing.T, img v1.Image) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer && mt != types.DockerLayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hdrs []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
	return hdrs, files
}

func TestImageLayers(t *testing.T) {
	for _, s := range Specs {
		t.Run(s.Name, func(t *testing.T) {
			r := result(t, s.Name)
			hdrs, files := layerFiles(t, fromLayout(t, r))
			if len(hdrs) != 1 {
				var names []string
				for _, h := range hdrs {
					names = append(names, h.Name)
				}
				t.Fatalf("layer holds %q, want exactly %s", names, s.Path)
			}
			h := hdrs[0]
			if "/"+h.Name != s.Path || h.Typeflag != tar.TypeReg {
				t.Errorf("entry %q type %c, want regular file %s", h.Name, h.Typeflag, s.Path)
			}
			if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("entry mode %o owner %d:%d (%q:%q), want 0755 0:0", h.Mode, h.Uid, h.Gid, h.Uname, h.Gname)
			}
			if !h.ModTime.Equal(built.opts.Epoch) {
				t.Errorf("entry mtime %s, want %s", h.ModTime, built.opts.Epoch)
			}
			if len(h.PAXRecords) != 0 {
				t.Errorf("PAX records %v (they may carry build machine state)", h.PAXRecords)
			}
			checkStatic(t, files[h.Name])
		})
	}
}

// checkStatic fails unless the binary is a static Linux executable: no
// program interpreter and no shared libraries.
func checkStatic(t *testing.T, bin []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a program interpreter: dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %q", libs)
	}
}

// TestTarballRoundTrip reads the docker-loadable tarball back and finds
// the same image as the layout: same config and layer, tagged as built.
func TestTarballRoundTrip(t *testing.T) {
	for _, s := range Specs {
		t.Run(s.Name, func(t *testing.T) {
			r := result(t, s.Name)
			fromTar, fromLay := fromTarball(t, r), fromLayout(t, r)
			for _, f := range []func(v1.Image) (v1.Hash, error){v1.Image.ConfigName} {
				a, err := f(fromTar)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := f(fromLay)
				if a != b {
					t.Errorf("config %s in the tarball, %s in the layout", a, b)
				}
			}
			la, _ := fromTar.Layers()
			lb, _ := fromLay.Layers()
			if len(la) != 1 || len(lb) != 1 {
				t.Fatalf("layers: %d in the tarball, %d in the layout", len(la), len(lb))
			}
			da, _ := la[0].Digest()
			db, _ := lb[0].Digest()
			if da != db {
				t.Errorf("layer %s in the tarball, %s in the layout", da, db)
			}
			m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(r.Tarball) })
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 || len(m[0].RepoTags) != 1 {
				t.Fatalf("tarball manifest.json: %+v", m)
			}
			tag, err := name.NewTag(m[0].RepoTags[0])
			if err != nil {
				t.Fatal(err)
			}
			if tag.String() != r.Ref.String() || tag.TagStr() != built.opts.Tag {
				t.Errorf("tarball tagged %s, want %s", tag, r.Ref)
			}
		})
	}
}

// extract writes the image's binary to a temporary file, from the tarball
// (what docker load would run).
func extract(t *testing.T, s Spec) string {
	t.Helper()
	_, files := layerFiles(t, fromTarball(t, result(t, s.Name)))
	b, ok := files[strings.TrimPrefix(s.Path, "/")]
	if !ok {
		t.Fatalf("no %s in the image", s.Path)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(s.Path))
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func spec(name string) Spec {
	for _, s := range Specs {
		if s.Name == name {
			return s
		}
	}
	panic(name)
}

func TestManagerVersion(t *testing.T) {
	bin := extract(t, spec("gce-cloud-controller-manager"))
	out, err := exec.CommandContext(t.Context(), bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	want := Version(built.opts.Tag)
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, " "+want) {
		t.Errorf("--version printed %q, want it to end in %q", got, want)
	}
}

func TestFakeAnswers(t *testing.T) {
	bin := extract(t, spec("fake-compute"))
	urlFile := filepath.Join(t.TempDir(), "url")
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-url-file", urlFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var url string
	deadline := time.Now().Add(time.Minute)
	for url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the fake wrote no URL in a minute; stderr:\n%s", stderr.String())
		}
		if b, err := os.ReadFile(urlFile); err == nil {
			url = strings.TrimSpace(string(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(url + "/compute/v1/projects/fake-project/zones")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"us-central1-a"`) {
		t.Errorf("GET zones: %s\n%s", resp.Status, body)
	}
}

// TestReproducible builds again from a second clone in another directory:
// the same commit must give the same digests and byte-identical outputs.
func TestReproducible(t *testing.T) {
	if built.err != nil {
		t.Fatalf("build: %v", built.err)
	}
	o, again, err := buildClone(t.TempDir(), "second")
	if err != nil {
		t.Fatal(err)
	}
	if o.Commit != built.opts.Commit || o.Tag != built.opts.Tag {
		t.Fatalf("second build of %s (%s), first of %s (%s)", o.Commit, o.Tag, built.opts.Commit, built.opts.Tag)
	}
	for _, s := range Specs {
		a, b := built.results[s.Name], again[s.Name]
		if a.Digest != b.Digest {
			t.Errorf("%s: digest %s, then %s", s.Name, a.Digest, b.Digest)
		}
		if ha, hb := fileHash(t, a.Tarball), fileHash(t, b.Tarball); ha != hb {
			t.Errorf("%s: tarball sha256 %s, then %s", s.Name, ha, hb)
		}
		if ha, hb := fileHash(t, filepath.Join(a.Layout, "index.json")), fileHash(t, filepath.Join(b.Layout, "index.json")); ha != hb {
			t.Errorf("%s: layout index.json sha256 %s, then %s", s.Name, ha, hb)
		}
	}
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestOverlay renders the overlay `make image` writes with the real
// kubectl (kustomize): the Deployment must run the image just built.
func TestOverlay(t *testing.T) {
	r := result(t, "gce-cloud-controller-manager")
	dir := os.Getenv("GCE_CCM_TEST_BIN")
	if dir == "" {
		t.Fatal(`GCE_CCM_TEST_BIN is not set: run GCE_CCM_TEST_BIN="$(test/tools/build.sh)" go test (make test-modules does)`)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(dir, "kubectl"), "kustomize", built.opts.Out).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", built.opts.Out, err, out)
	}
	want := "gce-cloud-controller-manager:" + built.opts.Tag
	var images []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "image: "); ok {
			images = append(images, v)
		}
	}
	if !slices.Equal(images, []string{want}) {
		t.Errorf("rendered images %q, want [%s]\n%s", images, want, out)
	}
	if r.Repo+":"+r.Ref.TagStr() != want {
		t.Errorf("built %s:%s", r.Repo, r.Ref.TagStr())
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct{ tag, want string }{
		{"v1.2.3", "v1.2.3"},
		{"v1.2.3-4-gabcdef0", "v1.2.3-4-gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", "v1.2.3-4-gabcdef0-dirty"},
		{"48d8630", "v0.0.0-dev+48d8630"},
		{"0123456-dirty", "v0.0.0-dev+0123456-dirty"},
		{"release_1", "v0.0.0-dev+release-1"},
		{"v1.2", "v0.0.0-dev+v1.2"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			if got := Version(tc.tag); got != tc.want {
				t.Errorf("Version(%q) = %q, want %q", tc.tag, got, tc.want)
			}
		})
	}
}

// TestDockerfileSameLayout checks that the Dockerfile's final stage gives
// the manager the layout hack/image builds: the binary alone on scratch at
// the same path, the same user and entrypoint.
func TestDockerfileSameLayout(t *testing.T) {
	top, err := git(t.Context(), ".", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(top, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var final []string // instructions of the last stage
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			final = nil
		}
		final = append(final, strings.Join(strings.Fields(line), " "))
	}
	s := spec("gce-cloud-controller-manager")
	var copies []string
	for _, in := range final {
		if strings.HasPrefix(in, "COPY ") {
			copies = append(copies, in)
		}
	}
	if len(final) == 0 || !strings.HasPrefix(final[0], "FROM scratch") {
		t.Errorf("the Dockerfile's final stage is not FROM scratch: %q", final)
	}
	for _, want := range []string{
		"USER " + User,
		`ENTRYPOINT ["` + s.Path + `"]`,
	} {
		if !slices.Contains(final, want) {
			t.Errorf("the Dockerfile's final stage lacks %q:\n%s", want, strings.Join(final, "\n"))
		}
	}
	if len(copies) != 1 || !strings.HasSuffix(copies[0], " "+s.Path) || !strings.Contains(copies[0], "--chmod=0755") {
		t.Errorf("the final stage must copy exactly the binary to %s with mode 0755, has %q", s.Path, copies)
	}
}
