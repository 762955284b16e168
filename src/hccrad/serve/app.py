"""The clinician-facing web page and JSON API for one model bundle (FastAPI, server-side rendered).

``create_app(bundle_path)`` loads the bundle once (JSON, or skops restricted to trusted types: never a pickle,
never anything uploaded) and serves:

* ``GET /``: a form generated from the bundle's variables (unit, definition, training range, categories) and,
  for imaging bundles, the upload of the case;
* ``POST /predict``: the result page (probability with its uncertainty, position on the training score
  distribution, contribution of each variable, risk group, habitat overlay) or the form again (422) with a
  message next to every missing or out-of-range field;
* ``POST /api/predict`` (JSON) and ``POST /api/predict-imaging`` (multipart): the same prediction as JSON;
  ``GET /api/model``: the fields; OpenAPI at ``/docs`` and ``/openapi.json``.

Safety: :func:`serve` binds to 127.0.0.1 unless told otherwise; an optional token is required on every route
except the static stylesheet (header ``X-Hccrad-Token``, ``Authorization: Bearer``, form field or query
``token``); request bodies larger than ``max_upload_mb`` are refused (413) and must declare their length
(411); at most ``max_files`` files per request and per archive; uvicorn's access log is off and the
library logs no input values, file names or identifiers.
"""

import hmac
import logging
import tempfile
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ConfigDict, Field as PydField, StrictFloat, create_model
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from hccrad.core.errors import HccradError, InputError
from hccrad.models.bundle import load_bundle
from hccrad.models.published import list_published, load_published
from hccrad.serve.fields import bundle_fields, check_servable, parse_inputs
from hccrad.serve.figures import overlay_png, score_position_svg, survival_svg
from hccrad.serve.imaging import (compute_case_features, extract_case_zip, imaging_feature_names,
                                  image_suffix, load_imaging_spec, load_model)
from hccrad.serve.predict import Prediction, predict_one
from hccrad.serve.schemas import PredictionOut, prediction_json

logger = logging.getLogger(__name__)

_PKG = resources.files("hccrad.serve")
PUBLIC_PATHS = ("/static/",)


