"""Human preference labels through Argilla: push pairs, pull answers, ingest webhooks.

Argilla is the labelling front end; accord's store stays the source of truth.

>>> from accord.feedback.argilla import push_pairs, pull_judgments, verify_and_ingest
>>> callable(push_pairs) and callable(pull_judgments) and callable(verify_and_ingest)
True

See docs/argilla.md for the annotator and engineer guides.
"""

from .client import ArgillaConfigError, ArgillaConnectionConfig, ArgillaUnavailableError, connect
from .pull import PullResult, pull_judgments
from .push import PushResult, push_pairs
from .webhooks import WebhookVerificationError, ingest_webhook_event, verify_and_ingest

__all__ = [
    "ArgillaConfigError",
    "ArgillaConnectionConfig",
    "ArgillaUnavailableError",
    "PullResult",
    "PushResult",
    "WebhookVerificationError",
    "connect",
    "ingest_webhook_event",
    "pull_judgments",
    "push_pairs",
    "verify_and_ingest",
]
