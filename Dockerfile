# syntax=docker/dockerfile:1

# Build stage: compilers live here only. `npm ci` compiles the NNMF kernel (binding.gyp),
# better-sqlite3, installs @tensorflow/tfjs-node where its download succeeds (where it fails,
# npm drops it together with the @tensorflow/tfjs umbrella only it needs), and runs `prepare`,
# which compiles the TypeScript. node-gyp's and npm's caches stay in this stage's home folder.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY migrations ./migrations
RUN npm ci && npm prune --omit=dev
# What the runtime stage copies must hold no build leftovers: better-sqlite3's objects, static
# library and SQLite sources (27 MB; only build/Release/better_sqlite3.node is loaded) and the
# source maps that nothing reads without --enable-source-maps (about 40 MB, most of them TF.js's).
RUN cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release && mv /tmp/better_sqlite3.node build/Release/ \
 && cd /app && find node_modules -name '*.map' -type f -delete

# Runtime stage: Debian slim (tfjs-node's libtensorflow needs glibc), no compilers, non-root.
FROM node:20-bookworm-slim
WORKDIR /app
ENV DATA_DIR=/data \
    PORT=8080 \
    HOST=0.0.0.0
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/nnmf_native.node ./build/Release/nnmf_native.node
COPY migrations ./migrations
COPY openapi.yaml ./openapi.yaml
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||8080,path:'/health',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# node runs as PID 1 and handles SIGTERM itself: it stops accepting, finishes in-flight
# requests, stops a running training job and closes the database.
CMD ["node", "--no-memory-reducer", "--heap-growing-percent=200", "--single-threaded-gc", "dist/src/server.js"]
