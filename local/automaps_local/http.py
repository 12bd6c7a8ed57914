"""A small HTTP front (WSGI, werkzeug) that plays API Gateway for the local runtime.

Requests on the routes template.yaml declares (``Type: Api`` events) become REST API proxy
events (payload format 1.0), the handler runs in-process, and its proxy response becomes the
HTTP response. Like API Gateway: an unknown path or a method the resource does not declare is
``403 {"message": "Missing Authentication Token"}``; a handler that raises or returns something
that is not a proxy response is ``502 {"message": "Internal server error"}``. Paths work with or
without the stage prefix (``/forms/x`` and ``/v1/forms/x``).

Local-only endpoints live under ``/_local/`` and exist nowhere in AWS:
``GET /_local/outbox`` (each email with the ``template`` it was rendered from and the ``map_id``,
``step_id`` and ``contact_id`` of its send), ``GET /_local/contacts?email=`` (or ``?id=``), ``GET /_local/executions``,
``GET /_local/clock``, ``POST /_local/clock/advance?seconds=N``, and ``POST /_local/ses-events``
with ``{"message_id": ..., "type": "Delivery" | "Open" | "Click" | "Bounce" | "Complaint",
"link": ..., "bounce_type": "Permanent" | "Transient"}``, which plays SES publishing that event
of an outbox email through EventBridge (``LocalRuntime.ses_event``). ``POST /_local/ingest/sign``
answers the ``Automaps-Signature`` header for the posted body, signed with the stack's ingestion
secret at virtual now (the 5-minute tolerance is checked against the virtual clock).
``POST /_local/publish`` with ``{"map": "maps/<id>.yaml", "policy": "keep" | "move" | "remove"}``
publishes an edited map on the running backend (``LocalRuntime.publish``), and ``GET
/_local/census?map=<id>`` says where the contacts inside it stand, ``GET /_local/stats?map=<id>``
gives its numbers per step (without ``map``: every map's, a list). ``GET
/_local/explain?contact=<email|phone|id>[&why_not=<step>&map=<id>]`` tells a contact's journeys
(``automaps explain``).

Routes behind a Cognito authorizer (the console's JSON, template.yaml ConsoleSignIn) are served
without sign-in only while the server is bound to loopback (127.0.0.1, ::1, localhost) and the
request's Host header names loopback too (so a page elsewhere cannot rebind a name to us); bound
to any other address they answer API Gateway's ``401 {"message": "Unauthorized"}``: there is no
user pool locally to sign in with.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import uuid
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from automaps import clock as app_clock
from automaps_local.runtime import LocalRuntime
from automaps_local.stack import ACCOUNT, Route

LOG = logging.getLogger(__name__)
LOCAL_PREFIX = "/_local/"
API_ID = "local"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return app_clock.iso(value)
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=_json_default, indent=1), status=status, mimetype="application/json")


class LocalApi:
    """The WSGI application: ``LocalApi(runtime)``; serve it with werkzeug or call it in tests."""

    def __init__(self, runtime: LocalRuntime, stage: str | None = None, host: str = "127.0.0.1") -> None:
        self.runtime = runtime
        self.stage = stage or str(runtime._stack.resolver.refs.get("StageName") or "v1")
        self.routes = [(route, route.pattern()) for route in runtime.routes()]
        self.loopback = is_loopback(host)
        self.signed_in = {(r.function, r.event) for r in runtime.routes() if sign_in_authorizer(runtime, r)}
        # like a Lambda instance, a function takes one request at a time: Powertools' resolver keeps
        # the current request on the handler module's app (concurrent requests would mix them up)
        self._busy = {route.function: threading.Lock() for route, _ in self.routes}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith(LOCAL_PREFIX):
            response = self._local(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    # ------------------------------------------------------------------ the API
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, pattern in self.routes:
            found = pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, found.groupdict()
        return None

    def _api(self, request: Request) -> Response:
        path = request.path
        if path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :]
        matched = self.match(request.method, path)
        if matched is None:
            return json_response({"message": "Missing Authentication Token"}, 403)
        route, parameters = matched
        if (route.function, route.event) in self.signed_in and not self.sign_in_skipped(request):
            return json_response({"message": "Unauthorized"}, 401)
        event = proxy_event(request, route, path, parameters, self.stage)
        try:
            with self._busy[route.function]:
                result = self.runtime.invoke(route.function, event)
            return proxy_response(result)
        except Exception:
            LOG.exception("%s %s: %s failed", request.method, path, route.function)
            return json_response({"message": "Internal server error"}, 502)

    def sign_in_skipped(self, request: Request) -> bool:
        """Sign-in is skipped on loopback only: bound there, and asked by a loopback name."""
        return self.loopback and is_loopback(host_name(request.host or ""))

    # ------------------------------------------------------------------ local-only endpoints
    def _local(self, request: Request) -> Response:
        endpoint = request.path[len(LOCAL_PREFIX) :].rstrip("/")
        handlers = {
            ("GET", "outbox"): lambda: json_response(self.runtime.outbox()),
            ("GET", "contacts"): lambda: self._contact(request),
            ("GET", "executions"): lambda: json_response(self.runtime.executions(request.args.get("map_id"))),
            ("GET", "clock"): lambda: json_response(self._clock()),
            ("POST", "clock/advance"): lambda: self._advance(request),
            ("POST", "ses-events"): lambda: self._ses_event(request),
            ("POST", "ingest/sign"): lambda: self._sign_ingest(request),
            ("POST", "publish"): lambda: self._publish(request),
            ("GET", "census"): lambda: self._census(request),
            ("GET", "explain"): lambda: self._explain(request),
            ("GET", "stats"): lambda: self._stats(request),
        }
        handler = handlers.get((request.method, endpoint))
        if handler is None:
            return json_response({"message": f"no local endpoint {request.method} {request.path}"}, 404)
        return handler()

    def _contact(self, request: Request) -> Response:
        email, contact_id = request.args.get("email"), request.args.get("id")
        if not (email or contact_id):
            return json_response({"message": "pass ?email= or ?id="}, 400)
        found = self.runtime.contact(email=email, contact_id=contact_id)
        if found is None:
            return json_response({"message": "no such contact"}, 404)
        return json_response(found)

    def _clock(self) -> dict[str, Any]:
        clock = self.runtime.clock
        stats = clock.stats()
        return {
            "now": app_clock.iso(clock.now()),
            "mode": "discrete" if clock.discrete else "scaled",
            "time_scale": clock.time_scale,
            "running": stats["running"],
            "participants": stats["participants"],
            "next_deadline": stats["next_deadline"],
        }

    def _ses_event(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"{}")
            message_id, event_type = body["message_id"], body["type"]
        except (ValueError, KeyError, TypeError):
            return json_response(
                {"message": 'pass {"message_id": ..., "type": "Open" | "Click" | "Delivery" | "Bounce" | "Complaint"}'},
                400,
            )
        options = {key: body[key] for key in ("link", "bounce_type", "feedback_type") if body.get(key)}
        try:
            published = self.runtime.ses_event(str(message_id), str(event_type), **options)
        except LookupError as error:
            return json_response({"message": str(error)}, 404)
        except ValueError as error:
            return json_response({"message": str(error)}, 400)
        return json_response(published, 202)

    def _publish(self, request: Request) -> Response:
        """``automaps publish`` on this runtime: ``{"map": "maps/<id>.yaml", "policy": "keep"}`` (a
        path relative to the project folder, or absolute), answered with what it did."""
        from automaps.maps.loader import MapError
        from automaps_local.publish import PublishError

        try:
            body = json.loads(request.get_data() or b"{}")
            path = (self.runtime.root / str(body["map"])).resolve()
            policy = str(body.get("policy", "keep"))
        except (ValueError, KeyError, TypeError):
            return json_response(
                {"message": 'pass {"map": "maps/<id>.yaml", "policy": "keep" | "move" | "remove"}'}, 400
            )
        if not path.is_file():
            return json_response({"message": f"no map file {body['map']!r} (relative to the project folder)"}, 404)
        try:
            done = self.runtime.publish(path, policy)
        except (MapError, PublishError, ValueError) as error:
            return json_response({"message": str(error)}, 400)
        return json_response({"lines": done.lines(), "migration": done.migration.model_dump(mode="json")})

    def _census(self, request: Request) -> Response:
        """Where the live contacts of ``?map=<id>`` stand (automaps.journeys.census)."""
        from automaps.journeys.census import census

        map_id = request.args.get("map")
        if not map_id:
            return json_response({"message": "pass ?map=<map id>"}, 400)
        counted = census(map_id)
        return json_response(
            {
                "map_id": map_id,
                "total": counted.total,
                "by_step": counted.by_step(),
                "counts": [c.model_dump(mode="json") for c in counted.counts],
            }
        )

    def _stats(self, request: Request) -> Response:
        """The numbers of ``?map=<id>`` (automaps.journeys.stats.read_map), or of every map without it."""
        from automaps.api import stats

        map_id = request.args.get("map")
        reply = stats.read(map_id) if map_id is not None else stats.read_all()
        payload = json.loads(reply.body)
        return json_response(payload["maps"] if map_id is None and reply.status == 200 else payload, reply.status)

    def _explain(self, request: Request) -> Response:
        """``automaps explain`` on this runtime: ``?contact=<email|phone|id>[&why_not=<step>&map=<id>]``
        (automaps.journeys.explain), answered ``{"text", **to_dict()}``; unknown contact/map/step: 404."""
        from automaps.journeys.explain import ExplainError, answer

        who = request.args.get("contact", "").strip()
        if not who:
            return json_response({"message": "pass ?contact=<email, phone or contact id>"}, 400)
        try:
            found = answer(
                who, why_not_step=request.args.get("why_not") or None, map_id=request.args.get("map") or None
            )
        except ExplainError as error:
            return json_response({"message": str(error.args[0] if error.args else error)}, 404)
        return json_response({"text": found.text(), **found.to_dict()})

    def _sign_ingest(self, request: Request) -> Response:
        """The Automaps-Signature header for the posted body, signed at virtual now (plain text, for curl)."""
        import os

        from automaps import secrets
        from automaps.intake.ingest import signature

        secret = secrets.get(os.environ["INGEST_SECRET_ARN"])
        header = signature(secret, request.get_data(), int(app_clock.now().timestamp()))
        return Response(header, mimetype="text/plain")

    def _advance(self, request: Request) -> Response:
        try:
            seconds = float(request.args["seconds"])
        except (KeyError, ValueError):
            return json_response({"message": "pass ?seconds=N"}, 400)
        self.runtime.clock.advance(seconds)
        return json_response(self._clock())


def is_loopback(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK


def host_name(host: str) -> str:
    """``127.0.0.1:3000`` -> ``127.0.0.1``, ``[::1]:3000`` -> ``::1``, ``localhost`` -> ``localhost``."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def sign_in_authorizer(runtime: LocalRuntime, route: Route) -> str | None:
    """The Cognito authorizer (its name) in front of ``route``: the event's ``Auth.Authorizer``,
    else its API's ``DefaultAuthorizer``, when the API declares it with a ``UserPoolArn``."""
    template = runtime._stack.template
    function = template.of_type("AWS::Serverless::Function").get(route.function, {})
    props = (function.get("Properties", {}).get("Events") or {}).get(route.event, {}).get("Properties", {})
    api_ref = props.get("RestApiId")
    api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
    auth = template.of_type("AWS::Serverless::Api").get(api_id or "", {}).get("Properties", {}).get("Auth") or {}
    name = (props.get("Auth") or {}).get("Authorizer") or auth.get("DefaultAuthorizer")
    declared = (auth.get("Authorizers") or {}).get(name or "") or {}
    return name if isinstance(declared, dict) and "UserPoolArn" in declared else None


# ---------------------------------------------------------------------- event conversion
def proxy_event(request: Request, route: Route, path: str, parameters: dict[str, str], stage: str) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for ``request`` on ``route``."""
    headers = _multi(request.headers.items())
    source_ip = request.remote_addr or "127.0.0.1"
    headers.setdefault("X-Forwarded-For", [source_ip])
    query = _multi(request.args.items(multi=True))
    body, is_base64 = _body(request.get_data())
    now = app_clock.now()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "resourceId": "local",
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "identity": {"sourceIp": source_ip, "userAgent": request.headers.get("User-Agent")},
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _multi(pairs: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def _body(data: bytes) -> tuple[str | None, bool]:
    if not data:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), True


def proxy_response(result: Any) -> Response:
    """The HTTP response for a Lambda proxy integration result (statusCode, headers, body)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise ValueError(f"not a proxy response: {str(result)[:200]}")
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body)
        except binascii.Error as error:
            raise ValueError("isBase64Encoded body is not base64") from error
    response = Response(body, status=result["statusCode"])
    response.headers.remove("Content-Type")
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if key in (result.get("headers") or {}):
            response.headers.remove(key)
        for value in values:
            response.headers.add(key, str(value))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response
