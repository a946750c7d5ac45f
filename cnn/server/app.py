"""The FastAPI application behind ``cnn serve``: the drawing page and its JSON API.

Routes:
    ``GET /``: the page (``static/index.html``; its script and style under ``/static/``).
    ``POST /api/predict``: one image, as a multipart file (any field name) or as the raw
        request body (``Content-Type: image/png``, ``image/jpeg``, ...). Query:
        ``activations=1`` adds the activation maps, ``model=<id>`` picks a network from
        ``GET /api/models``. Returns the object ``cnn predict --json`` gives per image (``file``,
        ``digit``, ``confidence``, ``probabilities``, ``label``, ``error``, ``uncertain``,
        ``rejected``, ``reason``, ``not_digit``: a "not a digit" answer has ``digit`` null,
        ``rejected`` true and a ``reason``, also for a blank canvas, and ``input`` null
        then; ``cnn serve --no-reject`` turns rejection off) plus
        ``model`` (model string), ``weights`` (the id used), ``input`` (the 28 x 28 network
        input as rows of integers 0..255) and, when asked, ``activations``: per convolution /
        pooling / residual token ``{"label", "channels", "height", "width", "offset",
        "scale", "data"}``, ``data`` the base64 of ``uint8`` values ``q`` in ``(C, H, W)``
        order with ``a = offset + q * scale / 255`` (``offset`` 0 for maps after a ReLU, else
        the smallest value; an ensemble's maps are its first member's).
        ``max_digits=N`` (1..16; 12, the default, as ``cnn predict``; 1: one digit only)
        reads a whole number as ``cnn predict --max-digits N`` does: ``number`` (``"42"``; ``"7"`` for a single digit; null
        for "not a digit") and ``digits``, per digit ``box`` ``[x0, y0, x1, y1]`` in the posted
        image's pixels, ``digit``, ``confidence``, ``top3``, ``not_digit``, ``probabilities``
        (ten floats), ``input`` (its 28 x 28) and, with ``activations=1``, its
        ``activations``. A number of two or more digits has ``digit``, ``confidence`` null and
        ``probabilities`` empty, and its first digit's ``input`` and ``activations`` at the top
        level; a single digit keeps the single-digit answer.
    ``GET /api/models``: the networks to pick from: the one served (``--weights``) first, then
        the other shipped models (never a file of the user's); each with ``id``, ``name``,
        ``model``, ``accuracy`` (recorded top-1 on the MNIST test set, or null) and
        ``default``.
    ``GET /api/health``: ``{"status": "ok", "version", "model", "weights", "pid"}`` (``pid``:
        the process that answered, one of ``cnn serve --workers N``'s).
    ``/docs``: FastAPI's OpenAPI page (Swagger UI served locally by fastapi-offline, part of the
        serve extra, so it works offline; ``/openapi.json`` is the schema).

Bad input gets a 4xx answer ``{"error": "<one line>"}`` (the line ``cnn predict`` prints) and
the server goes on. This module needs the ``cnn[serve]`` extra (FastAPI, uvicorn,
python-multipart); ``cnn serve`` checks for it first. No path is taken from a request (a model is chosen by its id in a list
built at start-up) and nothing is written to disk: request bodies are read into memory, at
most 10 MB, and multipart bodies are parsed there (python-multipart's streaming parser).
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from cnn import __version__
from cnn.errors import UserError
from cnn.server.images import MAX_UPLOAD_BYTES
from cnn.server.numbers import DEFAULT_MAX_DIGITS, MAX_DIGITS_LIMIT, parse_max_digits

MULTIPART_OVERHEAD = 64 * 1024  # bytes of multipart framing allowed beside the 10 MB file
DEFAULT_MIN_CONFIDENCE = 0.5


class RequestError(Exception):
    """A request the API refuses: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ModelEntry:
    """A network the page can pick: ``id`` (what a request names), ``name`` (file name or
    ``"ensemble of N files"``), ``model`` (model string), ``accuracy`` (recorded, or None),
    ``files`` (weights files; several make an ensemble) and the network once loaded."""

    id: str
    name: str
    model: str
    accuracy: float | None
    files: list[Path]
    network: object = field(default=None, repr=False)

    def public(self, default: bool) -> dict:
        return {"id": self.id, "name": self.name, "model": self.model,
                "accuracy": self.accuracy, "default": default}


