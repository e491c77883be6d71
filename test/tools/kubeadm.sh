#!/usr/bin/env bash
# Builds the kubeadm binary that the deploy/byo test runs (`kubeadm config
# validate`) and prints the directory that holds it, for GCE_CCM_KUBEADM_BIN:
#
#   GCE_CCM_KUBEADM_BIN="$(test/tools/kubeadm.sh)" go test ./deploy/byo/...
#
# kubeadm comes from k8s.io/kubernetes at the version ./go.mod pins for
# kube-apiserver, built from its own module (./kubeadm) into its own cache
# directory, under a key of that version, the Go version and a hash of this
# script's build flags and ./kubeadm/go.sum. build.sh, its key and its cache are
# not touched. The binary is written to a temporary name and renamed, so an
# interrupted build never leaves a half-written binary behind.
#
# Progress goes to stderr; stdout carries only the bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="${here}/kubeadm"

# Same fixed settings as build.sh, so Go's build cache is shared with the
# kube-apiserver build and a kubeadm build after it compiles little.
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0
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

command -v go >/dev/null || { echo "kubeadm.sh: go is not on PATH" >&2; exit 1; }

k8s_version="$(module_version "${mod}" k8s.io/kubernetes)"
apiserver_version="$(module_version "${here}" k8s.io/kubernetes)"
if [[ "${k8s_version}" != "${apiserver_version}" ]]; then
	echo "kubeadm.sh: test/tools/kubeadm pins k8s.io/kubernetes ${k8s_version} but test/tools pins ${apiserver_version}; keep them equal" >&2
	exit 1
fi
go_version="$(cd "${mod}" && go env GOVERSION)"
platform="$(go env GOOS)-$(go env GOARCH)"

k8s_major="${k8s_version#v}"
k8s_major="${k8s_major%%.*}"
k8s_minor="${k8s_version#v*.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/component-base/version.gitMajor=${k8s_major} -X k8s.io/component-base/version.gitMinor=${k8s_minor}"

flags_hash="$(
	{
		printf 'GOFLAGS=%s\nCGO_ENABLED=%s\n' "${GOFLAGS}" "${CGO_ENABLED}"
		printf 'kubeadm=%s\n' "${ldflags}"
		cat "${mod}/go.sum"
	} | short_hash
)"
key="kubeadm-${k8s_version}_${go_version}_${platform}_${flags_hash}"
cache="${GCE_CCM_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/gce-ccm/tools}"
bin="${cache}/${key}/bin"
mkdir -p "${bin}"

if [[ -x "${bin}/kubeadm" ]]; then
	echo "${bin}"
	exit 0
fi

# Serialize concurrent runs so two of them do not build the binary twice.
if command -v flock >/dev/null; then
	exec 9>"${cache}/${key}/.lock"
	if ! flock -n 9; then
		echo "waiting for another kubeadm.sh run to finish..." >&2
		flock 9
	fi
	rm -f "${bin}"/.*.tmp.*
fi

tmp=""
trap '[[ -z "${tmp}" ]] || rm -f "${tmp}"' EXIT

if [[ ! -x "${bin}/kubeadm" ]]; then
	echo "building kubeadm ${k8s_version} (first run: a few minutes)..." >&2
	start="${SECONDS}"
	tmp="${bin}/.kubeadm.tmp.$$"
	(cd "${mod}" && go build -ldflags "${ldflags}" -o "${tmp}" k8s.io/kubernetes/cmd/kubeadm) >&2
	"${tmp}" version -o short >/dev/null
	mv -f "${tmp}" "${bin}/kubeadm"
	tmp=""
	echo "built kubeadm ${k8s_version} in $((SECONDS - start))s" >&2
fi

echo "${bin}"
