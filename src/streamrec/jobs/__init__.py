"""Batch jobs over the served model: recommendations for a list of users, and the users with the
most affinity to some items (Personalize's batch inference and batch segment jobs)."""

from streamrec.jobs.recommend_batch import BatchOutcome, read_users, recommend_batch
from streamrec.jobs.segments import item_affinity, write_segment

__all__ = ["BatchOutcome", "item_affinity", "read_users", "recommend_batch", "write_segment"]