class ModelStore:
    """The catalogue of networks (built once, at start-up) and the ones loaded so far.

    Args:
        weights: ``--weights`` values (files, folders or ``shipped``; ``None``: the shipped
            default model); they are loaded now, so a bad file fails at start-up.
        method: ``"mean"`` or ``"vote"`` for an ensemble.
    Raises:
        UserError: as :func:`cnn.tasks.predictor.load_predictor`.
    """

    def __init__(self, weights: list[str] | None = None, method: str = "mean") -> None:
        from cnn.io.catalog import default_weights, list_weights, read_weights_info
        from cnn.tasks.ensemble import expand_weights

        self.method = method
        self._lock = threading.Lock()
        files = expand_weights(weights) if weights else [default_weights()]
        if len(files) == 1:
            info = read_weights_info(files[0])
            served = ModelEntry(files[0].name, files[0].name, info.model if info else "?",
                                info.accuracy if info else None, files)
        else:
            served = ModelEntry("ensemble", f"ensemble of {len(files)} files", "", None, files)
        served.network = self._load(served)
        served.model = served.network.model_string
        self.default_id = served.id
        self.entries: dict[str, ModelEntry] = {served.id: served}
        served_file = [f.resolve() for f in served.files if len(served.files) == 1]
        for info in list_weights():  # the shipped models to switch to, never a user's file
            if (info.shipped and info.path.name not in self.entries
                    and info.path.resolve() not in served_file):
                self.entries[info.path.name] = ModelEntry(
                    info.path.name, info.path.name, info.model, info.accuracy, [info.path])

    def _load(self, entry: ModelEntry):
        from cnn.tasks.predictor import load_predictor

        return load_predictor([str(f) for f in entry.files], self.method)[1]

    def get(self, model_id: str | None) -> ModelEntry:
        """The entry named ``model_id`` (``None``: the served one), its network loaded.

        Raises:
            RequestError: 404 for an id not in the catalogue; 422 for a file that does not load.
        """
        entry = self.entries.get(model_id or self.default_id)
        if entry is None:
            raise RequestError(404, f"unknown model {model_id!r}: GET /api/models lists the "
                                    "ids to choose from")
        with self._lock:
            if entry.network is None:
                try:
                    entry.network = self._load(entry)
                except UserError as e:
                    raise RequestError(422, str(e)) from e
        return entry

    def listing(self) -> list[dict]:
        return [e.public(e.id == self.default_id) for e in self.entries.values()]


def encode_maps(maps: list[tuple[str, np.ndarray]]) -> list[dict]:
    """Activation maps as compact JSON: each ``(C, H, W)`` float array mapped linearly to
    ``uint8`` (``a = offset + q * scale / 255``, ``offset = min(0, a.min())``, ``scale =
    a.max() - offset``) and base64-encoded (see the module docstring)."""
    encoded = []
    for label, a in maps:
        offset = min(0.0, float(a.min())) if a.size else 0.0
        scale = float(a.max()) - offset if a.size else 0.0
        q = np.zeros(a.shape, np.uint8) if scale <= 0 else np.clip(
            np.rint((a - offset) * (255.0 / scale)), 0, 255).astype(np.uint8)
        c, h, w = a.shape
        encoded.append({"label": label, "channels": c, "height": h, "width": w,
                        "offset": offset, "scale": scale,
                        "data": base64.b64encode(q.tobytes()).decode("ascii")})
    return encoded


