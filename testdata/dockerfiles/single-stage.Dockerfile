# syntax=docker/dockerfile:1
# A single stage on the runtime variant: no shell, no package manager.
FROM dhi.io/python:3.13
WORKDIR /app
COPY app.py .
ENTRYPOINT ["python", "/app/app.py"]
