FROM dhi.io/python:3.13-dev AS build
WORKDIR /app
RUN pip install flask \
