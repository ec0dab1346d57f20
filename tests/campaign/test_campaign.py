"""Campaign tests (marker ``campaign``): one hunt per strategy on ``--fuzzlock-protocol``.

A violation fails the test with its report and a ``fuzzlock replay`` command for the entry,
saved under ``--fuzzlock-save-dir`` (``FuzzlockConfig.failure``), unless it is a recorded
kernel finding (``fuzzlock.findings``, matched on the minimized trace's signature, not on
the invariant id): then the test is an xfail naming the finding and its docs page.
"""

from __future__ import annotations

from typing import Any

import pytest

from fuzzlock import campaign


def hunt(proto: Any, strategy: str, seed: int, config: Any) -> campaign.HuntResult:
    """One campaign hunt with the plugin's backend and budget; its progress is reported."""
    res = campaign.hunt(
        proto,
        backend=config.backend,
        strategy=strategy,
        max_seconds=config.max_seconds,
        max_schedules=config.max_schedules,
        seed=seed,
    )
    config.report(res)
    return res


def xfail_if_known(res: campaign.HuntResult, seed: int) -> None:
    """A violation that is a recorded kernel finding is an xfail naming it; anything else
    returns (and the caller fails)."""
    m = res.finding
    if m is not None:
        pytest.xfail(
            f"known kernel finding {m.finding.id} ({m.finding.doc}): {m.evidence}; seed {seed}"
        )


@pytest.mark.campaign
@pytest.mark.parametrize("strategy", ["hypothesis", "random", "pct"])
def test_campaign_finds_no_unknown_violation(strategy: str, fuzzlock_config) -> None:  # type: ignore[no-untyped-def]
    proto = fuzzlock_config.get_protocol()
    seed = fuzzlock_config.seed_for(strategy)
    res = hunt(proto, strategy, seed, fuzzlock_config)
    if res.verdict == "clean":
        assert fuzzlock_config.spent(res)
        return
    xfail_if_known(res, seed)
    pytest.fail(fuzzlock_config.failure(res, f"{strategy} (seed {seed})"), pytrace=False)


@pytest.mark.campaign
@pytest.mark.parametrize("strategy", ["hypothesis", "random", "pct"])
def test_campaign_with_the_sticky_eagain_fix_finds_nothing(strategy: str, fuzzlock_config) -> None:  # type: ignore[no-untyped-def]
    """The same campaign with the later upstream fix of the known kernel finding applied
    (``move.reset_err_on_retry=true``), so it searches past that bug: no escape here, apart
    from kernel findings recorded for the fixed protocol itself (v6.18 has one:
    docs/findings/swap-move-unlocked-walker.md), which are an xfail naming the finding."""
    from fuzzlock import protocol

    base = fuzzlock_config.get_protocol()
    proto = protocol.get(base.base, {**dict(base.overrides), "move.reset_err_on_retry": True})
    seed = fuzzlock_config.seed_for("fixed-" + strategy)
    res = hunt(proto, strategy, seed, fuzzlock_config)
    if res.verdict == "clean":
        return
    xfail_if_known(res, seed)
    pytest.fail(fuzzlock_config.failure(res, f"{strategy} (seed {seed})"), pytrace=False)
