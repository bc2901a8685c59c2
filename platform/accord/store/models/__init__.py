"""All tables of the preference store (import this module to register them on the metadata)."""

from .annotator import Annotator, AnnotatorPublic
from .argilla import ArgillaRecord
from .calibration import Calibration, CalibrationPublic
from .constitution import ConstitutionPublic, ConstitutionRow
from .gold import GoldPair, GoldPairPublic
from .job import CacheEntry, Job, JobError, JobPublic
from .judgment import Judgment, JudgmentCreate, JudgmentPublic, JudgmentRevision
from .pair import Pair, PairPublic
from .prompt import Prompt, PromptCreate, PromptPublic
from .response import Response, ResponseCreate, ResponsePublic
from .run import RunMetric, TrainingRun, TrainingRunPublic
from .snapshot import Snapshot, SnapshotExample, SnapshotPublic
from .user import User, UserPublic

__all__ = [
    "Annotator", "AnnotatorPublic", "ArgillaRecord", "Calibration", "CalibrationPublic",
    "CacheEntry", "ConstitutionPublic",
    "ConstitutionRow", "GoldPair", "GoldPairPublic", "Job", "JobError", "JobPublic", "Judgment", "JudgmentCreate",
    "JudgmentPublic", "JudgmentRevision", "Pair", "PairPublic", "Prompt", "PromptCreate",
    "PromptPublic", "Response", "ResponseCreate", "ResponsePublic", "RunMetric", "Snapshot",
    "SnapshotExample", "SnapshotPublic", "TrainingRun", "TrainingRunPublic", "User", "UserPublic",
]
