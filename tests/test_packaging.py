"""The deployment shape (Dockerfile, .dockerignore, docker-compose.yml), checked by reading the files:
no Docker engine runs where the tests run. A node stage builds the browser bundles; the runtime image is
python slim with no node, npm or compilers and runs as a non-root user; every compose service runs a
command that exists (a `liaison` subcommand, or gunicorn serving `web:create_app()`)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _stages() -> list[dict]:
    stages: list[dict] = []
    for instruction, args in _instructions((ROOT / "Dockerfile").read_text(encoding="utf-8")):
        if instruction == "FROM":
            image, _, name = args.partition(" AS ")
            stages.append({"image": image.strip(), "name": name.strip(), "steps": []})
        else:
            stages[-1]["steps"].append((instruction, args))
    return stages


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_a_node_stage_builds_the_bundles_from_the_lock_file():
    node = _stages()[0]
    assert node["image"].startswith("node:") and node["name"]
    runs = " && ".join(args for instruction, args in node["steps"] if instruction == "RUN")
    assert "npm ci" in runs and "make bundle" in runs


def test_the_makefile_has_the_bundle_target_the_image_builds_with():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    if not re.search(r"^bundle:", makefile, re.MULTILINE):
        pytest.skip("the Makefile has no `bundle` target yet (the designer bundle's esbuild build, issue 14)")
    assert re.search(r"^bundle:", makefile, re.MULTILINE)


def test_the_runtime_is_python_slim_without_node_or_build_tools_and_not_root():
    node, runtime = _stages()[0], _stages()[-1]
    assert re.fullmatch(r"python:3\.1\d-slim", runtime["image"])
    runs = " ".join(args for instruction, args in runtime["steps"] if instruction == "RUN")
    for word in ("npm", "node", "apt-get", "gcc", "build-essential", "make "):
        assert word not in runs, word
    assert "pip install" in runs
    from_node = [args.split() for instruction, args in runtime["steps"]
                 if instruction == "COPY" and args.startswith(f"--from={node['name']}")]
    copied = sorted(parts[1] for parts in from_node)
    assert copied[0] == "/src/designer/static/build/"
    # never all node_modules: a package's dist folder, or single built files (Swagger UI's two)
    assert all(re.fullmatch(r"/src/node_modules/[\w.@-]+/(dist/|[\w.-]+\.(js|css))", path) for path in copied[1:]), copied
    users = [args for instruction, args in runtime["steps"] if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    position = [i for i, (instruction, _) in enumerate(runtime["steps"]) if instruction == "USER"][-1]
    assert all(instruction != "RUN" for instruction, _ in runtime["steps"][position:]), "nothing runs as root after USER"


def test_the_viewer_files_are_copied_where_web_vendor_serves_them():
    from web.api.spec import DOCS_ASSETS
    from web.vendor import NODE_MODULES, VENDOR_FILES

    runtime = _stages()[-1]
    workdir = [args for instruction, args in runtime["steps"] if instruction == "WORKDIR"][-1]
    copied = [target for instruction, args in runtime["steps"]
              if instruction == "COPY" and args.split()[1].startswith("/src/node_modules/")
              for target in _copied(args)]
    assert NODE_MODULES == ROOT / "node_modules"  # the source tree sits at WORKDIR in the image
    assert workdir == "/app" and all(target.startswith("node_modules/") for target in copied)
    for path in [*VENDOR_FILES.values(), *DOCS_ASSETS.values()]:
        assert any(("node_modules/" + path).startswith(target) for target in copied), f"{path} is not in the image"


def _copied(args: str) -> list[str]:
    """What a `COPY --from=assets SOURCE... TARGET` puts in the image: the folder, or each file in it."""
    *sources, target = args.split()[1:]
    if len(sources) == 1 and sources[0].endswith("/"):
        return [target]
    return [target + source.rsplit("/", 1)[1] for source in sources]


def test_the_runtime_copies_every_python_package_and_what_pip_needs():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copies = " ".join(args for instruction, args in _stages()[-1]["steps"] if instruction == "COPY")
    for name in packages | {"processes"}:
        assert f"{name}/ {name}/" in copies, name
    for file in ("pyproject.toml", project["project"]["readme"], *project["project"]["license-files"]):
        assert file in copies, file


def test_dockerignore_keeps_local_and_secret_files_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "node_modules", "instance", ".env"} <= ignored


def test_compose_runs_web_worker_migrate_postgres_and_redis_from_one_built_image():
    services = _compose()["services"]
    assert set(services) == {"web", "worker", "migrate", "postgres", "redis"}
    app = {name: services[name] for name in ("web", "worker", "migrate")}
    assert {s["build"] for s in app.values()} == {"."} and len({s["image"] for s in app.values()}) == 1
    assert services["postgres"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    for name in ("web", "worker"):
        assert app[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert app[name]["environment"]["LIAISON_REDIS_URL"].startswith("redis://redis:")
        assert app[name]["environment"]["LIAISON_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in app[name]["environment"]["LIAISON_DATABASE_URL"]
    assert "volumes" not in app["web"] or all(not v.startswith(".:") for v in app["web"]["volumes"])


def _liaison_command_exists(argv: list[str]) -> bool:
    import click

    from cli import main

    command, context = main, click.Context(main)
    for word in argv:
        if not isinstance(command, click.Group):
            return False
        command = command.get_command(context, word)
        if command is None:
            return False
    return not isinstance(command, click.Group)


@pytest.mark.parametrize("service", ["web", "worker", "migrate"])
def test_every_service_runs_a_command_that_exists(service):
    command = _compose()["services"][service]["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    if argv[0] == "gunicorn":
        assert argv[-1] == "web:create_app()"
        from web import create_app

        assert callable(create_app)
    else:
        assert argv[0] == "liaison" and _liaison_command_exists(argv[1:]), argv
    expected = {"web": "gunicorn", "worker": "liaison worker", "migrate": "liaison db upgrade"}[service]
    assert " ".join(argv).startswith(expected)


def test_the_image_s_default_command_is_the_web_service_s():
    (cmd,) = [args for instruction, args in _stages()[-1]["steps"] if instruction == "CMD"]
    assert yaml.safe_load(cmd) == _compose()["services"]["web"]["command"]
