"""fuzzlock's pytest plugin (registered through the ``pytest11`` entry point).

It registers fuzzlock's Hypothesis settings profiles and selects one per run:

* ``fuzzlock-quick``: a developer's run (default outside CI): ~50 examples, random.
* ``fuzzlock-ci``: CI (default when the ``CI`` environment variable is set): derandomized,
  no example database, ~100 examples; the same run on every machine.
* ``fuzzlock-campaign``: a long fuzzing campaign, 10 000 examples per test.

``--fuzzlock-profile NAME`` selects one explicitly. The profile is loaded in
``pytest_configure``, so Hypothesis's built-in ``ci`` profile (auto-loaded when ``CI`` is
set) never wins by accident. An explicit ``--hypothesis-profile`` without
``--fuzzlock-profile`` is left to Hypothesis.

Campaign settings: ``--fuzzlock-protocol`` (a protocol name, optionally with knob overrides
as in ``Protocol.name``: ``v6.19+walk.recheck_mapping=true``), ``--fuzzlock-backend``,
``--fuzzlock-budget`` (schedules per campaign test), ``--fuzzlock-seconds`` (a wall-clock
budget per campaign test instead: the test runs that long, however many schedules that is),
``--fuzzlock-seed`` and ``--fuzzlock-save-dir`` (where a failing campaign saves its
minimized entry; default ``fuzzlock-failures`` under pytest's cache directory).  Tests get
them through the ``fuzzlock_config`` fixture, whose ``seed_for(name)`` gives every xdist
worker and every pytest-repeat ``--count`` repetition its own deterministic seed (the seeds
a failing test drew are shown in its report), whose ``failure(result, what)`` saves a
campaign violation's entry and gives the failure message (the report, with a ``fuzzlock
replay`` command that replays the saved file), and whose ``report(result)`` records what a
campaign did as the test's ``user_properties`` (``fuzzlock_schedules``, ``fuzzlock_steps``,
``fuzzlock_seconds``, ``fuzzlock_cpu_seconds``, ``fuzzlock_t0``/``t1`` wall-clock start and
end, ``fuzzlock_worker``; ``--junitxml`` writes them out, which is how ``fuzzlock bench
--xdist`` counts the schedules of a ``-n 1`` and a ``-n 2`` run).

Corpus replay: every ``*.json`` file under a ``corpora/`` directory that pytest collects
(``pytest corpora``) is one test, named by its path, that replays the entry on
``--fuzzlock-backend`` and passes iff its recorded outcome reproduces with its recorded
trace (marker ``corpus``).  A malformed entry fails only its own test, with the one-line
error; a changed trace digest fails too (with the ``fuzzlock replay --re-record`` command
that accepts it), a changed model hash alone says nothing.  Whatever goes wrong, a corpus
item's failure is one paragraph, never a traceback.

Import cost matters (this module is imported by every pytest run in the environment): it
imports neither Hypothesis (until configure), the model, nor the native library.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fuzzlock import backends

if TYPE_CHECKING:
    from fuzzlock.protocol import Protocol

PROFILES = ("fuzzlock-quick", "fuzzlock-ci", "fuzzlock-campaign")
DEFAULT_PROTOCOL = "v6.19"
DEFAULT_BACKEND = None  # resolved on first use: native where the C model is built


def resolve_backend(config: pytest.Config) -> str:
    """``--fuzzlock-backend``, or native where the C model is built, else python (docs/design.md#backends:
    default; the library is loaded only here, not at plugin import)."""
    chosen = config.getoption("fuzzlock_backend")
    if chosen:
        return str(chosen)
    return backends.default_name()


DEFAULT_BUDGET = 200
#: A campaign test's time cap when it runs a schedule budget (``--fuzzlock-budget``).
CAMPAIGN_CAP_SECONDS = 120.0
CORPUS_DIR = "corpora"
#: the default ``--fuzzlock-save-dir``: this directory under pytest's cache (``cache.mkdir``)
SAVE_CACHE_DIR = "fuzzlock-failures"
REPEAT_PARAM = "__pytest_repeat_step_number"  # pytest-repeat's parameter

_profile_key = pytest.StashKey[str]()


def register_profiles() -> None:
    """Register fuzzlock's Hypothesis profiles (idempotent).

    Each profile's parent is Hypothesis's built-in ``default`` profile: without an explicit
    parent a profile inherits whatever profile is current, and with ``CI`` set that is
    Hypothesis's ``ci`` profile (derandomize=True, no database), which would silently turn
    every campaign into the same fixed examples.
    """
    from hypothesis import HealthCheck, settings

    base = settings.get_profile("default")
    settings.register_profile(
        "fuzzlock-quick",
        parent=base,
        max_examples=50,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzzlock-ci",
        parent=base,
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzzlock-campaign",
        parent=base,
        max_examples=10_000,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )


def default_profile() -> str:
    """fuzzlock-ci if the CI environment variable is set (and not false), else fuzzlock-quick."""
    ci = os.environ.get("CI", "").strip().lower()
    return "fuzzlock-ci" if ci not in ("", "0", "false", "no") else "fuzzlock-quick"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fuzzlock")
    group.addoption(
        "--fuzzlock-profile",
        dest="fuzzlock_profile",
        choices=PROFILES,
        default=None,
        help="Hypothesis settings profile to load (default: fuzzlock-ci if $CI is set, "
        "else fuzzlock-quick).",
    )
    group.addoption(
        "--fuzzlock-protocol",
        dest="fuzzlock_protocol",
        default=DEFAULT_PROTOCOL,
        metavar="NAME",
        help="protocol for campaign tests: a name (v6.18, v6.19, patch2-only, patch1-only), "
        f"optionally +KNOB=VALUE... (default: {DEFAULT_PROTOCOL}).",
    )
    group.addoption(
        "--fuzzlock-backend",
        dest="fuzzlock_backend",
        default=DEFAULT_BACKEND,
        # no argparse choices: a backend a conftest.py registers exists only after the
        # plugin's options are parsed (checked in pytest_configure)
        help="backend for campaigns and corpus replay: "
        f"{', '.join(backends.names())} or one a conftest.py registers "
        "(default: native where the C model is built, else python).",
    )
    group.addoption(
        "--fuzzlock-budget",
        dest="fuzzlock_budget",
        type=_positive_int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"schedules per campaign test (default: {DEFAULT_BUDGET}).",
    )
    group.addoption(
        "--fuzzlock-seconds",
        dest="fuzzlock_seconds",
        type=_positive_float,
        default=None,
        metavar="S",
        help="wall-clock seconds per campaign test, instead of --fuzzlock-budget schedules "
        f"(default: the budget, capped at {CAMPAIGN_CAP_SECONDS:.0f} s).",
    )
    group.addoption(
        "--fuzzlock-seed",
        dest="fuzzlock_seed",
        type=int,
        default=0,
        metavar="N",
        help="base seed; each xdist worker and --count repetition derives its own (default: 0).",
    )
    group.addoption(
        "--fuzzlock-save-dir",
        dest="fuzzlock_save_dir",
        default=None,
        metavar="DIR",
        help="where a failing campaign test saves its minimized corpus entry, as "
        f"DIR/<protocol>/<digest>.json (default: {SAVE_CACHE_DIR} under pytest's cache "
        "directory, .pytest_cache/d/; the system temp directory with -p no:cacheprovider).",
    )


def _positive_int(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _positive_float(text: str) -> float:
    import argparse
    import math

    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (x > 0 and math.isfinite(x)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return x


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    register_profiles()
    name = config.getoption("fuzzlock_profile")
    if name is None and config.getoption("hypothesis_profile", default=None):
        name = config.getoption("hypothesis_profile")  # the user's explicit Hypothesis choice
    else:
        name = name or default_profile()
        settings.load_profile(name)
    config.stash[_profile_key] = name
    config.addinivalue_line(
        "markers", "corpus: replays one corpus entry (collected from corpora/**/*.json)"
    )
    config.addinivalue_line("markers", "campaign: a fuzzing campaign (fuzzlock_config)")
    from fuzzlock.protocol import ProtocolError

    try:
        parse_protocol(config.getoption("fuzzlock_protocol"))
    except ProtocolError as e:
        raise pytest.UsageError(f"--fuzzlock-protocol: {e}") from None
    chosen = config.getoption("fuzzlock_backend")
    if chosen and chosen not in backends.names():
        raise pytest.UsageError(
            f"--fuzzlock-backend: unknown backend {chosen!r} (registered: "
            f"{', '.join(backends.names())}; a conftest.py adds one with "
            "fuzzlock.backends.register)"
        )


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"fuzzlock: hypothesis profile {config.stash.get(_profile_key, '?')}, "
        f"protocol {config.getoption('fuzzlock_protocol')}, "
        f"backend {config.getoption('fuzzlock_backend')}, "
        f"budget {config.getoption('fuzzlock_budget')}, "
        f"seconds {config.getoption('fuzzlock_seconds')}, seed {config.getoption('fuzzlock_seed')}"
    )


def parse_protocol(name: str) -> Protocol:
    """``v6.19`` or ``v6.19+KNOB=VALUE+...`` (the form of ``Protocol.name``) as a Protocol."""
    from fuzzlock import protocol

    return protocol.parse(name)


# --------------------------------------------------------------------------- campaign config

_SEED_MASK = (1 << 63) - 1


@dataclasses.dataclass(frozen=True)
class FuzzlockConfig:
    """The campaign settings a test sees (fixture ``fuzzlock_config``).

    A frozen dataclass rather than an attrs class: this module is imported by every pytest
    run in the environment and attrs costs ~17 ms to import."""

    protocol: str
    backend: str
    budget: int
    seed: int
    worker: int = 0  # xdist worker index (gw3 -> 3), 0 without xdist
    repeat: int = 0  # pytest-repeat step (0 .. --count-1), 0 without --count
    record: Callable[[str, int], None] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    seconds: float | None = None  # --fuzzlock-seconds: a time budget instead of ``budget``
    record_property: Callable[[str, object], None] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    # the directory a failing campaign saves its entry under (made on first use)
    save_root: Callable[[], Path] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    @property
    def max_seconds(self) -> float:
        """The ``max_seconds`` of a campaign test's hunt."""
        return self.seconds if self.seconds is not None else CAMPAIGN_CAP_SECONDS

    @property
    def max_schedules(self) -> int | None:
        """The ``max_schedules`` of a campaign test's hunt (None under a time budget)."""
        return None if self.seconds is not None else self.budget

    def spent(self, result: Any) -> bool:
        """True iff a clean hunt ``result`` (``campaign.HuntResult``) used up its budget."""
        if self.seconds is not None:
            return bool(result.seconds >= self.seconds)
        return bool(result.schedules == self.budget or result.seconds >= self.max_seconds)

    def report(self, result: Any) -> None:
        """Record what a campaign's hunt (``campaign.HuntResult``) did on the test."""
        if self.record_property is None:
            return
        import time

        t1 = time.time()
        for k, v in (
            ("schedules", result.schedules),
            ("steps", result.steps),
            ("seconds", round(result.seconds, 4)),
            ("cpu_seconds", round(getattr(result, "cpu_seconds", 0.0), 4)),
            ("t0", round(t1 - result.seconds, 4)),
            ("t1", round(t1, 4)),
            ("worker", self.worker),
        ):
            self.record_property(f"fuzzlock_{k}", v)

    def seed_for(self, name: str) -> int:
        """A deterministic 63-bit seed for ``name`` in this worker and repetition.

        For one ``name`` and base seed, distinct (worker, repeat) pairs always give distinct
        seeds (worker < 2**31, repeat < 2**32); distinct names differ by a hash."""
        h = hashlib.sha256(f"fuzzlock-seed\0{self.seed}\0{name}".encode()).digest()
        base = int.from_bytes(h[:8], "big") & _SEED_MASK
        s = (base ^ ((self.worker << 32) | self.repeat)) & _SEED_MASK
        if self.record is not None:
            self.record(name, s)
        return s

    def get_protocol(self) -> Protocol:
        """The Protocol object (imports fuzzlock.protocol)."""
        return parse_protocol(self.protocol)

    def failure(self, result: Any, what: str) -> str:
        """The failure message of a campaign whose hunt ``result`` (``campaign.HuntResult``)
        found a violation: ``what`` found it, then its report whose ``replay:`` line is a
        ``fuzzlock replay`` command that replays the entry, saved under ``save_root()``.
        If the entry cannot be saved the message says why and holds the entry itself, so
        the finding is never lost."""
        head = f"{what} found {result.invariant} on {result.protocol.name}"
        entry = result.entry
        if entry is None:  # a differential result: the report says what differed
            return f"{head}:\n\n{result.report}"
        from fuzzlock import corpus, model, report
        from fuzzlock.corpus import store

        try:
            if self.save_root is None:
                raise OSError("no directory to save to")
            kept = store.save_entry(self.save_root(), entry)
        except (OSError, corpus.CorpusError) as e:
            cmd = None
            saved = f"could not save the entry ({e}); the entry:\n{entry.dumps()}"
        else:
            cmd = replay_command(kept.path, self.backend)
            saved = kept.message.replace(str(kept.path), _shown(kept.path))
        r = model.run(entry.scenario, entry.protocol, decisions=entry.decisions)
        text = report.render_text(
            r.result, protocol=entry.protocol.name, replay=cmd or "(not saved: see below)"
        )
        return f"{head}:\n\n{text}\n{saved}"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory if it is under it, else absolute."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def replay_command(path: Path, backend: str) -> str:
    """The shell command that replays the entry saved at ``path`` on ``backend``."""
    import shlex

    return f"fuzzlock replay --backend {backend} {shlex.quote(_shown(path))}"


