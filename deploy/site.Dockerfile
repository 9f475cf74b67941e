# The lawkb site for deploy/docker-compose.yml: the package with the Elasticsearch client.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir '.[es,corpus]'
