"""The house's shape: import-linter's contracts (pyproject.toml) hold, and they would catch a knot."""
import shutil
import subprocess
import sys
from pathlib import Path

import connectors

ROOT = Path(__file__).resolve().parents[1]


def _lint(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the copy under test, not the editable installation, is what grimp reads
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "house"
    for part in ("etl", "connectors", "sql"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" in out.stdout and "0 broken" in out.stdout


def test_a_ground_floor_import_of_landing_breaks_the_layers(tmp_path):
    root = _copy(tmp_path)
    (root / "etl" / "base" / "knot.py").write_text("from etl.landing import load  # noqa\n")
    out = _lint(root)
    assert out.returncode != 0
    assert "Wings by floor" in out.stdout and "BROKEN" in out.stdout
    assert "etl.base.knot -> etl.landing.load" in out.stdout


def test_a_source_reading_another_breaks_independence(tmp_path):
    root = _copy(tmp_path)
    (root / "connectors" / "smev" / "knot.py").write_text("from connectors.optima import bundle  # noqa\n")
    out = _lint(root)
    assert out.returncode != 0 and "independent" in out.stdout


def test_sources_are_one_list_found_from_the_packages(tmp_path):
    """A new source is its package: the list every reader uses finds it (nothing else names it)."""
    assert [s.name for s in connectors.SOURCES] == ["health", "smev", "optima"]
    for s in connectors.SOURCES:
        assert s.entities and s.suffixes and s.title and s.schedule
        module = s.module()
        assert hasattr(module, "open_file" if s.kind == "tables" else "parse"), s.name
    root = _copy(tmp_path)
    (root / "connectors" / "sfr").mkdir()
    (root / "connectors" / "sfr" / "__init__.py").write_text(
        "from connectors.source import Entity, Source\n"
        "SOURCE = Source('sfr', 'СФР', 'records', (Entity('sfr_record', 'record_id'),), ('.xml',),"
        " '0 3 * * *', 'connectors.sfr.reader', order=4)\n")
    script = ("import connectors; from etl.models import catalog; from etl.quality import suites; "
              "print(*[s.name for s in connectors.SOURCES]); print('cur_sfr_record' in catalog.models(), "
              "'staging.sfr_record' in suites.STAGED_ROWS)")
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env={"PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=120)
    names, found = out.stdout.splitlines()[-2:]
    assert names.split() == ["health", "smev", "optima", "sfr"], out.stderr
    assert found == "True True", out.stderr  # its current view and its reconciliation follow


def test_a_hanging_test_fails_on_its_timeout(tmp_path):
    """pytest-timeout is on for every test (pyproject's `timeout`): a test that hangs fails instead."""
    (tmp_path / "test_hangs.py").write_text("import time\n\ndef test_hangs():\n    time.sleep(60)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntimeout = 2\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=50)
    assert out.returncode == 1 and "Timeout" in out.stdout + out.stderr, out.stdout[-2000:]
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["timeout"] > 0
