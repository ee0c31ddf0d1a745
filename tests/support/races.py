"""Calls made at the same moment, from threads, as concurrent requests would make them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor


def at_once[T](
    act: Callable[[T], object],
    args: Sequence[T],
    outcomes: tuple[str, str],
    refusal: type[Exception],
    *,
    workers: int | None = None,
) -> list[str]:
    """`act` on each of `args`, in `workers` threads at once (one a call unless said): per call,
    in order, the first of `outcomes` where it returned and the second where it raised
    `refusal`."""
    done, refused = outcomes

    def attempt(arg: T) -> str:
        try:
            act(arg)
        except refusal:
            return refused
        return done

    with ThreadPoolExecutor(max_workers=workers or len(args)) as pool:
        return list(pool.map(attempt, args))
