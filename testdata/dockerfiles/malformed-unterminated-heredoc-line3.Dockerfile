FROM dhi.io/python:3.13-dev AS build
WORKDIR /app
RUN <<EOF
pip install flask
FROM dhi.io/python:3.13
EOF2
