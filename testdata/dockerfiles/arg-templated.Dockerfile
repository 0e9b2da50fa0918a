# Tags come from ARGs; override with --build-arg PYTHON_VERSION=3.12.
ARG REGISTRY=dhi.io
ARG PYTHON_VERSION=3.13

FROM ${REGISTRY}/python:${PYTHON_VERSION}-dev AS build
WORKDIR /app
COPY . .
RUN pip install --target /app/deps -r requirements.txt

FROM ${REGISTRY}/python:${PYTHON_VERSION} AS production
COPY --from=build /app /app
ENTRYPOINT ["python", "/app/main.py"]

# Only built with --target test.
FROM build AS test
RUN python -m pytest
