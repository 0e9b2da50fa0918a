FROM build AS runtime
FROM dhi.io/python:3.13-dev AS build
