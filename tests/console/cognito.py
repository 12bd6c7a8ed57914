"""API Gateway's Cognito user pool authorizer, played from a REST API's (Swagger 2.0) body as SAM
generates it: which authorizer guards a route, and whether a request's Authorization header
holds an ID token of that pool (RS256 signature by the pool's key, issuer, audience = one of
the pool's app clients, token_use id, not expired). The pool's keys are moto's (the key set
moto's cognito-idp signs every token with), so tokens moto issues are the ones accepted."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any


class Unauthorized(Exception):
    """API Gateway's ``401 {"message": "Unauthorized"}``."""


def guard(body: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """``{"name": ..., "type": "cognito_user_pools" | "awsSigv4" | None, "providers": [...]}`` for the route."""
    operation = body["paths"][path][method.lower()]
    [security] = operation.get("security") or [{"NONE": []}]
    [name] = security
    declared = (body.get("securityDefinitions") or {}).get(name, {})
    authorizer = declared.get("x-amazon-apigateway-authorizer") or {}
    return {
        "name": name,
        "type": declared.get("x-amazon-apigateway-authtype"),
        "providers": authorizer.get("providerARNs", []),
    }


def moto_key_set() -> Any:
    import moto.cognitoidp
    from joserfc.jwk import KeySet

    keys = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    return KeySet.import_key_set(json.loads(gzip.decompress(keys.read_bytes())))


def verify_id_token(token: str | None, pool_id: str, client_ids: set[str], region: str) -> dict[str, Any]:
    """The token's claims when API Gateway's Cognito authorizer would let it through, else Unauthorized."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    if not token:
        raise Unauthorized("no Authorization header")
    try:
        claims = dict(jwt.decode(token.removeprefix("Bearer "), moto_key_set(), algorithms=["RS256"]).claims)
    except (JoseError, ValueError) as error:
        raise Unauthorized(f"not a token signed by the pool: {error}") from error
    if claims.get("iss") != f"https://cognito-idp.{region}.amazonaws.com/{pool_id}":
        raise Unauthorized(f"issued by {claims.get('iss')}, not the pool {pool_id}")
    if claims.get("token_use") != "id" or claims.get("aud") not in client_ids:
        raise Unauthorized("not an ID token of the pool's app client")
    if int(claims.get("exp", 0)) <= time.time():
        raise Unauthorized("expired")
    return claims
