# strangler-gateway container image.
#
# Required at run time:
#   STRANGLER_LEGACY_URL   base URL of the legacy monolith, e.g. http://legacy:3001
#   STRANGLER_MODERN_URL   base URL of the modern service, e.g. http://modern:3002
#   STRANGLER_ADMIN_TOKEN  bearer token for the admin API. The default CMD binds the admin
#                          listener to 0.0.0.0, which the gateway refuses without a token;
#                          alternatively override CMD with `--admin-host 127.0.0.1`.
# Optional:
#   STRANGLER_DB           the route database: /data/routes.db (SQLite, on the volume) by default,
#                          or postgres://user:pass@host:5432/db for gateways on several hosts
#   STRANGLER_ADMIN_ALLOWED_HOSTS  names other containers use to reach the admin API (e.g. the
#                          compose service name `gateway`); the admin API answers only
#                          loopback names and the container's own hostname and addresses.
#
#   docker run -p 8080:8080 -p 9901:9901 -v strangler-data:/data \
#     -e STRANGLER_LEGACY_URL=... -e STRANGLER_MODERN_URL=... -e STRANGLER_ADMIN_TOKEN=... strangler-gateway

# --- build: full image, because better-sqlite3 compiles from source (python3, make, g++) when
# no prebuilt binary matches, and node:20-bookworm already ships those tools.
FROM node:20-bookworm AS build
WORKDIR /app
# Everything (minus .dockerignore) before `npm ci`: its prepare script runs the tsc build.
COPY . .
RUN npm ci \
 && npm prune --omit=dev

# --- runtime: slim image with only what the CLI needs. Same Debian release as the build stage,
# so the compiled better-sqlite3 binary finds the same glibc.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production STRANGLER_DB=/data/routes.db
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The route database lives on a volume the unprivileged user can write; the app files stay root-owned.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# 8080: data plane (proxy). 9901: admin API and health endpoints.
EXPOSE 8080 9901
# No curl in the slim image: probe readiness with node itself. Assumes the default admin port 9901.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9901/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# bin/strangler execs node, which runs as PID 1 and gets `docker stop`'s SIGTERM directly: `serve`
# handles it (or run the container with --init). On one CPU (`--cpus=1`, a Kubernetes limit of 1,
# or `--cpuset-cpus` with one CPU) it starts Node with --single-threaded; see README, "One CPU".
ENTRYPOINT ["bin/strangler"]
CMD ["serve", "--host", "0.0.0.0", "--admin-host", "0.0.0.0"]
