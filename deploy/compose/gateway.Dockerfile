# The gateway of compose: nginx with the operator console (console/) built in. A Node stage builds console/dist
# from the committed lock (npm ci, tsc, vite), as console/build.sh does in local mode; the image that runs carries
# only nginx and the static files, served at /console/ (deploy/compose/nginx.conf).
FROM node:22-bookworm-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY console/index.html console/tsconfig.json console/vite.config.ts ./
COPY console/src ./src
RUN npm run build

FROM nginx:1.27-alpine
COPY --from=console /console/dist /usr/share/nginx/console
