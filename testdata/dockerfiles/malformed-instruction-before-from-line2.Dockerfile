ARG PY=3.13
RUN echo "no stage yet"
FROM dhi.io/python:${PY}
