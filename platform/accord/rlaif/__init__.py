"""RLAIF steps: generation, critique → revision (Constitutional AI's supervised phase) and the
pairwise AI judge, each a prompt template with ``format_input`` / ``format_output``.

The steps run inside jobs (``accord.jobs``), which add caching, error records and progress.
"""
