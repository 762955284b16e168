"""The clinician-facing web page and JSON API for one model bundle (FastAPI, server-side rendered).

``create_app(bundle_path)`` loads the bundle once (JSON, or skops restricted to trusted types: never a pickle,
never anything uploaded) and serves:

* ``GET /``: a form generated from the bundle's variables (unit, definition, training range, categories) and,
  for imaging bundles, the upload of the case;
* ``POST /predict``: the result page (probability with its uncertainty, position on the training score
  distribution, contribution of each variable, risk group, habitat overlay) or the form again (422) with a
  message next to every missing or out-of-range field;
* ``POST /api/predict`` (JSON) and ``POST /api/predict-imaging`` (multipart): the same prediction as JSON;
  ``GET /api/model``: the fields; the OpenAPI document at ``/openapi.json`` (no ``/docs`` or ``/redoc``
  pages: they load scripts from a CDN).

Safety (docs/serve.md, "Security"): :func:`serve` binds to 127.0.0.1 unless told otherwise. Every request
passes :class:`hccrad.serve.guard.RequestGuard` first, a pure ASGI middleware that checks the token (header
``X-Hccrad-Token``, ``Authorization: Bearer`` or query ``token``) before reading any body, caps JSON, form
and upload bodies separately while they stream, drops a stalled body and rejects unknown JSON keys cheaply.
Scoring, image feature extraction and page rendering run in a bounded worker-thread pool (``workers``), so
one heavy request never stalls the event loop. Error texts never show a server path
(:func:`scrub_paths`); uvicorn's access log is off and the library logs no input values, file names or
identifiers.
"""

import asyncio
import functools
import logging
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import anyio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ConfigDict, Field as PydField, StrictFloat, StrictStr, create_model
from starlette.datastructures import UploadFile

from hccrad.core.errors import HccradError, InputError
from hccrad.models.bundle import load_bundle
from hccrad.models.published import list_published, load_published
from hccrad.serve.fields import bundle_fields, check_servable, parse_inputs
from hccrad.serve.guard import Limits, RequestGuard, header_timeout_protocol
from hccrad.serve.figures import overlay_png, score_position_svg, survival_svg
from hccrad.serve.imaging import (compute_case_features, extract_case_zip, imaging_feature_names,
                                  image_suffix, load_imaging_spec, load_model)
from hccrad.serve.predict import Prediction, predict_one
from hccrad.serve.schemas import PredictionOut, prediction_json

logger = logging.getLogger(__name__)