class _BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` (413) and POST bodies of unknown length (411)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is None:
            return await _plain(send, 411, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError:
            return await _plain(send, 400, "invalid Content-Length")
        if n > self.max_bytes:
            return await _plain(send, 413, f"upload larger than the limit of {self.max_bytes // 2**20} MB")
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise InputError("request body exceeds its limit", field="upload")
            return message

        return await self.app(scope, counted, send)


async def _plain(send, status: int, text: str) -> None:
    body = f'{{"detail": "{text}"}}'.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _inputs_model(fields):
    """A pydantic model of the JSON inputs (documented in OpenAPI); every field optional so that missing
    values get hccrad's own per-field message."""
    defs = {}
    for i, f in enumerate(fields):
        desc = " ".join(p for p in [f.definition or "", f"unit: {f.unit}." if f.unit else "",
                                    f.describe_range() + "."] if p)
        defs[f"v{i}"] = (StrictFloat | None, PydField(default=None, alias=f.name, description=desc))
    return create_model("PatientInputs", __config__=ConfigDict(extra="forbid", populate_by_name=False), **defs)


def _detail(errors: dict[str, str], where: str = "body") -> list[dict]:
    return [{"loc": [where, k], "msg": v, "type": "value_error"} for k, v in errors.items()]


def create_app(bundle_path: Path, *, token: str | None = None, max_upload_mb: int = 200,
               max_files: int = 2000) -> FastAPI:
    """The FastAPI application serving one bundle: a bundle folder (or its bundle.json), or the name of a
    shipped published model (``hccrad.models.published.list_published``); see the module docstring."""
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
    max_bytes = int(max_upload_mb) * 2**20
    templates = Jinja2Templates(directory=str(_PKG / "templates"))
    Inputs = _inputs_model(all_fields)

    app = FastAPI(title=f"hccrad: {bundle.name}",
                  description=f"Individual prediction with the hccrad model bundle {bundle.name!r} "
                              f"(outcome: {bundle.spec.get('outcome', 'not stated')}). Research use.",
                  version="1")
    app.mount("/static", StaticFiles(directory=str(_PKG / "static")), name="static")
    app.state.bundle = bundle

    def _authorised(request: Request, form_token: str | None = None) -> bool:
        if token is None:
            return True
        auth = request.headers.get("authorization", "")
        candidates = [request.headers.get("x-hccrad-token"), request.query_params.get("token"), form_token,
                      auth[7:] if auth.lower().startswith("bearer ") else None]
        return any(c is not None and hmac.compare_digest(c.encode(), token.encode()) for c in candidates)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if token is not None and not path.startswith(PUBLIC_PATHS):
            ctype = request.headers.get("content-type", "")
            form_token = None
            if request.method == "POST" and ctype.startswith(("multipart/form-data", "application/x-www-form")):
                try:
                    await request.body()  # cached, so the route reads the same body again
                    form = await request.form(max_files=max_files, max_fields=len(all_fields) + 20)
                    value = form.get("token")
                    form_token = value if isinstance(value, str) else None
                except (HTTPException, MultiPartException):  # malformed form: no token can be read from it
                    form_token = None
            if not _authorised(request, form_token):
                return JSONResponse({"detail": "a valid token is required (header X-Hccrad-Token)"}, status_code=401)
        try:
            response = await call_next(request)
        except InputError as exc:  # raised by the body counter
            return JSONResponse({"detail": exc.message}, status_code=413)
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                                       "script-src 'none'; form-action 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_middleware(_BodyLimit, max_bytes=max_bytes)

    def _page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        base = {"bundle": bundle, "fields": fields, "imaging": imaging, "token": request.query_params.get("token")
                or ctx.pop("form_token", None), "values": {}, "errors": {}, "warnings": {}}
        base.update(ctx)
        return templates.TemplateResponse(request, name, base, status_code=status)

    @app.get("/", response_class=HTMLResponse, summary="The input form")
    async def index(request: Request):
        return _page(request, "form.html")

    async def _imaging_features(form) -> tuple[dict[str, float], dict | None, dict[str, str]]:
        """(features, overlay info, errors) from the uploaded files of a form."""
        if imaging is None:
            return {}, None, {}
        uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
        if len(uploads) > max_files:
            return {}, None, {"upload": f"more than {max_files} files"}
        if sum(k == "archive" for k, _ in uploads) > 1:
            return {}, None, {"archive": "upload one archive per case"}
        with tempfile.TemporaryDirectory(prefix="hccrad-serve-") as tmp:
            tmpdir = Path(tmp)
            files: dict[str, Path] = {}
            try:
                for key, up in uploads:
                    if key == "archive":
                        arch = tmpdir / "upload.zip"
                        arch.write_bytes(await up.read())
                        (tmpdir / "x").mkdir()
                        files.update(await run_in_threadpool(extract_case_zip, arch, tmpdir / "x", imaging.roles,
                                                             imaging.phases, max_files=max_files, max_bytes=max_bytes))
                    elif key.startswith("file_") and key[5:] in imaging.roles:
                        role = key[5:]
                        target = tmpdir / f"{role}{image_suffix(up.filename or '') or '.nii.gz'}"
                        target.write_bytes(await up.read())
                        files[role] = target
                result = await run_in_threadpool(compute_case_features, imaging, hab_model, files)
            except HccradError as exc:
                return {}, None, {(exc.field or "upload"): exc.message + (f" ({exc.hint})" if exc.hint else "")}
        png, z = await run_in_threadpool(overlay_png, result.reference, result.labels, result.n_habitats)
        return result.features, {"png": png, "slice": z, "fractions": result.habitat_fractions}, {}

    def _score(values: dict[str, float], warnings: dict[str, str], features: dict[str, float]) -> Prediction:
        return predict_one(bundle, {**values, **{k: v for k, v in features.items() if k in image_features}},
                           warnings=warnings, features={k: v for k, v in features.items() if k in image_features})

    @app.post("/predict", response_class=HTMLResponse, summary="Form submission: the result page")
    async def predict_form(request: Request):
        async with request.form(max_files=max_files, max_fields=len(all_fields) + 20) as form:  # closes temp files
            return await _predict_form(request, form)

    async def _predict_form(request: Request, form) -> HTMLResponse:
        raw = {k: v for k, v in form.items() if isinstance(v, str)}
        values, errors, warnings = parse_inputs(fields, raw)
        features, overlay, img_errors = ({}, None, {})
        if imaging is not None and not errors:
            features, overlay, img_errors = await _imaging_features(form)
        form_token = raw.get("token") if token is not None else None
        if errors or img_errors:
            return _page(request, "form.html", 422, values=raw, errors=errors, warnings=warnings,
                         image_errors=img_errors, form_token=form_token)
        try:
            pred = _score(values, warnings, features)
        except HccradError as exc:  # e.g. an image feature far outside the training range
            return _page(request, "form.html", 422, values=raw, errors={},
                         image_errors={exc.field or "upload": exc.message}, form_token=form_token)
        surv = survival_svg(bundle.spec, pred.score) if pred.survival is not None else None
        return _page(request, "result.html", pred=pred, overlay=overlay, svg=score_position_svg(pred, bundle.spec.get("link")),
                     rows=pred.contributions.to_dict("records"), form_token=form_token, survival_svg=surv)

    @app.post("/api/predict", response_model=PredictionOut, summary="Predict from variable values (JSON)",
              responses={422: {"description": "missing, non-numeric or out-of-range input; `loc` names the field"},
                         401: {"description": "token missing or wrong"}})
    async def predict_api(inputs: Inputs):  # type: ignore[valid-type]
        raw = inputs.model_dump(by_alias=True)
        values, errors, warnings = parse_inputs(all_fields, raw)
        if errors:
            return JSONResponse({"detail": _detail(errors)}, status_code=422)
        try:
            pred = predict_one(bundle, values, warnings=warnings)
        except HccradError as exc:
            return JSONResponse({"detail": _detail({exc.field or "body": exc.message})}, status_code=422)
        return prediction_json(pred)

    if imaging is not None:
        @app.post("/api/predict-imaging", response_model=PredictionOut,
                  summary="Predict from an uploaded case (multipart) and the clinical variables",
                  openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                      "type": "object", "properties": {
                          **{f.name: {"type": "number"} for f in fields},
                          "archive": {"type": "string", "format": "binary",
                                      "description": "zip of <role>.nii.gz files and/or <phase>/ DICOM folders"},
                          **{f"file_{r}": {"type": "string", "format": "binary"} for r in imaging.roles}}}}}}})
        async def predict_imaging_api(request: Request):
            async with request.form(max_files=max_files, max_fields=len(all_fields) + 20) as form:
                return await _predict_imaging(form)

        async def _predict_imaging(form):
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
            values, errors, warnings = parse_inputs(fields, raw)
            if errors:
                return JSONResponse({"detail": _detail(errors)}, status_code=422)
            features, _, img_errors = await _imaging_features(form)
            if img_errors:
                return JSONResponse({"detail": _detail(img_errors)}, status_code=422)
            try:
                pred = _score(values, warnings, features)
            except HccradError as exc:
                return JSONResponse({"detail": _detail({exc.field or "upload": exc.message})}, status_code=422)
            return prediction_json(pred)

    @app.get("/api/model", summary="The bundle's variables (the form fields)")
    async def model_info():
        return {"name": bundle.name, "kind": bundle.kind, "link": bundle.spec.get("link"),
                "outcome": bundle.spec.get("outcome"), "imaging": imaging is not None,
                "image_features": sorted(image_features),
                "fields": [{"name": f.name, "unit": f.unit, "definition": f.definition, "kind": f.kind,
                            "training_range": f.training_range, "accepted_range": f.accepted_range,
                            "choices": f.choices} for f in all_fields]}

    return app


def serve(bundle_path: Path | str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> None:
    """Run the page with uvicorn (blocking). Binding to anything but localhost without a token is refused."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise InputError(f"refusing to listen on {host} without a token", field="host",
                         hint="pass --token, or keep the default host 127.0.0.1")
    app = create_app(Path(bundle_path), token=token)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
