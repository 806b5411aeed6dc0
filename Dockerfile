# syntax=docker/dockerfile:1
# One image for the producer and the worker; docker-compose.yml picks the command.
#
#   docker build -t taskpool .                              # Node 24
#   docker build -t taskpool --build-arg NODE_MAJOR=22 .   # Node 22 (>= 22.18), the other supported line
#
# Base: node:<major>-bookworm-slim.
# - Node 24 by default: the newest LTS line (supported to April 2028; 22 to April 2027, Node 20 is EOL). Both
#   strip TypeScript types on their own (24, and 22 from 22.18), so the worker and producer load a `.ts` task
#   module such as examples/tasks.ts without tsx, which is a dev dependency and not in this image.
# - Debian 12 "bookworm", slim: glibc, so npm packages' prebuilt native binaries load as they do on most
#   developers' machines and CI, which Alpine's musl does not promise; slim leaves out
#   compilers and docs; a named Debian release, so a rebuild does not move to another distribution. For
#   reproducible builds pin the tag by digest (node:24-bookworm-slim@sha256:...).
# Size: about 300 MB uncompressed, estimated without a Docker engine (none on the machines this was built on):
# the node:<major>-bookworm-slim base (about 220 MB, as `docker images` lists node:22-slim), tini (under 1 MB),
# production dependencies 73 MB on disk (measured: this file's `npm ci --omit=dev --omit=optional` on the same
# manifests, 2026-12-03) and the builds (about 2 MB). `docker images taskpool` gives the real figure.
ARG NODE_MAJOR=24

# ---- build: every dependency, `npm run build` (turbo) writes each package's dist/ ----
FROM node:${NODE_MAJOR}-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /src
# The manifests first: `npm ci` stays cached until a dependency changes. npm needs every workspace's package.json.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY apps/worker/package.json apps/worker/
COPY apps/producer/package.json apps/producer/
COPY examples/package.json examples/
RUN npm ci
COPY . .
RUN npm run build

# ---- production: production dependencies, the built packages, the bins and the example tasks ----
FROM node:${NODE_MAJOR}-bookworm-slim AS production
# tini as PID 1: passes SIGTERM on to node (graceful shutdown) and reaps orphaned sandbox processes, also
# under a plain `docker run` without --init.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/packages/core/package.json packages/core/
COPY --from=build /src/apps/worker/package.json apps/worker/
COPY --from=build /src/apps/producer/package.json apps/producer/
COPY --from=build /src/examples/package.json examples/
# Every workspace's `dependencies`, no devDependencies (no tsx, TypeScript, vitest, turbo). --omit=optional
# too: npm keeps a dev dependency that is also an optional peer of a production one (tsx, an optional peer of
# @taskpool/core; typescript, of valibot via Bull Board) unless optional ones are omitted as well
# (npm/cli#5203, #7772). It also drops msgpackr-extract, msgpackr's optional native speed-up (pure JS instead).
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY --from=build /src/packages/core/dist packages/core/dist
COPY --from=build /src/apps/worker/dist apps/worker/dist
COPY --from=build /src/apps/worker/bin apps/worker/bin
COPY --from=build /src/apps/producer/dist apps/producer/dist
COPY --from=build /src/apps/producer/bin apps/producer/bin
# The example task module, loaded with Node's type stripping: replace or mount your own (see docker-compose.yml).
COPY --from=build /src/examples examples
# The directory of big objects by reference (TASKPOOL_OBJECTS_DIR), owned by the app's user, so that a new named
# volume mounted there (docker-compose.yml) starts writable by it.
RUN mkdir -p /var/lib/taskpool/objects && chown node:node /var/lib/taskpool/objects
# Owned by root and only readable by the app: it runs as the image's unprivileged `node` user (uid 1000).
USER node

# The producer listens on all of the container's interfaces (its default, 127.0.0.1, is unreachable from
# outside a container). Set the port with TASKPOOL_PORT rather than --port, so the health check follows it.
ENV TASKPOOL_HOST=0.0.0.0 TASKPOOL_PORT=3000
EXPOSE 3000
# For the producer, this image's default command: GET /health answers 200 while Redis answers, 503 otherwise.
# A worker serves no port and has no health endpoint: run it with --no-healthcheck (docker run) or
# `healthcheck: disable: true` (compose, as docker-compose.yml does); its process is its liveness (tini
# exits when it does), its heartbeat shows on the producer's dashboard.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.TASKPOOL_PORT + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "apps/producer/bin/taskpool-producer.js", "--tasks", "examples/tasks.ts"]