_PKG = resources.files("hccrad.serve")
MAX_SHOWN_ERRORS = 10
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:[A-Za-z]:)?[\\/][^\s'\"()<>\[\],;]+")
_URL = re.compile(r"\bhttps?://", re.I)


def scrub_paths(text: str, *roots: str | Path) -> str:
    """``text`` without any absolute path: each given root (e.g. the temporary folder) becomes
    ``<upload>``, then anything that looks like an absolute POSIX or Windows path does."""
    for root in roots:
        text = text.replace(str(root), "<upload>")
    return _ABSOLUTE_PATH.sub("<upload>", text)


def without_links(text) -> str:
    """Bundle-provided text for a page: ``http(s)://`` dropped so no page refers to another host."""
    return _URL.sub("", str(text))


def _inputs_model(fields):
    """A pydantic model of the JSON inputs (documented in OpenAPI); every field optional so that missing
    values get hccrad's own per-field message."""
    defs = {}
    for i, f in enumerate(fields):
        desc = " ".join(p for p in [f.definition or "", f"unit: {f.unit}." if f.unit else "",
                                    f.describe_range() + "."] if p)
        kind = StrictStr if f.levels else StrictFloat  # a categorical variable takes its level's text
        defs[f"v{i}"] = (kind | None, PydField(default=None, alias=f.name, description=desc))
    return create_model("PatientInputs", __config__=ConfigDict(extra="forbid", populate_by_name=False), **defs)


def _detail(errors: dict[str, str], where: str = "body") -> list[dict]:
    return [{"loc": [where, k], "msg": v, "type": "value_error"} for k, v in errors.items()]


def create_app(bundle_path: Path, *, token: str | None = None, max_upload_mb: int = 200,
               max_files: int = 2000, limits: Limits | None = None, workers: int = 4) -> FastAPI:
    """The FastAPI application serving one bundle: a bundle folder (or its bundle.json), or the name of a
    shipped published model (``hccrad.models.published.list_published``); see the module docstring.

    ``limits`` (:class:`hccrad.serve.guard.Limits`) sets every request limit; without it the defaults apply
    with ``max_upload_mb`` and ``max_files``. ``workers``: threads for scoring, images and page rendering."""
    if limits is None:
        limits = Limits(max_upload_bytes=int(max_upload_mb) * 2**20, max_files=int(max_files))
    if int(workers) < 1:
        raise InputError("workers must be at least 1", field="workers")
    max_files, max_bytes = limits.max_files, limits.max_upload_bytes
    bundle_path = Path(bundle_path)
    if not bundle_path.exists() and str(bundle_path) in list_published():
        bundle = load_published(str(bundle_path))  # a shipped published model, by name
    else:
        bundle = load_bundle(bundle_path)
    check_servable(bundle)
    folder = bundle.path or bundle_path
    imaging = load_imaging_spec(folder)
    hab_model, image_features = None, set()
    if imaging is not None:
        hab_model = load_model(imaging)
        names = set(imaging_feature_names(imaging, hab_model.n_habitats_))
        image_features = names & set(bundle.input_features)
        if not image_features:
            logger.info("imaging spec present but bundle %s uses no image feature; upload disabled", bundle.name)
            imaging = None
    fields = bundle_fields(bundle, exclude=image_features)
    all_fields = bundle_fields(bundle)
    templates = Jinja2Templates(directory=str(_PKG / "templates"))
    templates.env.filters["without_links"] = without_links
    Inputs = _inputs_model(all_fields)
    form_limits = {"max_files": max_files, "max_fields": len(all_fields) + 20}

    app = FastAPI(title=f"hccrad: {bundle.name}",
                  description=f"Individual prediction with the hccrad model bundle {bundle.name!r} "
                              f"(outcome: {bundle.spec.get('outcome', 'not stated')}). Research use.",
                  version="1", docs_url=None, redoc_url=None)  # /docs and /redoc load scripts from a CDN
    app.mount("/static", StaticFiles(directory=str(_PKG / "static")), name="static")
    app.state.bundle = bundle
    app.state.limits = limits
    app.add_middleware(RequestGuard, limits=limits, token=token,
                       upload_paths=frozenset({"/predict", "/api/predict-imaging"} if imaging is not None else ()),
                       json_keys={"/api/predict": frozenset(f.name for f in all_fields)})

    pool: dict = {"loop": None, "limiter": None}

    async def offload(fn, *args, **kwargs):
        """Run ``fn`` in the bounded worker pool (one limiter per event loop)."""
        loop = asyncio.get_running_loop()
        if pool["loop"] is not loop:
            pool["loop"], pool["limiter"] = loop, anyio.CapacityLimiter(int(workers))
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=pool["limiter"])

    @app.exception_handler(RequestValidationError)
    async def small_validation_error(request: Request, exc: RequestValidationError):
        """422 with at most MAX_SHOWN_ERRORS entries and never the submitted input itself."""
        errors = list(exc.errors())
        detail = [{"loc": list(e.get("loc", ()))[:3], "msg": str(e.get("msg", ""))[:200], "type": e.get("type")}
                  for e in errors[:MAX_SHOWN_ERRORS]]
        if len(errors) > MAX_SHOWN_ERRORS:
            detail.append({"loc": ["body"], "msg": f"and {len(errors) - MAX_SHOWN_ERRORS} more error(s)",
                           "type": "value_error"})
        return JSONResponse({"detail": detail}, status_code=422)

    def _page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        base = {"bundle": bundle, "fields": fields, "imaging": imaging, "token": request.query_params.get("token"),
                "values": {}, "errors": {}, "warnings": {}}
        base.update(ctx)
        return templates.TemplateResponse(request, name, base, status_code=status)

    @app.get("/", response_class=HTMLResponse, summary="The input form")
    async def index(request: Request):
        return await offload(_page, request, "form.html")

    def _save_uploads(uploads, tmpdir: Path) -> dict[str, Path]:
        """Copy the uploaded files (already spooled by the form parser) under names made from their role."""
        files: dict[str, Path] = {}
        for key, up in uploads:
            if key == "archive":
                arch = tmpdir / "upload.zip"
                with open(arch, "wb") as fh:
                    shutil.copyfileobj(up.file, fh, 1 << 20)
                (tmpdir / "x").mkdir()
                files.update(extract_case_zip(arch, tmpdir / "x", imaging.roles, imaging.phases,
                                              max_files=max_files, max_bytes=max_bytes))
            elif key.startswith("file_") and key[5:] in imaging.roles:
                role = key[5:]
                target = tmpdir / f"{role}{image_suffix(up.filename or '') or '.nii.gz'}"
                with open(target, "wb") as fh:
                    shutil.copyfileobj(up.file, fh, 1 << 20)
                files[role] = target
        return files

    def _case_features(uploads) -> tuple[dict[str, float], dict | None, dict[str, str]]:
        """(features, overlay info, errors) for the uploaded files; runs in the worker pool."""
        with tempfile.TemporaryDirectory(prefix="hccrad-serve-") as tmp:
            try:
                files = _save_uploads(uploads, Path(tmp))
                result = compute_case_features(imaging, hab_model, files)
            except HccradError as exc:
                text = exc.message + (f" ({exc.hint})" if exc.hint else "")
                return {}, None, {(exc.field or "upload"): scrub_paths(text, tmp)}
        png, z = overlay_png(result.reference, result.labels, result.n_habitats)
        return result.features, {"png": png, "slice": z, "fractions": result.habitat_fractions}, {}

    async def _imaging_features(form) -> tuple[dict[str, float], dict | None, dict[str, str]]:
        if imaging is None:
            return {}, None, {}
        uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
        if len(uploads) > max_files:
            return {}, None, {"upload": f"more than {max_files} files"}
        if sum(k == "archive" for k, _ in uploads) > 1:
            return {}, None, {"archive": "upload one archive per case"}
        return await offload(_case_features, uploads)

    def _score(values: dict[str, float], warnings: dict[str, str], features: dict[str, float]) -> Prediction:
        return predict_one(bundle, {**values, **{k: v for k, v in features.items() if k in image_features}},
                           warnings=warnings, features={k: v for k, v in features.items() if k in image_features})

    @app.post("/predict", response_class=HTMLResponse, summary="Form submission: the result page")
    async def predict_form(request: Request):
        async with request.form(**form_limits) as form:  # closes temp files
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
            values, errors, warnings = parse_inputs(fields, raw)
            features, overlay, img_errors = ({}, None, {})
            if imaging is not None and not errors:
                features, overlay, img_errors = await _imaging_features(form)
        return await offload(_form_answer, request, raw, values, errors, warnings, features, overlay, img_errors)

    def _form_answer(request, raw, values, errors, warnings, features, overlay, img_errors) -> HTMLResponse:
        """The form again (422) or the result page; runs in the worker pool (scoring, figures, rendering)."""
        if errors or img_errors:
            return _page(request, "form.html", 422, values=raw, errors=errors, warnings=warnings,
                         image_errors=img_errors)
        try:
            pred = _score(values, warnings, features)
        except HccradError as exc:  # e.g. an image feature far outside the training range
            return _page(request, "form.html", 422, values=raw, errors={},
                         image_errors={exc.field or "upload": scrub_paths(exc.message)})
        surv = survival_svg(bundle.spec, pred.score) if pred.survival is not None else None
        return _page(request, "result.html", pred=pred, overlay=overlay,
                     svg=score_position_svg(pred, bundle.spec.get("link")),
                     rows=pred.contributions.to_dict("records"), survival_svg=surv)

    def _json_answer(values, errors, warnings, features=None):
        """The JSON answer for validated inputs; runs in the worker pool."""
        if errors:
            return JSONResponse({"detail": _detail(errors)}, status_code=422)
        try:
            pred = _score(values, warnings, features or {})
        except HccradError as exc:
            return JSONResponse({"detail": _detail({exc.field or "body": scrub_paths(exc.message)})}, status_code=422)
        return prediction_json(pred)

    @app.post("/api/predict", response_model=PredictionOut, summary="Predict from variable values (JSON)",
              responses={422: {"description": "missing, non-numeric, impossible or out-of-range input, or an "
                                              "unknown key; `loc` names the field"},
                         401: {"description": "token missing or wrong"},
                         413: {"description": "body over the JSON size limit"}})
    async def predict_api(inputs: Inputs):  # type: ignore[valid-type]
        raw = inputs.model_dump(by_alias=True)
        return await offload(lambda: _json_answer(*parse_inputs(all_fields, raw)))

    if imaging is not None:
        @app.post("/api/predict-imaging", response_model=PredictionOut,
                  summary="Predict from an uploaded case (multipart) and the clinical variables",
                  openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                      "type": "object", "properties": {
                          **{f.name: ({"type": "string", "enum": list(f.levels)} if f.levels else {"type": "number"})
                             for f in fields},
                          "archive": {"type": "string", "format": "binary",
                                      "description": "zip of <role>.nii.gz files and/or <phase>/ DICOM folders"},
                          **{f"file_{r}": {"type": "string", "format": "binary"} for r in imaging.roles}}}}}}})
        async def predict_imaging_api(request: Request):
            async with request.form(**form_limits) as form:
                raw = {k: v for k, v in form.items() if isinstance(v, str)}
                values, errors, warnings = parse_inputs(fields, raw)
                if errors:
                    return JSONResponse({"detail": _detail(errors)}, status_code=422)
                features, _, img_errors = await _imaging_features(form)
            if img_errors:
                return JSONResponse({"detail": _detail(img_errors)}, status_code=422)
            return await offload(_json_answer, values, {}, warnings, features)

    @app.get("/api/model", summary="The bundle's variables (the form fields)")
    async def model_info():
        return {"name": bundle.name, "kind": bundle.kind, "link": bundle.spec.get("link"),
                "outcome": bundle.spec.get("outcome"), "imaging": imaging is not None,
                "image_features": sorted(image_features),
                "fields": [{"name": f.name, "unit": f.unit, "definition": f.definition, "kind": f.kind,
                            "training_range": f.training_range, "accepted_range": f.accepted_range,
                            "choices": f.choices, "levels": f.levels, **(f.rule.as_dict() if f.rule else {})} for f in all_fields]}

    return app


def serve(bundle_path: Path | str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, *,
          limits: Limits | None = None, workers: int = 4, keep_alive_s: int = 5, max_connections: int = 100,
          header_timeout_s: float = 10.0) -> None:
    """Run the page with uvicorn (blocking). Binding to anything but localhost without a token is refused.

    ``keep_alive_s``: an idle kept-alive connection is closed after this many seconds (uvicorn's
    ``timeout_keep_alive``); ``max_connections``: above this many open connections and tasks uvicorn answers
    503 (``limit_concurrency``); ``header_timeout_s``: a connection whose request headers are not complete
    this long after it opened (or after the previous answer) is closed."""
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise InputError(f"refusing to listen on {host} without a token", field="host",
                         hint="pass --token, or keep the default host 127.0.0.1")
    app = create_app(Path(bundle_path), token=token, limits=limits, workers=workers)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", timeout_keep_alive=keep_alive_s,
                limit_concurrency=max_connections, http=header_timeout_protocol(header_timeout_s), server_header=False)
