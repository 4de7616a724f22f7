"""docker-compose.yml cannot be run on CI (no Docker engine): it is checked statically instead —
against the Compose specification's JSON schema, and for every file, build context and variable it
references. The schema is the one Docker published with Compose (docker-compose 1.29.2's
compose/config/compose_spec.json), fetched once from PyPI into var/cache."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "cache"
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}")
REQUIRED_SERVICES = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                     "airflow-triggerer", "airflow-worker", "airflow-init", "web"}


def compose_schema() -> dict:
    wheel = CACHE / "docker_compose-1.29.2-py2.py3-none-any.whl"
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "docker-compose==1.29.2",
                        "-d", str(CACHE)], check=True, timeout=300)
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read("compose/config/compose_spec.json"))


def env_example() -> dict:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def interpolate(text: str, env: dict) -> str:
    def sub(m):
        name, default = m[1], m[2]
        if name in env:
            return env[name]
        assert default is not None, f"${{{name}}} is neither in .env.example nor has a default"
        return default.lstrip(":").lstrip("-")
    return VAR.sub(sub, text)


def test_compose_file_is_valid_and_complete():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    env = env_example()
    doc = yaml.safe_load(interpolate(text, env))
    jsonschema.validate(doc, compose_schema(), cls=jsonschema.Draft7Validator)
    services = doc["services"]
    assert REQUIRED_SERVICES <= set(services)
    volumes = set(doc.get("volumes") or {})
    for name, svc in services.items():
        for dep in (svc.get("depends_on") or {}):
            assert dep in services, (name, dep)
        build = svc.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            assert context.is_dir() and dockerfile.is_file(), name
        for env_file in svc.get("env_file") or []:
            # `.env` is made by copying `.env.example` (README); the template must exist
            assert (ROOT / env_file).exists() or (ROOT / f"{env_file}.example").exists(), env_file
        for v in svc.get("volumes") or []:
            source = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
    # the Airflow services run the project's image with one shared configuration
    airflow = {n: s for n, s in services.items() if n.startswith("airflow-")}
    assert {s["image"] for s in airflow.values()} == {"ltc-register:latest"}
    envs = {json.dumps(s["environment"], sort_keys=True) for s in airflow.values()}
    assert len(envs) == 1
    shared = airflow["airflow-worker"]["environment"]
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert shared["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis")
    assert any(k.startswith("AIRFLOW_CONN_") for k in shared)
    assert "/airflow" in shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] and env["REGISTER_DB"] in shared["DATABASE_URL"]
    # the screens: the project's `ltcreg serve` on all interfaces, on the register database, once it is migrated
    web = services["web"]
    assert web["image"] == "ltc-register:latest"
    assert web["entrypoint"] + web["command"] == ["ltcreg", "serve", "--host", "0.0.0.0", "--port", "8088"]
    assert web["ports"] == [f"{env['LTC_WEB_PORT']}:8088"]
    assert web["environment"]["DATABASE_URL"] == shared["DATABASE_URL"]
    assert web["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    from etl.base import settings

    known = {s.env: s.default for s in settings.SETTINGS.values()}
    for key in ("LTC_WEB_IDLE_MINUTES", "LTC_WEB_SESSION_HOURS", "LTC_WEB_SECURE_COOKIE"):
        assert key in web["environment"] and key in env and key in known, key


def test_dockerfile_copies_what_exists_and_pins_from_constraints():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", text, re.M)
    for src in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), part
    assert "-c /opt/ltc/constraints.txt" in text
