# syntax=docker/dockerfile:1
# The usage sidecar's image: the sidecar alone, compiled from its own entry point
# (src/cli/sidecar-entry.ts, through tsconfig.sidecar.json) with only its runtime packages; none of
# the Functions, the ledger, the reports or the benchmarks. Build it from the repository root
# (BuildKit also reads sidecar.Dockerfile.dockerignore beside this file):
#   docker build -f vllm-deploy/sidecar.Dockerfile -t <acr>.azurecr.io/gpu-chargeback:0.1.0 .
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.sidecar.json ./
# --ignore-scripts: no dependency install script runs (only esbuild, a dev tool, has one), and the
# `prepare` build of the whole repository is not wanted here. The compiler and tsx are dev
# dependencies: the packaging below needs them, the image does not get them.
RUN npm ci --ignore-scripts
COPY scripts ./scripts
COPY src ./src
# Type-checks and compiles only what the entry point imports, and copies only the packages that code
# imports, with their dependencies, at the lockfile's versions (scripts/package.ts).
RUN npm run package:sidecar -- --out /sidecar

FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /sidecar ./
# Not root; the Deployments run it as the same uid and give the spool volume this group.
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["node", "/app/dist/src/cli/sidecar-entry.js"]
