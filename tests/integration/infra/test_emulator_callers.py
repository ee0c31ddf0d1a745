"""The local AWS emulator answers SDKs on this machine, never a web page: a browser's request
(it carries an Origin) and a DNS-rebound one (another Host) are refused before moto sees them."""

from __future__ import annotations

import requests

from infra.local.aws import AwsEndpoint

_LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
}


def test_a_browsers_preflight_and_request_are_refused(aws: AwsEndpoint) -> None:
    # When a page of another site asks the emulator, as a browser would
    preflight = requests.options(
        aws.url,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    request = requests.post(
        aws.url, headers={**_LIST_TABLES, "Origin": "https://evil.example"}, data="{}", timeout=5
    )
    # Then neither reaches moto, and no CORS header lets the page read anything
    for refused in (preflight, request):
        assert refused.status_code == 403
        assert "Access-Control-Allow-Origin" not in refused.headers


def test_a_request_naming_another_host_is_refused_and_the_sdk_is_answered(
    aws: AwsEndpoint,
) -> None:
    # When a request names a host that is not this machine (a rebound DNS name)
    rebound = requests.post(
        aws.url, headers={**_LIST_TABLES, "Host": "rebound.evil.example"}, data="{}", timeout=5
    )
    # Then it is refused, while the SDK's own request is answered
    assert rebound.status_code == 403
    assert isinstance(aws.client("dynamodb").list_tables()["TableNames"], list)
