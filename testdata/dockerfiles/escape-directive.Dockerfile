# escape=`
# Windows-style escape character: ` continues lines, \ is a path separator.
FROM dhi.io/python:3.13-dev AS build
RUN echo C:\build `
    && echo done

FROM dhi.io/python:3.13 `
  AS runtime
COPY --from=build C:\build C:\app
