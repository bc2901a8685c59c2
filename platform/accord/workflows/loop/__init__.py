"""The closed loop: iterative RLAIF rounds (``kind: loop``) run from the recipe engine's own
steps; options in ``config``, one round in ``rounds``, its evaluation in ``evaluation``,
West-of-N selection in ``west_of_n``, the round table in ``table``, the step in ``step``."""
