# event-router: compile the single binary in a Deno image, run it in a slim image as a non-root user.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts mod.ts ./
COPY commands ./commands
COPY lib ./lib
COPY scripts ./scripts
RUN deno task compile

FROM debian:bookworm-slim
# librdkafka is only needed by `event-router dev`; curl serves the health check.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl librdkafka1 \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --no-create-home eventrouter
COPY --from=build /src/event-router /usr/local/bin/event-router
USER eventrouter
# 8080: router (ER_SERVER_PORT) and kcl-proxy (KCL_PORT); 3090: receiver httpbroker (--port, or PORT). No PORT is
# set here: the httpbroker reads it, and would leave 3090. Running the httpbroker, set HEALTH_PORT=3090.
EXPOSE 8080 3090
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${HEALTH_PORT:-8080}/health" || exit 1
ENTRYPOINT ["event-router"]
CMD ["--help"]
