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
from streamrec.api.responses import json_response
from streamrec.api.state import runtime_of
from streamrec.errors import ValidationError
from streamrec.models import ModelRegistry, TrainingJobs
from streamrec.models.jobs import TrainFn
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
    if body is None:
        return None, False
    if not isinstance(body, dict):
        raise ValidationError("body", "expected a JSON object")
    recipe, activate = body.get("recipe"), body.get("activate", False)
    if recipe is not None and not isinstance(recipe, str):
        raise ValidationError("recipe", "must be a string")
    if not isinstance(activate, bool):
        raise ValidationError("activate", "must be true or false")
    return recipe, activate


@router.post("/v1/models/train", status_code=202)
async def start_training(request: Request) -> Response:
    """Train in the background (admin): {"recipe"?, "activate"?} -> 202 with the job's id."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    has_body = bool((await request.body()).strip())
    recipe, activate = _train_request(await read_json(request) if has_body else None)
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


@router.put("/v1/campaigns/{name}")
async def set_campaign(
    request: Request, name: str = Path(min_length=1, max_length=128)
) -> Response:
    """Point a campaign at a version (admin): {"version"}; 404 for an unknown version."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    body = await read_json(request)
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version:
        raise ValidationError("version", "required: the model version to serve")
    # Loading checks the whole model: off the event loop, so other requests are not held up.
    active = await run_in_threadpool(runtime.models.set_campaign, name, version)
    return json_response({"name": name, "version": active.version, "recipe": active.recipe})
