"""All tables of the preference store (import this module to register them on the metadata)."""

from .annotator import Annotator, AnnotatorPublic
from .argilla import ArgillaRecord
from .calibration import Calibration, CalibrationCreate, CalibrationFitPublic, CalibrationPublic
from .constitution import ConstitutionPublic, ConstitutionRow
from .escalation import EscalationPublic, EscalationRequest
from .gold import GoldPair, GoldPairCreate, GoldPairPublic
from .job import CacheEntry, Job, JobCreate, JobError, JobErrorPublic, JobProgress, JobPublic
from .judgment import (
    Judgment,
    JudgmentCreate,
    JudgmentCreated,
    JudgmentPublic,
    JudgmentRevision,
    JudgmentRevisionPublic,
)
from .pair import Pair, PairDetail, PairPublic
from .prompt import Prompt, PromptCreate, PromptPublic
from .ranking import Ranking, RankingPublic
from .response import Response, ResponsePublic
from .run import RunMetric, RunMetricPublic, TrainingRun, TrainingRunPublic
from .snapshot import (
    Snapshot,
    SnapshotCreate,
    SnapshotDemonstration,
    SnapshotExample,
    SnapshotExamplePublic,
    SnapshotPublic,
    SnapshotVerifyPublic,
)
from .user import User, UserCreate, UserPublic, UserUpdate, UserWithToken

__all__ = [
    "Annotator",
    "AnnotatorPublic",
    "ArgillaRecord",
    "CacheEntry",
    "Calibration",
    "CalibrationCreate",
    "CalibrationFitPublic",
    "CalibrationPublic",
    "EscalationPublic",
    "EscalationRequest",
    "ConstitutionPublic",
    "ConstitutionRow",
    "GoldPair",
    "GoldPairCreate",
    "GoldPairPublic",
    "Job",
    "JobCreate",
    "JobError",
    "JobErrorPublic",
    "JobProgress",
    "JobPublic",
    "Judgment",
    "JudgmentCreate",
    "JudgmentCreated",
    "JudgmentPublic",
    "JudgmentRevision",
    "JudgmentRevisionPublic",
    "Pair",
    "PairDetail",
    "PairPublic",
    "Prompt",
    "PromptCreate",
    "PromptPublic",
    "Ranking",
    "RankingPublic",
    "Response",
    "ResponsePublic",
    "RunMetric",
    "RunMetricPublic",
    "Snapshot",
    "SnapshotCreate",
    "SnapshotDemonstration",
    "SnapshotExample",
    "SnapshotExamplePublic",
    "SnapshotPublic",
    "SnapshotVerifyPublic",
    "TrainingRun",
    "TrainingRunPublic",
    "User",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "UserWithToken",
]
