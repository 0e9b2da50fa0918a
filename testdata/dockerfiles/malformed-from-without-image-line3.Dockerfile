# FROM with nothing after it.
ARG PY=3.13
FROM
RUN echo
