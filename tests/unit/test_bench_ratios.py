"""benchmarks/load.py's ratio tables: the figure issue 15's targets are read from.

The rounds of a run are interleaved (psc-idp, then node-oidc-provider, per round), so the
k-th measurement of one is paired with the k-th of the other; the table shows the ratio of
the medians with the lowest and highest round ratios, and the server-CPU ratio."""

from __future__ import annotations

from benchmarks.load import RunResult, markdown, ratio_table, round_ratios

NODE = "node-oidc-provider"


def _runs() -> list[RunResult]:
    # three rounds at N=4; the machine slows down in round 2 (both servers lose)
    figures = [(100.0, 12.0, 200.0, 4.0), (80.0, 14.0, 140.0, 5.0), (90.0, 13.0, 150.0, 4.5)]
    runs = []
    for psc_rate, psc_cpu, node_rate, node_cpu in figures:
        runs.append(RunResult("psc-idp", 4, flows=100, flows_per_s=psc_rate, p50_ms=40,
                              p95_ms=60, server_cpu_ms_per_flow=psc_cpu))
        runs.append(RunResult(NODE, 4, flows=100, flows_per_s=node_rate, p50_ms=20, p95_ms=30,
                              server_cpu_ms_per_flow=node_cpu))
    return runs


def test_round_ratios_pair_each_round_with_its_neighbour():
    assert round_ratios(_runs(), 4) == [0.5, 0.571, 0.6]
    assert round_ratios(_runs(), 16) == []


def test_the_ratio_of_the_medians_for_flows_and_server_cpu():
    assert ratio_table(_runs(), [4]) == {4: 0.6}  # median 90 / median 150
    assert ratio_table(_runs(), [4], field="server_cpu_ms_per_flow") == {4: 2.889}  # 13 / 4.5


def test_the_markdown_table_shows_the_spread_and_the_cpu_ratio():
    table = markdown(_runs(), [4], rounds=3)
    row = next(line for line in table.splitlines() if line.startswith("| 4 | 0.60×"))
    assert row == "| 4 | 0.60× (0.50–0.60) | – | – | 2.89× |"
    assert "lowest and highest of the round-by-round ratios" in table
    single = markdown(_runs()[:2], [4], rounds=1)
    assert "| 4 | 0.50× | – | – | 3.00× |" in single.splitlines()
