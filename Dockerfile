# syntax=docker/dockerfile:1
# licensed and licensectl in a small image. Build: docker build -t flowlytix/licensed .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/licensed ./cmd/licensectl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/licensed /out/licensectl /usr/local/bin/
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
