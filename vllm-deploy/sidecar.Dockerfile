# The sidecar image: the chargeback CLI, built from the repository root.
#   docker build -f vllm-deploy/sidecar.Dockerfile -t <acr>.azurecr.io/gpu-chargeback:0.1.0 .
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY functions ./functions
COPY bench ./bench
COPY bin ./bin
COPY prices ./prices
RUN npm ci && npm prune --omit=dev

FROM node:22-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prices ./prices
COPY package.json ./
USER 10001
ENTRYPOINT ["node", "/app/bin/chargeback.js"]
CMD ["sidecar"]
