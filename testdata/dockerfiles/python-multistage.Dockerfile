# syntax=docker/dockerfile:1

# Build stage: the -dev variant has a shell and pip.
FROM dhi.io/python:3.13-dev AS build
WORKDIR /app
RUN python -m venv /app/venv
COPY requirements.txt .
RUN /app/venv/bin/pip install --no-cache-dir -r requirements.txt

# Runtime stage: the minimal runtime variant.
FROM dhi.io/python:3.13 AS runtime
WORKDIR /app
COPY --from=build /app/venv /app/venv
COPY app.py .
ENV PATH="/app/venv/bin:$PATH"
ENTRYPOINT ["python", "/app/app.py"]
