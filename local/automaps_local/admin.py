"""`automaps admin METHOD PATH --stack-name S`: call the admin API (IAM auth) signed with SigV4.

    automaps admin GET '/tasks?assignee=sam@example.com' --stack-name automaps
    automaps admin POST /tasks/t_123/complete --stack-name automaps --data '{"note": "called back"}'
    automaps admin GET /fulfillment/welcome-kit --stack-name automaps > welcome-kit.csv

The base URL is the stack's ``AdminApiUrl`` output (or ``--url``); the request is signed with
botocore's SigV4Auth for the service ``execute-api`` with your usual credentials (environment,
profile, SSO), as `awscurl --service execute-api` does. The caller needs ``execute-api:Invoke`` on
the API. The answer's body goes to standard output; the exit code is 0 for a 2xx answer, else 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SERVICE = "execute-api"
TIMEOUT_SECONDS = 30


class AdminCallError(RuntimeError):
    pass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def admin_url(stack_name: str) -> str:
    """The stack's AdminApiUrl output."""
    from automaps import aws

    [stack] = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if not outputs.get("AdminApiUrl"):
        raise AdminCallError(f"stack {stack_name} has no AdminApiUrl output (deploy the current template.yaml)")
    return outputs["AdminApiUrl"].rstrip("/")


def signed_request(
    method: str, url: str, body: bytes | None, region: str, headers: dict[str, str] | None = None
) -> urllib.request.Request:
    """``method url`` with ``headers`` and SigV4's (Authorization, X-Amz-Date, X-Amz-Security-Token);
    a body is JSON unless ``headers`` give its Content-Type."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise AdminCallError("no AWS credentials found (aws configure, AWS_PROFILE or the AWS_* variables)")
    headers = dict(headers or {})
    if body and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), SERVICE, region).add_auth(request)
    return urllib.request.Request(url, data=body or None, headers=dict(request.headers.items()), method=method)


def canonical_target(path: str) -> str:
    """``path`` with its query in SigV4's canonical form (each name and value percent-encoded,
    RFC 3986): botocore signs the query as it is given, while API Gateway checks the canonical
    form, so ``?assignee=sam@example.com`` must travel as ``?assignee=sam%40example.com``."""
    from urllib.parse import parse_qsl, quote, urlencode

    path = path if path.startswith("/") else "/" + path
    route, _, query = path.partition("?")
    if not query:
        return route
    pairs = parse_qsl(query, keep_blank_values=True)
    return f"{route}?{urlencode(pairs, quote_via=quote, safe='-_.~')}"


def call(method: str, base_url: str, path: str, body: bytes | None, region: str) -> Answer:
    url = base_url.rstrip("/") + canonical_target(path)
    if urlsplit(url).scheme not in ("https", "http"):
        raise AdminCallError(f"{url}: not an http(s) URL")
    request = signed_request(method.upper(), url, body, region)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers.items()), error.read())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", type=str.upper, choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    parser.add_argument("path", help="the path after the stage, with its query: '/tasks?assignee=...'")
    parser.add_argument("--data", help="the JSON body, or @file to read it from a file")
    parser.add_argument("--stack-name", default="automaps", help="the deployed stack (its AdminApiUrl output)")
    parser.add_argument("--url", help="the admin API's base URL instead of the stack's AdminApiUrl")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--include", "-i", action="store_true", help="print the status line first")


def run(args: argparse.Namespace) -> int:
    if args.region:
        os.environ["AWS_REGION"] = args.region
    import boto3

    region = args.region or boto3.Session().region_name or "us-east-1"  # (the profile's region, as the AWS CLI)
    data = args.data
    body = Path(data[1:]).read_bytes() if data and data.startswith("@") else (data.encode() if data else None)
    try:
        base = args.url or admin_url(args.stack_name)
        answer = call(args.method, base, args.path, body, region)
    except (AdminCallError, urllib.error.URLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.include:
        print(f"HTTP {answer.status}")
    sys.stdout.write(answer.body.decode(errors="replace"))
    if answer.body and not answer.body.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0 if 200 <= answer.status < 300 else 1
