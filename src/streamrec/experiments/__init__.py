"""A/B experiments between campaigns: definitions and their store, sticky assignment, and
results with an always-valid sequential test (:mod:`streamrec.experiments.stats`)."""
