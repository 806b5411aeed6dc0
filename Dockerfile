# One image for the producer and the worker; docker-compose.yml picks the command.
FROM node:20-bookworm-slim

ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
RUN mkdir /app && chown node:node /app
WORKDIR /app
USER node

# The whole context (see .dockerignore) goes in before `npm ci`: npm needs every workspace's
# package.json, and the bins run the TypeScript sources through tsx, so nothing is built.
COPY --chown=node:node . .
RUN npm ci && npm cache clean --force

ENV NODE_ENV=production
