# syntax=docker/dockerfile:1
# One image for every Liaison process (web, worker, migrations); docker-compose.yml shows how they run.
#
#   docker build -t liaison .
#
# Stage 1 (node): npm packages and the browser bundles. Its node_modules never reach the runtime image;
# only what the pages load is copied out of it.
FROM node:20-bookworm AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp
COPY . .
# The designer bundle (bpmn-js modeler, properties panel, Liaison moddle): designer/static/build/.
RUN make bundle

# Stage 2 (runtime): Python only; no node, no npm, no compilers (every dependency installs from a wheel).
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIAISON_INSTANCE_DIR=/var/lib/liaison
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin liaison \
    && mkdir -p /var/lib/liaison && chown liaison:liaison /var/lib/liaison
WORKDIR /app
# The source tree stays at /app and is installed editable: the app serves web/static, web/translations and
# processes/ from next to its modules, which a built wheel does not carry.
COPY pyproject.toml README.md LICENSE babel.cfg ./
COPY cli/ cli/
COPY designer/ designer/
COPY engine/ engine/
COPY forms/ forms/
COPY processes/ processes/
COPY web/ web/
COPY --from=assets /src/designer/static/build/ designer/static/build/
# The browser libraries web/vendor.py serves from node_modules next to web/: the diagram viewer on task
# pages and the charts.
COPY --from=assets /src/node_modules/bpmn-js/dist/ node_modules/bpmn-js/dist/
COPY --from=assets /src/node_modules/chart.js/dist/ node_modules/chart.js/dist/
# SortableJS of the project board (drag a task across columns); the package ships its built file at its root.
COPY --from=assets /src/node_modules/sortablejs/Sortable.min.js node_modules/sortablejs/
# Swagger UI of the API docs page (web/api/spec.py serves these two files).
COPY --from=assets /src/node_modules/swagger-ui-dist/swagger-ui-bundle.js /src/node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/
RUN pip install -e . \
    && pybabel -q compile -d web/translations
USER liaison
# Uploads and the generated secret key (when LIAISON_SECRET_KEY is unset) live here: mount a volume.
VOLUME ["/var/lib/liaison"]
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-", "web:create_app()"]
