# A C program built on the debian-base -dev variant, shipped on debian-base.
FROM dhi.io/debian-base:trixie-dev AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY hello.c /src/hello.c
RUN gcc -O2 -o /out/hello /src/hello.c

FROM dhi.io/debian-base:trixie
COPY --from=build /out/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
