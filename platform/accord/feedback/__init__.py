"""Human feedback: bringing human preference labels into the store.

``accord.feedback.argilla`` pushes pairs to an Argilla server for annotators to label and
pulls their answers back as ``human`` judgments (see docs/argilla.md).
"""
