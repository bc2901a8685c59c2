"""The source layout must never shadow the standard library."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)


def test_platform_is_a_plain_source_folder():
    assert not (ROOT / "platform" / "__init__.py").exists(), "platform/ must not be a package"


def test_no_module_shadows_the_standard_library():
    offenders = []
    for folder in (ROOT / "platform", ROOT / "pipelines"):
        for path in folder.rglob("*"):
            if "__pycache__" in path.parts:
                continue
            stem = path.stem if path.suffix == ".py" else path.name if path.is_dir() else None
            if stem in STDLIB:
                offenders.append(str(path.relative_to(ROOT)))
    # The package's own top-level name must not be a stdlib module either.
    assert "accord" not in STDLIB
    assert offenders == [], f"these names shadow stdlib modules: {offenders}"


def test_stdlib_platform_still_imports_with_accord_installed():
    code = "import accord, platform; print(platform.system())"
    for cwd in (ROOT, ROOT / "platform"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() in {"Linux", "Darwin", "Windows"}


def test_the_cli_starts_without_torch():
    """Every ``accord`` command imports the CLI: torch and transformers load only in the
    commands that use a model (importing torch alone takes seconds on a small machine)."""
    code = (
        "import sys, accord.cli.main; "
        "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
