"""Seed corpora/: a minimized counterexample for every single-knob setting the fuzzer
finds buggy, the kernel finding on the plain protocols, and clean regression entries.

    python scripts/seed_corpus.py [--seconds S] [--out corpora]

Each knob value off v6.18 and off v6.19 (both with ``move.reset_err_on_retry=true``, so
the knob is the only difference) is hunted with the random strategy for S seconds; a
violation is minimized and saved with a one-line note.  Settings never caught are listed
at the end (issue 7 asks why).
"""

from __future__ import annotations

import argparse
import random

from fuzzlock import campaign, corpus, model, protocol, scenarios
from fuzzlock.corpus import store
from fuzzlock.sched import RandomChooser

FIX = {"move.reset_err_on_retry": True}


def save(out: str, res: campaign.HuntResult, note: str) -> None:
    res.entry.note = note
    path = store.write_entry(out, res.entry)
    print(f"  saved {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", default="corpora")
    args = ap.parse_args()
    never: list[str] = []
    settings: list[tuple[str, dict[str, object]]] = [("patch2-only", dict(FIX))]
    for base in ("v6.18", "v6.19"):
        for k in protocol.knobs():
            if k.name == "move.reset_err_on_retry":
                continue
            for v in k.values:
                if v != protocol.get(base).knobs[k.name]:
                    settings.append((base, {**FIX, k.name: v}))
    for base, knobs in settings:
        proto = protocol.get(base, knobs)
        res = campaign.hunt(proto, strategy="random", max_seconds=args.seconds, seed=1)
        print(f"{proto.name}: {res.verdict} {res.invariant or ''} after {res.schedules} schedules")
        if res.entry is None:
            never.append(proto.name)
            continue
        changed = [f"{k}={v}" for k, v in proto.overrides if k != "move.reset_err_on_retry"]
        what = ", ".join(changed) or "patch 2 without patch 1"
        save(args.out, res, f"{what}: {res.invariant} ({res.schedules} schedules to find)")
    for base in ("v6.18", "v6.19"):
        res = campaign.hunt(protocol.get(base), strategy="random", max_seconds=args.seconds, seed=1)
        if res.entry is not None:
            save(
                args.out,
                res,
                f"kernel finding on plain {base}: move_pages' sticky -EAGAIN "
                "makes a move that moved its page return an error (docs/kernel-notes/move.md)",
            )
    # clean regression entries: a few random schedules of each family on the real protocols
    rng = random.Random(7)
    for base in ("v6.18", "v6.19"):
        proto = protocol.get(base, FIX)
        for fam in scenarios.FAMILIES:
            sc = scenarios.gen_scenario(scenarios.RandomSource(rng), fam)
            r = model.run(sc, proto, chooser=RandomChooser(rng.randrange(2**32), 0.3))
            if r.outcome != "finished":
                print(f"  {base} {fam}: {r.outcome} (not clean!)")
                continue
            e = corpus.entry_from_run(
                sc, proto, r, strategy="random", note=f"clean {fam} regression"
            )
            print(f"  saved {store.write_entry(args.out, e)}")
    if never:
        print("never caught within the budget:")
        for n in never:
            print(f"  {n}")


if __name__ == "__main__":
    main()
