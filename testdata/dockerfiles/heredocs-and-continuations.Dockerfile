# syntax=docker/dockerfile:1.7
ARG PY=3.13
FROM \
  # the build image, on its own lines
  dhi.io/python:${PY}-dev \
  AS build
RUN <<EOF
# Nothing in a heredoc body is an instruction:
FROM evil.example/not-a-base:1
EOF
RUN echo building \
    FROM evil.example/not-a-base:2 \
 && true
COPY <<-END /etc/motd
	FROM evil.example/not-a-base:3
	END

from dhi.io/python:${PY} as Runtime
copy --from=BUILD /app /app
