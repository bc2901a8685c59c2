"""The trl internals accord's soft-label DPO trainer overrides, pinned to the versions tested.

``SoftLabelDPOTrainer`` (train/dpo.py) overrides three private methods of trl's ``DPOTrainer``
and subclasses its preference collator. Private methods change without notice between trl
releases; when they do, the soft-label loss may silently stop being called or read the wrong
columns. So pyproject pins trl to the minor version these overrides were read against, and this
test fails loudly, naming the method, when the installed trl's source of any of them differs
from the one read. To move to a new trl: read the changed methods, adapt train/dpo.py, run
tests/train/test_dpo*.py and tests/train/test_soft*.py, then record the new fingerprints here.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import tomllib
from pathlib import Path

import pytest

trl = pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parents[2]

# trl version → sha256 prefix of the source of each overridden member, as read for train/dpo.py.
TESTED = {
    "1.16": {
        "DPOTrainer._compute_loss": "5e58a1699e0d76cd",
        "DPOTrainer._precompute_ref_logps": "f2c098c7da6ca701",
        "DPOTrainer._set_signature_columns_if_needed": "71225a628baed4cb",
        "DataCollatorForPreference.torch_call": "0b8bb4c294bf8420",
    },
}


def _members():
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    owners = {"DPOTrainer": DPOTrainer, "DataCollatorForPreference": DataCollatorForPreference}
    for qualified in TESTED[next(iter(TESTED))]:
        owner, name = qualified.split(".")
        yield qualified, getattr(owners[owner], name, None)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_installed_trl_is_a_tested_minor_version():
    assert _minor(trl.__version__) in TESTED, (
        f"trl {trl.__version__} is installed, but train/dpo.py's overrides were read against trl "
        f"{', '.join(TESTED)}; see this module's docstring before widening the pin"
    )


def test_pyproject_pins_trl_to_the_tested_minor_versions():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [spec] = [d for d in deps if re.match(r"trl\b", d)]
    lowest = min(TESTED, key=lambda v: tuple(map(int, v.split("."))))
    highest = max(TESTED, key=lambda v: tuple(map(int, v.split("."))))
    major, minor = map(int, highest.split("."))
    assert spec.replace(" ", "") == f"trl>={lowest},<{major}.{minor + 1}", spec


def test_overridden_trl_members_are_unchanged():
    expected = TESTED.get(_minor(trl.__version__))
    if expected is None:
        pytest.fail(f"no fingerprints recorded for trl {trl.__version__}")
    for qualified, member in _members():
        assert member is not None, f"trl {trl.__version__} has no {qualified} any more"
        digest = hashlib.sha256(inspect.getsource(member).encode()).hexdigest()[:16]
        assert digest == expected[qualified], (
            f"trl {trl.__version__} changed {qualified}, which train/dpo.py overrides or calls "
            f"(source fingerprint {digest}, read: {expected[qualified]}); re-read it before "
            "trusting the soft-label DPO loss"
        )


def test_the_overrides_keep_trl_signatures():
    from accord.train.dpo import SoftLabelCollator, SoftLabelDPOTrainer

    mine = {"DPOTrainer": SoftLabelDPOTrainer, "DataCollatorForPreference": SoftLabelCollator}
    for qualified, member in _members():
        owner, name = qualified.split(".")
        theirs = list(inspect.signature(member).parameters)
        ours = list(inspect.signature(getattr(mine[owner], name)).parameters)
        assert ours == theirs, f"{qualified}: trl takes {theirs}, accord's override {ours}"