def save_root(config: pytest.Config) -> Path:
    """``--fuzzlock-save-dir``, else ``fuzzlock-failures`` under pytest's cache directory
    (made here), else (``-p no:cacheprovider``) under the system temp directory."""
    chosen = config.getoption("fuzzlock_save_dir")
    if chosen:
        return config.invocation_params.dir / chosen  # as given on the command line
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir(SAVE_CACHE_DIR))
    import tempfile

    return Path(tempfile.gettempdir()) / SAVE_CACHE_DIR


def worker_index(config: pytest.Config | None = None) -> int:
    """The xdist worker's index (``gw3`` -> 3), or 0 outside xdist."""
    wid = os.environ.get("PYTEST_XDIST_WORKER")
    if wid is None and config is not None:
        wid = getattr(config, "workerinput", {}).get("workerid")
    m = re.fullmatch(r"gw(\d+)", wid or "")
    return int(m.group(1)) if m else 0


def repeat_index(node: pytest.Item | Any) -> int:
    """The pytest-repeat step number of ``node`` (0 .. --count-1), or 0."""
    callspec = getattr(node, "callspec", None)
    if callspec is None:
        return 0
    step = callspec.params.get(REPEAT_PARAM, 0)
    return step if isinstance(step, int) else 0


@pytest.fixture
def fuzzlock_config(request: pytest.FixtureRequest) -> FuzzlockConfig:
    """Campaign settings from the command line, with this worker's and repetition's index."""
    config = request.config
    node = request.node

    def record(name: str, seed: int) -> None:
        node.user_properties.append(("fuzzlock_seed", f"{name}={seed}"))

    def record_property(name: str, value: object) -> None:
        node.user_properties.append((name, value))

    return FuzzlockConfig(
        protocol=config.getoption("fuzzlock_protocol"),
        backend=resolve_backend(config),
        budget=config.getoption("fuzzlock_budget"),
        seed=config.getoption("fuzzlock_seed"),
        worker=worker_index(config),
        repeat=repeat_index(node),
        record=record,
        seconds=config.getoption("fuzzlock_seconds"),
        record_property=record_property,
        save_root=lambda: save_root(config),
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the seeds a failing test drew through ``fuzzlock_config.seed_for``."""
    report = yield
    if report.failed:
        seeds = [str(v) for k, v in item.user_properties if k == "fuzzlock_seed"]
        if seeds:
            w, r = worker_index(item.config), repeat_index(item)
            report.sections.append(
                ("fuzzlock", f"seeds drawn (worker {w}, repeat {r}): " + ", ".join(seeds))
            )
    return report


# --------------------------------------------------------------------------- corpus replay


class CorpusReplayError(Exception):
    """An entry did not reproduce (or could not be replayed); the message is one line."""


def _in_corpora(path: Path, rootpath: Path) -> bool:
    try:
        parts = path.relative_to(rootpath).parts
    except ValueError:
        parts = path.parts
    return CORPUS_DIR in parts[:-1]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CorpusFile | None:
    if file_path.suffix == ".json" and _in_corpora(file_path, parent.config.rootpath):
        return CorpusFile.from_parent(parent, path=file_path)
    return None


class CorpusFile(pytest.File):
    """One corpus entry file: collects one ``CorpusItem`` (the file is read when it runs,
    so a malformed file fails its own test instead of breaking collection)."""

    def collect(self) -> Iterator[CorpusItem]:
        item = CorpusItem.from_parent(self, name=self.nodeid, nodeid=self.nodeid)
        item.add_marker("corpus")
        yield item


class CorpusItem(pytest.Item):
    """Replays one corpus entry; named (and identified) by the file's relative path."""

    def runtest(self) -> None:
        from fuzzlock import corpus
        from fuzzlock.corpus import replaying

        entry = corpus.load_entry(self.path, source=self.name)
        backend = resolve_backend(self.config)
        try:
            r = replaying.replay(entry, backend=backend)
        except NotImplementedError as e:
            raise CorpusReplayError(f"{self.name}: backend {backend}: {e}") from None
        self.user_properties.append(("fuzzlock_replay", r.message))
        if not r.ok:
            hint = ""
            if r.reproduced:  # only the trace changed
                hint = f"; if that is intended: fuzzlock replay --re-record {self.name}"
            raise CorpusReplayError(f"{self.name}: {r.message}{hint}")

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        from fuzzlock.corpus import CorpusError

        err = excinfo.value
        if isinstance(err, (CorpusReplayError, CorpusError)):
            return str(err)
        if not isinstance(err, Exception):  # KeyboardInterrupt and the like: pytest's own
            return super().repr_failure(excinfo, style=style)
        # A bug in fuzzlock, not in the entry: one paragraph naming where, not a traceback
        # through the model (the same replay with `fuzzlock replay` shows the exception).
        tb = excinfo.traceback[-1] if excinfo.traceback else None
        where = f" at {tb.path}:{tb.lineno + 1}" if tb is not None else ""
        msg = " ".join(str(err).split())
        return (
            f"{self.name}: replaying the entry raised {type(err).__name__}: {msg}{where} "
            f"(a fuzzlock bug: the entry passed validation; backend "
            f"{resolve_backend(self.config)})"
        )

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"corpus entry {self.name}"
