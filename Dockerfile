# Multi-stage build: compile with the Rust toolchain (profile `production`: everything
# fully optimised), run on a small Debian image as a non-root user. The embedded
# database lives on the /data volume unless CFLOWS_DATABASE__URL points at a SurrealDB
# server.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile production --locked --bin cflows && cp target/production/cflows /cflows

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data cflows \
    && mkdir -p /data/files && chown -R cflows /data
COPY --from=build /cflows /usr/local/bin/cflows
USER cflows
WORKDIR /data
ENV CFLOWS_HTTP__ADDR=0.0.0.0:8080 \
    CFLOWS_DATA_DIR=/data \
    CFLOWS_LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/cflows"]
CMD ["serve"]
