"""The API Gateway HTTP API of template.yaml, emulated: payload-2.0 events built from a request
(`events`), route selection (`routing`), the Lambda authorizer then the function (`gateway`), over
any invoker of functions (`invocation`).

One implementation for every caller: the local stack (`infra.local`) serves it over real HTTP,
the tests (through `tests/support`) call it in process, the bench times it.
"""