def predict_image(entry: ModelEntry, data: bytes, name: str, activations: bool,
                  min_confidence: float = DEFAULT_MIN_CONFIDENCE, rejector=None,
                  max_digits: int = DEFAULT_MAX_DIGITS) -> dict:
    """Preprocess one uploaded image and classify it with ``entry``'s network.

    ``rejector`` (a :class:`cnn.tasks.reject.Rejector`, or ``None`` for no rejection) answers "not a
    digit" as ``cnn predict`` does: ``digit`` null, ``rejected`` true and a one-line
    ``reason``, for an image the gate rejects and for one with no ink at all (a blank canvas);
    the digit probabilities are still given. ``max_digits`` > 1 reads a whole number too, as
    ``cnn predict --max-digits`` does (:func:`cnn.server.numbers.attach_number`): ``number``
    and ``digits``, each digit with its ``input`` (and ``activations`` when asked); a number of
    two or more digits gives its first digit's as the top-level ``input`` and ``activations``.

    Returns:
        the response object (see the module docstring).
    Raises:
        UserError: the image cannot be read, or holds no digit and ``rejector`` is ``None``.
    """
    from cnn.nn.losses import softmax
    from cnn.server.activations import activation_maps
    from cnn.server.images import NoInk, decode_upload, to_digit, upright_size
    from cnn.server.numbers import attach_number
    from cnn.tasks.ensemble import Ensemble, decide
    from cnn.tasks.memo import remembered, remembered_rejector
    from cnn.tasks.predict import (
        Prediction,
        confidence_of,
        label_from_name,
        mark_rejection,
    )
    from cnn.tasks.reject import split_not_digit

    # one request's networks remember their answers: the reader's segments and the chosen
    # digit are often inputs already scored
    network, rejector = remembered(entry.network), remembered_rejector(rejector)
    plain = entry.network  # its first member's layers are shown
    first = plain.members[0][1] if isinstance(plain, Ensemble) else plain
    choose, seen_maps = confidence_of(network), {}
    if activations and not isinstance(network, Ensemble):
        choose = _choose_keeping_maps(network, first, seen_maps)
    image = decode_upload(data, name)
    keep: dict = {}  # the ink found for the digit, which the number reader starts from
    try:
        x = to_digit(image, name, choose=choose, keep=keep)  # as cnn predict
    except NoInk as exc:
        if rejector is None:
            raise
        reason = str(exc).removeprefix(f"{name!r}: ")
        pred = Prediction(name, rejected=True, reason=f"not a digit: {reason}",
                          label=label_from_name(Path(name)))
        return dict(vars(pred), model=network.model_string, weights=entry.id, input=None)
    maps = None
    if activations:
        maps, logits = seen_maps.get(x.tobytes()) or activation_maps(first, x)
    if activations and not isinstance(network, Ensemble):
        raw = softmax(logits[None])
    else:
        raw = decide(network, x[None])[1]
    probabilities = split_not_digit(raw)[0][0]  # an 11-class network: its ten digits
    digit = int(probabilities.argmax())
    pred = Prediction(name, digit=digit, confidence=float(probabilities[digit]),
                      probabilities=[float(p) for p in probabilities],
                      label=label_from_name(Path(name)))
    pred.uncertain = pred.confidence < min_confidence
    if rejector is not None:
        rejected, p_not = rejector.judge(x[None], raw)
        mark_rejection(pred, rejector, bool(rejected[0]),
                       None if p_not is None else float(p_not[0]))
    number = None
    if max_digits > 1:
        number = attach_number(pred, image, network, rejector, max_digits, min_confidence,
                               upright_size(data, image), keep.get("ink_map"))
        del image, keep  # a photo's pixels: not kept while the maps are encoded
    result = dict(vars(pred))
    result.update(model=network.model_string, weights=entry.id, input=as_rows(x))
    if maps is not None:
        result["activations"] = encode_maps(maps)
    if number is not None:  # each digit its own 28 x 28 and maps; the first at the top level
        for d, crop in zip(result["digits"], number[0]):
            d["input"] = as_rows(crop)
            if activations:
                d["activations"] = encode_maps(activation_maps(first, crop)[0])
        result["input"] = result["digits"][0]["input"]
        if activations:
            result["activations"] = result["digits"][0]["activations"]
    elif result["digits"]:
        result["digits"][0]["input"] = result["input"]
    return result


