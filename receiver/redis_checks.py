"""Startup checks of the Redis the receiver is given: will it keep what it is told to keep?"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)


class RedisNotDurable(Exception):
    """Redis may lose accepted events or replay claims, and durability is required."""


def durability_problems(client: redis.Redis) -> list[str]:
    """What makes this Redis unsafe for accepted events and replay claims (empty when safe)."""
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        return ["CONFIG GET is not allowed here, so appendonly and maxmemory-policy are unchecked"]
    problems = []
    if appendonly != "yes" and appendonly != b"yes":
        problems.append("appendonly is off: events accepted since the last snapshot can be lost")
    if policy not in ("noeviction", b"noeviction"):
        name = policy.decode() if isinstance(policy, bytes) else policy
        problems.append(
            f"maxmemory-policy is {name}: Redis may evict events or replay claims under memory "
            "pressure; use noeviction"
        )
    return problems


def check_durability(client: redis.Redis, *, require: bool) -> None:
    """Warn about each problem, or refuse to start when durability is required."""
    problems = durability_problems(client)
    if problems and require:
        raise RedisNotDurable("; ".join(problems))
    for problem in problems:
        log.warning("redis: %s", problem)
