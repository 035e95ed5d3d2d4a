"""Trained model versions, campaigns (named pointers to versions), training and retraining.

``ModelRegistry.active(campaign)`` is what serving calls on every request. The training job
(:mod:`streamrec.models.train`) and the retrain loop (:mod:`streamrec.models.retrain`) pull in the
lake and DuckDB, so they are imported from their modules, not here: building a Runtime stays cheap.
"""

from streamrec.models.jobs import TrainingJob, TrainingJobs
from streamrec.models.registry import ActiveModel, ModelRegistry

__all__ = ["ActiveModel", "ModelRegistry", "TrainingJob", "TrainingJobs"]
