# Multi-stage build on Debian bookworm, using the same set-up script as a bare machine.
# (Not buildable in the development sandbox: no Docker engine there.)
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-pip curl \
    && rm -rf /var/lib/apt/lists/*
COPY scripts scripts
COPY models models
# Third-party weights come from VIGIL_MODELS_SRC (build context), ../shared/models or upstream.
ARG VIGIL_MODELS_SRC=
RUN bash scripts/setup.sh
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY testdata testdata
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavfilter8 libavdevice59 \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vigil
COPY --from=build /src/target/release/vigil /usr/local/bin/vigil
COPY --from=build /src/.ort /opt/vigil/.ort
COPY --from=build /src/models /opt/vigil/models
ENV ORT_DYLIB_PATH=/opt/vigil/.ort/libonnxruntime.so VIGIL_LOG=info
VOLUME /var/lib/vigil
EXPOSE 8080
ENTRYPOINT ["vigil"]
CMD ["--help"]
