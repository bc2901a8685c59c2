"""Whole workflows as recipes: the steps that join accord's parts into one loop.

The RLAIF steps write prompts, responses, pairs and judgments; the steps here take it from
there — audit, snapshot, export, train (SFT, reward model, DPO with a β sweep, PPO), Argilla
push and pull, and a final summary. Each step is content-addressed like the rest of a recipe:
rerunning a finished recipe recomputes nothing (a training step finds the finished run with the
same snapshot hash and config and reuses it).

The step kinds are registered by ``accord.audit.recipe_steps``, ``accord.snapshots.recipe_steps``
and ``accord.train.recipe_steps``; this package holds what they share.

    accord run pipelines/quickstart.yaml          # the whole loop on the embedded default

>>> from accord.jobs.registry import step_kinds
>>> {"audit", "snapshot", "train_dpo", "summary"} <= set(step_kinds())
True
"""
