"""The parts of ``bench/bench_vs_distilabel.py``: distilabel's side (its environment, its
pipeline and how its rows are counted), accord's side (the recipe, the store's rows), the
timed runs (process trees, the shared vLLM server) and the report (the ratio table)."""
