"""How much of a --max-cost cap a run spends, against a scripted endpoint at fixed prices.

    uv run python bench/budget.py

Each scenario runs `arcnb run` (in process) on 24 small tasks x 8 attempts against the scripted
server, every answer reporting the same usage, and prints the cap, what the run's records say
was spent (and its fraction of the cap), the requests sent and the largest number in flight
at once (from the server's arrival times and the scripted delay). Scenarios: a cap worth 25
requests at 4, 16 and 64 workers; one worth 100 requests; and the issue's case, an expensive
reasoning model (15 / 60 USD per million tokens, 40,000 max tokens, answers of 8,000) with a
$10 cap and 16 workers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from arcfixtures import WRONG, make_tasks  # noqa: E402
from scripted_server import ScriptedServer  # noqa: E402

from arcnb import run_eval  # noqa: E402
from arcnb.logs import read_attempts  # noqa: E402

DELAY_S = 0.05  # the endpoint's answer time


def scenario(name: str, *, usage: dict, prices: tuple[float, float], cap: float | None = None,
             requests: float | None = None, workers: int = 16, max_tokens: int | None = None,
             ) -> None:  # fmt: skip
    per_request = (
        usage["prompt_tokens"] * prices[0] + usage["completion_tokens"] * prices[1]
    ) / 1e6
    cap = cap if cap is not None else round(requests * per_request, 6)
    root = Path(tempfile.mkdtemp(prefix="arcnb-bench-budget-"))
    make_tasks(root / "tasks", [f"t{i:02}" for i in range(24)])
    script = {"default": {"content": WRONG, "usage": usage, "delay": DELAY_S}}
    os.chdir(root)
    with ScriptedServer(script) as server:
        run_eval(
            dataset=str(root / "tasks"), subset="all_evaluation", model="scripted",
            base_url=server.base_url, output_dir=str(root / "logs"), progress=False,
            max_attempts=8, max_workers=workers, price_in=prices[0], price_out=prices[1],
            max_cost=cap, max_tokens=max_tokens, exec_timeout=5.0,
        )  # fmt: skip
        arrivals = sorted(r["_t"] for r in server.requests)
    spent = sum(r["cost_usd"] or 0.0 for r in read_attempts(next((root / "logs").iterdir())))
    peak = max((sum(1 for u in arrivals if t <= u < t + DELAY_S) for t in arrivals), default=0)
    print(
        f"{name:<44} cap ${cap:<8.4g} spent ${spent:<8.4g} {100 * spent / cap:5.1f}%  "
        f"requests {len(arrivals):>3} (${per_request:.4g} each)  peak in flight ~{peak}"
    )


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "bench-key-not-sent-0123456789")
    small = {"prompt_tokens": 3000, "completion_tokens": 1000}
    for workers in (4, 16, 64):
        scenario(f"25 requests' worth, {workers} workers", usage=small, prices=(2.0, 8.0),
                 requests=25, workers=workers)  # fmt: skip
    scenario("100 requests' worth, 16 workers", usage=small, prices=(2.0, 8.0), requests=100)
    scenario("$10, reasoning model, 40k max tokens", cap=10.0, max_tokens=40_000,
             usage={"prompt_tokens": 3000, "completion_tokens": 8000}, prices=(15.0, 60.0))  # fmt: skip


if __name__ == "__main__":
    main()
