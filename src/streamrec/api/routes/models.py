"""Model versions, training jobs and campaigns.

GET /v1/models, POST /v1/models/train (admin, 202 + job id), GET /v1/models/jobs/{id},
GET /v1/campaigns, PUT /v1/campaigns/{name} (admin).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.body import read_json
from streamrec.api.openapi import AUTH_ERRORS, request_body
from streamrec.api.responses import json_response
from streamrec.api.schemas import CampaignUpdate, TrainRequest, decode_body
from streamrec.api.state import runtime_of
from streamrec.models import ModelRegistry, TrainingJobs
from streamrec.models.jobs import TrainFn
from streamrec.models.layout import NAME_PATTERN
from streamrec.recommenders.registry import recipe_class
from streamrec.runtime import Runtime

router = APIRouter(tags=["models"])

_JOBS_LOCK = threading.Lock()


def training_jobs(request: Request) -> TrainingJobs:
    """This app's job table, made on first use (jobs live as long as the process)."""
    state = request.app.state
    with _JOBS_LOCK:
        jobs: TrainingJobs | None = getattr(state, "training_jobs", None)
        if jobs is None:
            jobs = state.training_jobs = TrainingJobs(_train_fn(runtime_of(request)))
    return jobs


def _train_fn(runtime: Runtime) -> TrainFn:
    def run(recipe: str | None, activate: bool) -> dict[str, Any]:
        from streamrec.models.train import train

        return train(runtime.settings, recipe, activate, registry=runtime.models)

    return run


def campaigns_by_version(registry: ModelRegistry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for campaign, version in registry.campaigns().items():
        out.setdefault(version, []).append(campaign)
    return out


@router.get("/v1/models")
def list_models(request: Request) -> Response:
    """Every stored version (newest first) with its metrics, and the campaigns pointing to it."""
    registry = runtime_of(request).models
    pointed = campaigns_by_version(registry)
    versions = [
        {**meta, "campaigns": pointed.get(str(meta["version"]), [])}
        for meta in registry.list_versions()
    ]
    return json_response({"versions": versions, "campaigns": registry.campaigns()})


def _train_request(body: Any) -> tuple[str | None, bool]:
    recipe = body.get("recipe") if isinstance(body, dict) else None
    if isinstance(recipe, str) and recipe != "default":
        recipe_class(recipe)  # names the known recipes, which the schema's pattern lists
    train = decode_body(body, TrainRequest)
    return train.recipe, bool(train.activate)


@router.post(
    "/v1/models/train",
    status_code=202,
    openapi_extra={
        "requestBody": {**request_body("TrainRequest")["requestBody"], "required": False}
    },
    responses=AUTH_ERRORS,
)
async def start_training(request: Request) -> Response:
    """Train in the background (admin): {"recipe"?, "activate"?} -> 202 with the job's id."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    has_body = bool((await request.body()).strip())
    recipe, activate = _train_request(await read_json(request) if has_body else {})
    from streamrec.models.train import resolve_recipe

    resolve_recipe(runtime.settings, recipe)  # an unknown recipe is a 400 now, not a failed job
    job = training_jobs(request).submit(recipe, activate)
    body = {**job.as_json(), "url": f"/v1/models/jobs/{job.job_id}"}
    return json_response(body, 202, {"Location": body["url"]})


@router.get("/v1/models/jobs/{job_id}")
def get_job(request: Request, job_id: str = Path(min_length=1, max_length=64)) -> Response:
    """A training job's state: queued, running, succeeded (with version, metrics) or failed."""
    return json_response(training_jobs(request).get(job_id).as_json())


@router.get("/v1/campaigns")
def list_campaigns(request: Request) -> Response:
    """Every campaign and the version it points to; ``serving`` is this server's campaign."""
    runtime = runtime_of(request)
    campaigns = runtime.models.campaigns()
    return json_response(
        {
            "campaigns": [{"name": n, "version": v} for n, v in campaigns.items()],
            "serving": runtime.settings.campaign,
        }
    )


@router.put(
    "/v1/campaigns/{name}", openapi_extra=request_body("CampaignUpdate"), responses=AUTH_ERRORS
)
async def set_campaign(
    request: Request, name: str = Path(min_length=1, max_length=128, pattern=NAME_PATTERN)
) -> Response:
    """Point a campaign at a version (admin): {"version"}; 404 for an unknown version."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    version = decode_body(await read_json(request), CampaignUpdate).version
    # Loading checks the whole model: off the event loop, so other requests are not held up.
    active = await run_in_threadpool(runtime.models.set_campaign, name, version)
    return json_response({"name": name, "version": active.version, "recipe": active.recipe})
