#!/usr/bin/env bash
# Builds the kube-apiserver, etcd and kubectl binaries the integration tests use
# and prints the directory that holds them, for GCE_CCM_TEST_BIN:
#
#   GCE_CCM_TEST_BIN="$(test/tools/build.sh)" go test ./test/integration/...
#
# The binaries live in a per-user cache outside the repository, under a key made
# of their versions, the Go version and a hash of the build flags and go.sum
# files, so later runs (and other checkouts) reuse them and any change of
# version, toolchain or flags builds into a fresh directory. Only missing
# binaries are built; each is written to a temporary name and renamed, so an
# interrupted build never leaves a half-written binary behind.
#
# Progress goes to stderr; stdout carries only the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apiserver_mod="${here}"
etcd_mod="${here}/etcd"

# Fixed build settings, independent of the caller's environment: changing any
# of them invalidates Go's build cache (a cold kube-apiserver build is about 10
# minutes), so they must be identical on every run.
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0
# These modules build alone, whatever go.work a checkout may have.
export GOWORK=off

module_version() { # dir module
	(cd "$1" && go list -m -f '{{.Version}}' "$2")
}

short_hash() {
	if command -v sha256sum >/dev/null; then
		sha256sum | cut -c1-12
	else
		shasum -a 256 | cut -c1-12
	fi
}

command -v go >/dev/null || { echo "build.sh: go is not on PATH" >&2; exit 1; }

k8s_version="$(module_version "${apiserver_mod}" k8s.io/kubernetes)"
etcd_version="$(module_version "${etcd_mod}" go.etcd.io/etcd/server/v3)"
go_version="$(cd "${apiserver_mod}" && go env GOVERSION)"
platform="$(go env GOOS)-$(go env GOARCH)"

k8s_major="${k8s_version#v}"
k8s_major="${k8s_major%%.*}"
k8s_minor="${k8s_version#v*.}"
k8s_minor="${k8s_minor%%.*}"
apiserver_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/component-base/version.gitMajor=${k8s_major} -X k8s.io/component-base/version.gitMinor=${k8s_minor}"
etcd_ldflags="-s -w"

flags_hash="$(
	{
		printf 'GOFLAGS=%s\nCGO_ENABLED=%s\n' "${GOFLAGS}" "${CGO_ENABLED}"
		printf 'apiserver=%s\netcd=%s\n' "${apiserver_ldflags}" "${etcd_ldflags}"
		cat "${apiserver_mod}/go.sum" "${etcd_mod}/go.sum"
	} | short_hash
)"
key="kube-apiserver-${k8s_version}_etcd-${etcd_version}_${go_version}_${platform}_${flags_hash}"
cache="${GCE_CCM_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/gce-ccm/tools}"
bin="${cache}/${key}/bin"
mkdir -p "${bin}"

# Serialize concurrent runs so two of them do not build the same binary twice.
if command -v flock >/dev/null; then
	exec 9>"${cache}/${key}/.lock"
	if ! flock -n 9; then
		echo "waiting for another build.sh run to finish..." >&2
		flock 9
	fi
	# Holding the lock, no other run is writing here: temporary files are
	# leftovers of a run that was killed.
	rm -f "${bin}"/.*.tmp.*
fi

tmp=""
trap '[[ -z "${tmp}" ]] || rm -f "${tmp}"' EXIT

build() { # name version estimate module-dir package ldflags [version-args]
	local name="$1" version="$2" estimate="$3" dir="$4" pkg="$5" ldflags="$6" check="${7:---version}"
	if [[ -x "${bin}/${name}" ]]; then
		return
	fi
	echo "building ${name} ${version} (first run: about ${estimate})..." >&2
	local start="${SECONDS}"
	tmp="${bin}/.${name}.tmp.$$"
	(cd "${dir}" && go build -ldflags "${ldflags}" -o "${tmp}" "${pkg}") >&2
	# shellcheck disable=SC2086 # check holds the arguments that print the version
	"${tmp}" ${check} >/dev/null
	mv -f "${tmp}" "${bin}/${name}"
	tmp=""
	echo "built ${name} ${version} in $((SECONDS - start))s" >&2
}

build etcd "${etcd_version}" "2 minutes" "${etcd_mod}" go.etcd.io/etcd/server/v3 "${etcd_ldflags}"
build kube-apiserver "${k8s_version}" "10 minutes" "${apiserver_mod}" k8s.io/kubernetes/cmd/kube-apiserver "${apiserver_ldflags}"
build kubectl "${k8s_version}" "3 minutes" "${apiserver_mod}" k8s.io/kubernetes/cmd/kubectl "${apiserver_ldflags}" "version --client"

echo "${bin}"
