ARG PY
FROM dhi.io/python:${PY}-dev AS build
