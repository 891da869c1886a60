# syntax=docker/dockerfile:1
# The usage sidecar's image: this repository's `chargeback` CLI (`chargeback sidecar`). Build it from
# the repository root (BuildKit also reads sidecar.Dockerfile.dockerignore beside this file):
#   docker build -f vllm-deploy/sidecar.Dockerfile -t <acr>.azurecr.io/gpu-chargeback:0.1.0 .
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts: no dependency install script runs (only esbuild, a dev tool, has one), and the
# `prepare` build waits for the sources: `npm run build` below.
RUN npm ci --ignore-scripts
COPY src ./src
COPY functions ./functions
COPY dev ./dev
COPY bench ./bench
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY prices ./prices
# Not root; the Deployments run it as the same uid and give the spool volume this group.
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["node", "/app/bin/chargeback.js"]
CMD ["sidecar"]
