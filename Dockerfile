# kubelived: one image for `kubelived controller` and `kubelived agent` (docs/image.md).
# The build stage runs scripts/build-image-root.sh, the same script test/image/build.test.ts
# runs, so the runtime tree shipped here is the one the test checked.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# g++, make and python3 for node-gyp (the native addon).
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash scripts/build-image-root.sh /src /out

FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION
ARG REVISION
LABEL org.opencontainers.image.title="kubelived" \
      org.opencontainers.image.description="keepalived as a Kubernetes operator: VRRP virtual IPs and IPVS load balancing (controller and node agent)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# tini as PID 1 reaps the children of exec health checks and track scripts and forwards
# signals to node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Owned by root, so the process cannot rewrite its own code.
COPY --from=build /out/app /app
# The controller runs as this user. The agent needs root with NET_ADMIN and NET_RAW: its
# DaemonSet sets runAsUser 0 and adds those capabilities (docs/image.md).
USER 65532:65532
ENTRYPOINT ["tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["version"]
