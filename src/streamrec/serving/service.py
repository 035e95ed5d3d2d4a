"""The recommendation service the API calls. Until a model is trained it serves popularity."""

from __future__ import annotations

from streamrec.serving.popular import PopularItems
from streamrec.stores.base import UserStateStore


class RecommendationService:
    def __init__(self, user_state: UserStateStore) -> None:
        self.popular = PopularItems(user_state)

    def for_aws_sample(self, user_id: str, limit: int, item_id: str | None) -> list[str]:
        """Item ids for the sample's GET /recommendation route."""
        exclude = frozenset({item_id}) if item_id else frozenset()
        return [i for i, _ in self.popular.top(limit, exclude)]
