# syntax=docker/dockerfile:1
# The command line's image: `chargeback`, compiled from its own entry point (src/cli/entry.ts and
# the report's worker thread, through tsconfig.cli.json) with only the packages that code imports,
# and the price card, the rules and the suites its defaults and the CronJobs name
# (evaluation-cronjob.yaml runs `evaluate --suite /app/suites/<name>`). None of the Functions, the
# local stand-ins, the benchmarks or the tests. Build it from the repository root (BuildKit also
# reads cli.Dockerfile.dockerignore beside this file):
#   docker build -f vllm-deploy/cli.Dockerfile -t <acr>.azurecr.io/gpu-chargeback-cli:0.1.0 .
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.cli.json ./
# --ignore-scripts: no dependency install script runs (only esbuild, a dev tool, has one), and the
# `prepare` build of the whole repository is not wanted here. The compiler and tsx are dev
# dependencies: the packaging below needs them, the image does not get them.
RUN npm ci --ignore-scripts
COPY scripts ./scripts
COPY src ./src
COPY prices ./prices
COPY rules ./rules
COPY suites ./suites
# Type-checks and compiles only what the entry points import, copies only the packages that code
# imports, with their dependencies, at the lockfile's versions, and the folders above beside them
# (scripts/package.ts).
RUN npm run package:cli -- --out /cli

FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /cli ./
# Not root; the CronJobs run it as the same uid and group.
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/src/cli/entry.js"]
