# syntax=docker/dockerfile:1
# licensed and licensectl in a small image. Build: docker build -t flowlytix/licensed .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/licensed ./cmd/licensectl
# The volumes' mount points, owned by the image's non-root user (65532), so
# that a fresh volume is writable: licensed creates keys and the database.
RUN mkdir -p /rootfs/data /rootfs/keys && chown -R 65532:65532 /rootfs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/licensed /out/licensectl /usr/local/bin/
COPY --from=build --chown=65532:65532 /rootfs/ /
# Keys and the SQLite database live under /data; mount a volume there.
ENV LICENSED_ADDR=0.0.0.0:8080 \
    LICENSED_DB=/data/licensing.db \
    LICENSED_KEYS=/data/keys \
    LICENSED_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/licensed"]
CMD ["serve"]
