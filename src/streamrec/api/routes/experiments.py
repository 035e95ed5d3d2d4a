"""A/B experiments between campaigns (admin): PUT /v1/experiments/{name}, GET /v1/experiments,
GET /v1/experiments/{name} (with results), POST /v1/experiments/{name}/stop and
POST /v1/experiments/{name}/promote {"variant"} (the served campaign then points at that
variant's campaign's version, and the experiment stops). See :mod:`streamrec.experiments`."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.body import read_json
from streamrec.api.openapi import AUTH_ERRORS, request_body, response_of
from streamrec.api.responses import json_response
from streamrec.api.schemas import PromoteRequest, StopRequest, decode_body
from streamrec.api.state import runtime_of
from streamrec.errors import ValidationError
from streamrec.experiments.definition import NAME_PATTERN, Experiment, ExperimentSpec
from streamrec.experiments.results import experiment_results
from streamrec.runtime import Runtime

router = APIRouter(tags=["experiments"])


def _name() -> Any:
    return Path(pattern=NAME_PATTERN, description="Letters, digits, _ . - (at most 64)")


def _admin(request: Request) -> Runtime:
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    return runtime


def _json(experiment: Experiment) -> dict[str, Any]:
    return msgspec.to_builtins(experiment)  # type: ignore[no-any-return]


def _with_results(runtime: Runtime, experiment: Experiment) -> dict[str, Any]:
    results = experiment_results(experiment, runtime.attribution)
    return {**_json(experiment), "results": dataclasses.asdict(results)}


ONE = {200: response_of("Experiment", "The experiment"), **AUTH_ERRORS}


@router.put("/v1/experiments/{name}", openapi_extra=request_body("ExperimentSpec"), responses=ONE)
async def put_experiment(request: Request, name: str = _name()) -> Response:
    """Create or replace a running experiment: {"variants": [{"name", "campaign", "share"}],
    "metric": click | purchase | revenue, "routes": [recommendations | rank]}."""
    runtime = _admin(request)
    spec = decode_body(await read_json(request), ExperimentSpec)
    experiment = await run_in_threadpool(runtime.experiments.put, name, spec)
    return json_response(_json(experiment))


@router.get(
    "/v1/experiments",
    responses={200: response_of("ExperimentList", "Every experiment"), **AUTH_ERRORS},
)
async def list_experiments(request: Request) -> Response:
    """Every experiment, running or stopped (without results)."""
    runtime = _admin(request)
    experiments = await run_in_threadpool(runtime.experiments.all)
    return json_response({"experiments": [_json(e) for e in experiments]})


@router.get(
    "/v1/experiments/{name}",
    responses={200: response_of("ExperimentWithResults", "With results"), **AUTH_ERRORS},
)
async def get_experiment(request: Request, name: str = _name()) -> Response:
    """The experiment and its results per variant: users, conversions, rates, the difference
    to the control with an always-valid 95% interval and p-value, sample-ratio check, winner."""
    runtime = _admin(request)
    experiment = await run_in_threadpool(runtime.experiments.get, name)
    return json_response(await run_in_threadpool(_with_results, runtime, experiment))


@router.post(
    "/v1/experiments/{name}/stop",
    openapi_extra={
        "requestBody": {**request_body("StopRequest")["requestBody"], "required": False}
    },
    responses=ONE,
)
async def stop_experiment(request: Request, name: str = _name()) -> Response:
    """Stop assigning users; every request is served by the served campaign again."""
    runtime = _admin(request)
    if (await request.body()).strip():
        decode_body(await read_json(request), StopRequest)
    return json_response(_json(await run_in_threadpool(runtime.experiments.stop, name)))


def _promote(runtime: Runtime, name: str, variant_name: str) -> Experiment:
    experiment = runtime.experiments.get(name)
    variant = experiment.variant(variant_name)
    if variant is None:
        raise ValidationError("variant", f"experiment {name!r} has no variant {variant_name!r}")
    version = runtime.models.campaign_version(variant.campaign)
    if version is None:
        raise ValidationError("variant", f"campaign {variant.campaign!r} points to no version")
    runtime.models.set_campaign(runtime.settings.campaign, version)
    return runtime.experiments.stop(name, promoted=variant.name)


@router.post(
    "/v1/experiments/{name}/promote", openapi_extra=request_body("PromoteRequest"), responses=ONE
)
async def promote_experiment(request: Request, name: str = _name()) -> Response:
    """Point the served campaign at the variant's campaign's model version and stop."""
    runtime = _admin(request)
    body = decode_body(await read_json(request), PromoteRequest)
    return json_response(_json(await run_in_threadpool(_promote, runtime, name, body.variant)))
