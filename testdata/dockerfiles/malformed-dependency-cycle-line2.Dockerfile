FROM dhi.io/python:3.13-dev AS a
COPY --from=b /x /x
FROM a AS b
