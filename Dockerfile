# gce-ccm images for people who build with Docker (BuildKit). The layout is
# the one `make image` builds without an engine (hack/image, which is what
# the tests build and check): one static binary on an empty base, run as
# 65532:65532, no shell, no OS; root certificates are compiled into the
# manager (golang.org/x/crypto/x509roots/fallback).
#
#   docker build -t gce-cloud-controller-manager:$(git describe --tags --always --dirty) \
#     --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker build --target fake-compute -t fake-compute:dev .
#
# VERSION must be a semantic version (v1.2.3...) for the manager to start;
# hack/image turns a bare commit tag into v0.0.0-dev+TAG, do the same here.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETARCH
ARG VERSION=v0.0.0-dev+docker
ARG COMMIT=unknown
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X k8s.io/component-base/version.gitVersion=${VERSION} -X k8s.io/component-base/version.gitCommit=${COMMIT}" \
      -o /out/gce-cloud-controller-manager ./cmd/gce-cloud-controller-manager && \
    CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false -ldflags "-s -w -buildid=" \
      -o /out/fake-compute ./cmd/fake-compute

FROM scratch AS fake-compute
ARG VERSION=v0.0.0-dev+docker
ARG COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/gce-ccm/gce-ccm" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.title="fake-compute"
COPY --from=build --chmod=0755 /out/fake-compute /fake-compute
USER 65532:65532
ENTRYPOINT ["/fake-compute"]

# The default (last) stage: the manager.
FROM scratch AS gce-cloud-controller-manager
ARG VERSION=v0.0.0-dev+docker
ARG COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/gce-ccm/gce-ccm" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.title="gce-cloud-controller-manager"
COPY --from=build --chmod=0755 /out/gce-cloud-controller-manager /gce-cloud-controller-manager
USER 65532:65532
ENTRYPOINT ["/gce-cloud-controller-manager"]
