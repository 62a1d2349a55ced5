# syntax=docker/dockerfile:1
#
# Gatehouse as a static binary on a distroless base, run as a non-root user.
#
#   docker build -t gatehouse .
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro" \
#     -v gatehouse-data:/var/lib/gatehouse \
#     -e GATEHOUSE_SECRET gatehouse
#
# The configuration must listen on all interfaces inside the container
# (listen: 0.0.0.0:8080) and keep its SQLite file under the volume
# (storage: sqlite:/var/lib/gatehouse/gatehouse.db), or point at PostgreSQL.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary is static and
# runs on an image without a C library. -trimpath keeps build paths out of
# the binary. The build context has no .git (.dockerignore), so VCS stamping
# is off and `gatehouse version` says no revision was recorded; pass
# --build-arg VERSION=v1.2.3 to name the version.
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The state directory for the SQLite file, owned by the nonroot user
# (uid 65532): distroless has no shell to create it at run time.
COPY --from=build --chown=65532:65532 /out/data /var/lib/gatehouse
WORKDIR /var/lib/gatehouse
VOLUME /var/lib/gatehouse
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/gatehouse.yaml"]
