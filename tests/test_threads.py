"""Thread counts that do not oversubscribe a shared CPU, and OpenMP threads that sleep while they wait."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nucgan
from nucgan import threads


def test_the_choice_follows_flag_then_environment_then_the_cpus(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0.0)  # whatever else this machine runs now
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.pick_threads(5) == (5, "--threads")
    assert threads.pick_threads(0) == (3, "OMP_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert threads.pick_threads(0)[0] == threads.available_cpus()
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    quota = tmp_path / "cpu.max"
    quota.write_text("250000 100000\n")  # 2.5 CPUs
    monkeypatch.setattr(threads, "CGROUP_V2", quota)
    assert threads.cgroup_cpus(quota) == 2.5
    assert threads.pick_threads(0) == (2, "the CPUs this process may use")
    quota.write_text("max 100000\n")
    assert threads.pick_threads(0)[0] == 8
    monkeypatch.setattr(threads, "busy_cpus", lambda: 2.6)  # another job keeps about 3 cores busy
    assert threads.pick_threads(0) == (5, "3 of 8 CPU(s) busy with other work")
    monkeypatch.setattr(threads, "busy_cpus", lambda: 9.0)
    assert threads.pick_threads(0)[0] == 1  # never fewer than one
    with pytest.raises(nucgan.InputError, match="--threads must be >= 0"):
        threads.pick_threads(-1)


def test_cgroup_v1_quota_and_no_quota(tmp_path: Path) -> None:
    q, p = tmp_path / "q", tmp_path / "p"
    q.write_text("150000\n"), p.write_text("100000\n")
    assert threads.cgroup_cpus(tmp_path / "none", (q, p)) == 1.5
    q.write_text("-1\n")
    assert threads.cgroup_cpus(tmp_path / "none", (q, p)) is None


def test_the_cli_makes_openmp_threads_passive_unless_told_otherwise() -> None:
    code = "import os, nucgan.cli as c, sys; sys.argv=['nucgan','--version']\ntry: c.main()\nexcept SystemExit: pass\nprint(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-1] == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "OMP_WAIT_POLICY": "ACTIVE"}, check=True)
    assert out.stdout.split()[-1] == "ACTIVE"


def test_busy_cpus_reads_the_machines_share_of_non_idle_time(tmp_path: Path, monkeypatch) -> None:
    stat = tmp_path / "stat"
    samples = iter(["cpu  100 0 100 800 0 0 0 0 0 0\n", "cpu  150 0 150 900 0 0 0 0 0 0\n"])
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: next(samples))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert threads.busy_cpus(0.0, stat) == pytest.approx(0.5 * 4)  # 100 busy of 200 ticks
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "garbage")
    assert threads.busy_cpus(0.0, stat) == 0.0