def _choose_keeping_maps(network, plain, seen: dict):
    """A scorer of the single-digit pipeline's candidates (as
    :func:`cnn.tasks.predict.confidence_of`) for a request that shows the activation maps: a
    lone candidate (a canvas's digit, most photos') goes through the maps' forward pass of
    ``plain`` (the network ``network`` remembers, :class:`cnn.tasks.memo.Remembering`), its
    maps and logits kept in ``seen`` (keyed by the candidate's bytes) and its probabilities
    given to ``network``, so the chosen digit's maps and answers cost no second pass.
    Several candidates are scored in one batch as usual."""
    from cnn.nn.losses import softmax
    from cnn.server.activations import activation_maps
    from cnn.tasks.predict import confidence_of

    several = confidence_of(network)

    def choose(batch: np.ndarray) -> np.ndarray:
        if len(batch) != 1:
            return several(batch)
        maps, logits = activation_maps(plain, batch[0])
        probabilities = softmax(logits[None])
        network.remember(batch, probabilities)
        seen[batch[0].tobytes()] = (maps, logits)
        return probabilities.max(axis=1)
    return choose


def as_rows(x: np.ndarray) -> list[list[int]]:
    """A float ``(28, 28)`` image in [0, 1] as rows of integers 0..255 (JSON)."""
    return np.rint(x * 255).astype(np.uint8).tolist()


async def read_body(request, limit: int) -> bytes:
    """The request body, read into memory; refuses (413) more than ``limit`` bytes without
    reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, too_large(int(declared)))
    from starlette.requests import ClientDisconnect

    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, too_large(size, more=True))
            chunks.append(chunk)
    except ClientDisconnect:  # half a body, then the client went away: nobody to answer
        raise RequestError(400, f"the client disconnected after {size:,} bytes of the "
                                "body") from None
    return b"".join(chunks)


def too_large(size: int, more: bool = False, name: str = "upload") -> str:
    return (f"cannot read image {name!r}: the file is {'over ' if more else ''}"
            f"{size / 2**20:,.1f} MB, more than the {MAX_UPLOAD_BYTES // 2**20} MB allowed; "
            "save a smaller copy")


def first_file(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The first part of a ``multipart/form-data`` body (the file), parsed in memory.

    Returns:
        ``(data, file name)`` (``"upload"`` when the part names none).
    Raises:
        RequestError: 400 for a body that is not well-formed multipart or holds no part.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise RequestError(400, "multipart body without a boundary: send the image as a "
                                "multipart file or as the raw request body")
    parts: list[dict] = []
    header = {"field": b"", "value": b""}

    def on_part_begin():
        parts.append({"headers": {}, "data": []})

    def on_header_field(data, start, end):
        header["field"] += data[start:end]

    def on_header_value(data, start, end):
        header["value"] += data[start:end]

    def on_header_end():
        parts[-1]["headers"][header["field"].lower()] = header["value"]
        header["field"] = header["value"] = b""

    def on_part_data(data, start, end):
        parts[-1]["data"].append(data[start:end])

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_part_data": on_part_data})
    try:
        parser.write(body)
        parser.finalize()
    except Exception as e:  # noqa: BLE001 - python-multipart raises several kinds
        raise RequestError(400, f"malformed multipart body ({e}); send the image as a "
                                "multipart file or as the raw request body") from None
    files = [p for p in parts if b"filename" in parse_options_header(
        p["headers"].get(b"content-disposition", b""))[1]] or parts
    if not files:
        raise RequestError(400, "the multipart body holds no file; send the image as a "
                                "multipart file or as the raw request body")
    disposition = parse_options_header(files[0]["headers"].get(b"content-disposition", b""))[1]
    filename = disposition.get(b"filename", b"").decode("utf-8", "replace")
    return b"".join(files[0]["data"]), Path(filename).name or "upload"


def bounded(fn, *args):
    """``fn(*args)`` in one of :data:`cnn.server.memory.SLOTS` (at most a few requests are
    computed at once; the freed memory goes back to the system when the server goes idle)."""
    from cnn.server.memory import request_slot

    with request_slot():
        return fn(*args)


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"]}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def create_app(store: ModelStore, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
               rejector=None, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The FastAPI application serving ``store``'s networks.

    Args:
        store: the networks (:class:`ModelStore`).
        min_confidence: answers whose softmax confidence is below it are ``uncertain``.
        rejector: the "not a digit" rule (:class:`cnn.tasks.reject.Rejector`, e.g.
            ``Rejector.default()`` with the shipped gates), or ``None`` to always answer a digit.
        allowed_hosts: the ``Host`` names answered (:func:`cnn.server.hosts.allowed_hosts`;
            others get 400, against DNS rebinding); ``None``: any (``cnn serve`` always
            passes its list).
    """
    static = Path(str(resources.files(__package__) / "static"))
    try:  # /docs with Swagger UI's files served from the package, not a CDN: works offline
        from fastapi_offline import FastAPIOffline as make_app
    except ImportError:
        make_app = FastAPI
    app = make_app(title="cnn serve", version=__version__,
                  description="Draw a digit and watch a from-scratch NumPy CNN read it. "
                              "Bad input: a 4xx JSON object {\"error\": \"...\"}.")
    app.mount("/static", StaticFiles(directory=static), name="static")
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts,
                           www_redirect=False)

    @app.exception_handler(RequestError)
    async def refused(_request, exc: RequestError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(static / "index.html", media_type="text/html")

    @app.get("/api/health", summary="Is the server up, and what does it serve")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "model": store.get(None).model,
                "weights": store.default_id, "pid": os.getpid()}

    @app.get("/api/models", summary="The networks to choose from (the shipped ones)")
    def models() -> dict:
        return {"default": store.default_id, "models": store.listing()}

    @app.post("/api/predict", summary="Read the digit, or the number, in one image",
              openapi_extra=PREDICT_BODY)
    async def predict(request: Request,
                      activations: bool = Query(False, description="add activation maps"),
                      model: str | None = Query(None, description="an id from /api/models"),
                      name: str | None = Query(None, description="the image's name in the "
                                               "answer and in messages (raw bodies)"),
                      max_digits: str | None = Query(
                          None, description="read a whole number of up to this many digits, "
                          f"1 to {MAX_DIGITS_LIMIT} (default {DEFAULT_MAX_DIGITS}, as cnn predict; "
                          "1: one digit only)")):
        try:
            digits_wanted = parse_max_digits(max_digits)
        except UserError as e:
            raise RequestError(422, str(e)) from None
        content_type = request.headers.get("content-type", "")
        is_multipart = content_type.lower().startswith("multipart/form-data")
        body = await read_body(request, MAX_UPLOAD_BYTES + (MULTIPART_OVERHEAD if is_multipart
                                                            else 0))
        if is_multipart:
            data, name = first_file(body, content_type)
            if len(data) > MAX_UPLOAD_BYTES:
                raise RequestError(413, too_large(len(data), name=name))
        else:
            data, name = body, Path(name or "upload").name[:100] or "upload"
        entry = store.get(model)
        try:
            result = await run_in_threadpool(bounded, predict_image, entry, data, name,
                                             activations, min_confidence, rejector,
                                             digits_wanted)
        except UserError as e:
            message = str(e)
            status = 413 if "allowed" in message else 422 if "no digit" in message else 400
            raise RequestError(status, message) from None
        return JSONResponse(result)  # plain JSON types already: no jsonable_encoder pass

    return app
